/**
 * Internal storage: files that flow between tasks and executions, addressed by `lanner:///…`
 * URIs whose path is tenant/namespace/flow/execution/… . Implementations: local filesystem, S3.
 */
export interface Storage {
  /** Writes `data` at `path` (relative, `/`-separated), replacing any file there; returns its URI. */
  put(path: string, data: Uint8Array | AsyncIterable<Uint8Array> | NodeJS.ReadableStream): Promise<string>;
  /** Opens the file behind `uri` (or path); rejects with code `STORAGE_NOT_FOUND` when absent. */
  get(uriOrPath: string): Promise<NodeJS.ReadableStream>;
  /** True when a file exists at `uri` (or path). */
  exists(uriOrPath: string): Promise<boolean>;
  /** Deletes the file; true when something was deleted. */
  delete(uriOrPath: string): Promise<boolean>;
  /** Lists the URIs under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
}
