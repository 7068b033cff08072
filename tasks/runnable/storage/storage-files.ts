import { randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { LannerError } from "../../../common/errors.js";
import type { Task } from "../../../schemas/flow-types.js";
import { isStorageUri, storageSegments, STORAGE_SCHEME } from "../../../storage/paths.js";
import type { RunContext } from "../../types.js";
import { toText } from "../coerce.js";

/*
 * What the internal-storage file tasks share: reading a `lanner:///` URI property, naming the
 * files a task writes, counting bytes, and spooling large results through the attempt's working
 * directory so no task holds a whole file in memory.
 */

const EXTENSION_RE = /^(\.[A-Za-z0-9_-]{1,20})?$/;

/** Renders a property that must hold an internal storage URI; refuses anything else by name. */
export function renderStorageUri(ctx: RunContext, value: unknown, property: string): string {
  const rendered = ctx.render(value);
  const uri = toText(rendered).trim();
  if (!isStorageUri(uri)) {
    throw new LannerError("TASK_INVALID_PROPERTY", `${property}: expected an internal storage URI (${STORAGE_SCHEME}/…), got ${JSON.stringify(uri)}`);
  }
  // Validates the path now, so a malformed URI is named with its property.
  try {
    storageSegments(uri);
  } catch (err) {
    throw new LannerError("TASK_INVALID_PROPERTY", `${property}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return uri;
}

/** Renders an `extension` property (".txt", or "" for none). */
export function renderExtension(ctx: RunContext, value: unknown, fallback: string): string {
  const extension = value === undefined ? fallback : toText(ctx.render(value));
  if (!EXTENSION_RE.test(extension)) {
    throw new LannerError("TASK_INVALID_PROPERTY", `extension: expected something like ".txt", got ${JSON.stringify(extension)}`);
  }
  return extension;
}

/** The extension of a storage URI's file name (".csv"), or `fallback` when it has none usable. */
export function extensionOf(uri: string, fallback = ".tmp"): string {
  const segments = storageSegments(uri);
  const name = segments[segments.length - 1];
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return fallback;
  const ext = name.slice(dot);
  return EXTENSION_RE.test(ext) ? ext : fallback;
}

/** A fresh path for a file this task run writes, under its execution's storage. */
export function outputPath(task: Task, ctx: RunContext, extension: string): string {
  return `tasks/${task.id}/${ctx.taskRunId}/${randomUUID()}${extension}`;
}

/** Chunks of a storage stream as Buffers, stopping when the attempt is aborted. */
export async function* chunksOf(stream: NodeJS.ReadableStream, signal: AbortSignal): AsyncGenerator<Buffer> {
  for await (const chunk of stream as AsyncIterable<Uint8Array | string>) {
    signal.throwIfAborted();
    yield typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
}

/** Reads a whole file, refusing one larger than `maxBytes` before it is all in memory. */
export async function readBounded(ctx: RunContext, uri: string, maxBytes: number, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of chunksOf(await ctx.storage.get(uri), ctx.signal)) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      throw new LannerError("STORAGE_FILE_TOO_LARGE", `${what}: ${uri} is larger than ${maxBytes} bytes, the most this task reads`);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/** Size of a buffered write before it goes to disk. */
const SPOOL_CHUNK = 64 * 1024;

/**
 * A file in the attempt's working directory written in large chunks, then moved to internal
 * storage as a stream: results of any size pass through disk, not memory.
 */
export class SpoolFile {
  private handle: FileHandle | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes written so far. */
  size = 0;

  private constructor(readonly path: string) {}

  /** Opens a new, empty spool file in `dir`. */
  static async create(dir: string): Promise<SpoolFile> {
    const f = new SpoolFile(join(dir, `spool-${randomUUID()}`));
    f.handle = await open(f.path, "wx");
    return f;
  }

  async write(data: Buffer): Promise<void> {
    this.pending.push(data);
    this.pendingBytes += data.byteLength;
    this.size += data.byteLength;
    if (this.pendingBytes >= SPOOL_CHUNK) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0 || this.handle === undefined) return;
    const buf = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    await this.handle.write(buf);
  }

  /** Flushes and closes the file (idempotent). */
  async close(): Promise<void> {
    await this.flush();
    await this.handle?.close();
    this.handle = undefined;
  }

  /** Closes the file and stores its content at `path` in the task's storage; returns the URI. */
  async store(ctx: RunContext, path: string): Promise<string> {
    await this.close();
    return ctx.storage.put(path, createReadStream(this.path));
  }
}
