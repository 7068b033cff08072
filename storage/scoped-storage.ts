import { LannerError } from "../common/errors.js";
import type { Storage } from "./storage.js";
import { STORAGE_SCHEME, storageSegments, storageUri } from "./paths.js";

/**
 * A view of a Storage for one execution (what a task's RunContext gets).
 * - A relative path resolves under `prefix` (the execution's directory).
 * - A `lanner:///` URI may be read (get, exists, list) anywhere in the same tenant, because
 *   files travel between executions (subflow outputs, file inputs); a URI in another tenant is
 *   refused with `STORAGE_ACCESS_DENIED`.
 * - Writes and deletes stay under `prefix`, whatever form the path takes.
 */
export class ScopedStorage implements Storage {
  private readonly prefixSegments: string[];
  private readonly tenantId: string;

  /** `prefix` is the execution's path (see `executionPrefix`); its first segment is the tenant. */
  constructor(
    private readonly inner: Storage,
    prefix: string,
  ) {
    this.prefixSegments = storageSegments(prefix);
    this.tenantId = this.prefixSegments[0];
  }

  /** The URI of the scope's root, e.g. for building output URIs. */
  get rootUri(): string {
    return storageUri(this.prefixSegments);
  }

  private resolve(uriOrPath: string, opts: { write: boolean; allowEmpty?: boolean }): string[] {
    if (uriOrPath.startsWith(STORAGE_SCHEME)) {
      const segments = storageSegments(uriOrPath, { allowEmpty: opts.allowEmpty });
      if (segments[0] !== this.tenantId) {
        throw new LannerError("STORAGE_ACCESS_DENIED", `${uriOrPath} belongs to another tenant`);
      }
      if (opts.write && !this.underPrefix(segments)) {
        throw new LannerError("STORAGE_ACCESS_DENIED", `${uriOrPath} is outside this execution's storage; a task writes only its own files`);
      }
      return segments;
    }
    return [...this.prefixSegments, ...storageSegments(uriOrPath, { allowEmpty: opts.allowEmpty })];
  }

  private underPrefix(segments: string[]): boolean {
    return segments.length > this.prefixSegments.length && this.prefixSegments.every((s, i) => segments[i] === s);
  }

  async put(path: string, data: Uint8Array | AsyncIterable<Uint8Array> | NodeJS.ReadableStream): Promise<string> {
    return this.inner.put(this.resolve(path, { write: true }).join("/"), data);
  }

  async get(uriOrPath: string): Promise<NodeJS.ReadableStream> {
    return this.inner.get(this.resolve(uriOrPath, { write: false }).join("/"));
  }

  async exists(uriOrPath: string): Promise<boolean> {
    return this.inner.exists(this.resolve(uriOrPath, { write: false }).join("/"));
  }

  async delete(uriOrPath: string): Promise<boolean> {
    return this.inner.delete(this.resolve(uriOrPath, { write: true }).join("/"));
  }

  async list(prefix: string): Promise<string[]> {
    return this.inner.list(this.resolve(prefix, { write: false, allowEmpty: true }).join("/"));
  }
}
