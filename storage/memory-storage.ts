import { Readable } from "node:stream";
import { LannerError } from "../common/errors.js";
import type { Storage } from "./storage.js";
import { storageSegments, storageUri } from "./paths.js";

/**
 * Internal storage held in memory, for unit tests. Same path rules and errors as LocalStorage
 * (the storage contract suite runs against both).
 */
export class MemoryStorage implements Storage {
  private readonly files = new Map<string, Uint8Array>();

  private key(uriOrPath: string): string {
    return storageSegments(uriOrPath).join("/");
  }

  async put(path: string, data: Uint8Array | AsyncIterable<Uint8Array> | NodeJS.ReadableStream): Promise<string> {
    const segments = storageSegments(path);
    const key = segments.join("/");
    // A file cannot also be a directory, as on a filesystem.
    for (const k of this.files.keys()) {
      if (k.startsWith(`${key}/`) || key.startsWith(`${k}/`)) {
        throw new LannerError("STORAGE_PATH_INVALID", `invalid storage path ${JSON.stringify(path)}: a file and a directory would share a name`);
      }
    }
    let bytes: Uint8Array;
    if (data instanceof Uint8Array) {
      bytes = Uint8Array.from(data);
    } else {
      const chunks: Buffer[] = [];
      for await (const chunk of data as AsyncIterable<Uint8Array | string>) {
        chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk));
      }
      bytes = new Uint8Array(Buffer.concat(chunks));
    }
    this.files.set(key, bytes);
    return storageUri(segments);
  }

  async get(uriOrPath: string): Promise<NodeJS.ReadableStream> {
    const bytes = this.files.get(this.key(uriOrPath));
    if (bytes === undefined) throw new LannerError("STORAGE_NOT_FOUND", `no file at ${uriOrPath} in internal storage`);
    return Readable.from([Buffer.from(bytes)]);
  }

  async exists(uriOrPath: string): Promise<boolean> {
    return this.files.has(this.key(uriOrPath));
  }

  async delete(uriOrPath: string): Promise<boolean> {
    return this.files.delete(this.key(uriOrPath));
  }

  async list(prefix: string): Promise<string[]> {
    const segments = storageSegments(prefix, { allowEmpty: true });
    const base = segments.join("/");
    const out: string[] = [];
    for (const k of this.files.keys()) {
      if (base === "" || k.startsWith(`${base}/`)) out.push(storageUri(k.split("/")));
    }
    return out.sort();
  }
}
