import { promises as fsp, realpathSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { dirname, join, sep } from "node:path";
import { LannerError } from "../common/errors.js";
import type { Storage } from "./storage.js";
import { storageSegments, storageUri } from "./paths.js";

/** Temporary files of in-flight writes start with this; listings hide them. */
const TEMP_PREFIX = ".lanner-tmp-";

function errno(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "string" ? err.code : undefined;
}

function escapes(uriOrPath: string): LannerError {
  return new LannerError("STORAGE_PATH_INVALID", `invalid storage path ${JSON.stringify(uriOrPath)}: it leaves the storage root`);
}

function notFound(uriOrPath: string): LannerError {
  return new LannerError("STORAGE_NOT_FOUND", `no file at ${uriOrPath} in internal storage`);
}

/** Copies any accepted data shape into an open file, returning the byte count. */
async function writeAll(handle: fsp.FileHandle, data: Uint8Array | AsyncIterable<Uint8Array> | NodeJS.ReadableStream): Promise<number> {
  if (data instanceof Uint8Array) {
    await handle.writeFile(data);
    return data.byteLength;
  }
  let n = 0;
  for await (const chunk of data as AsyncIterable<Uint8Array | string>) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    await handle.write(buf);
    n += buf.byteLength;
  }
  return n;
}

/**
 * Internal storage on the local filesystem under `rootDir`. Every path is checked twice: by its
 * text (no `..`, no absolute path, …) and, because a symlink inside the root could point out of
 * it, by the real path of its parent directory. Writes go to a temporary file in the same
 * directory, are fsynced, then renamed over the target, so a reader never sees half a file.
 */
export class LocalStorage implements Storage {
  private readonly root: string;

  constructor(rootDir: string) {
    // The root itself may be reached through a symlink (e.g. /tmp on macOS); compare real paths.
    this.root = realpathSync(rootDir);
  }

  private inside(real: string): boolean {
    return real === this.root || real.startsWith(this.root + sep);
  }

  /** Real path of the deepest existing ancestor of `abs`, which must be inside the root. */
  private async checkAncestors(abs: string, uriOrPath: string): Promise<void> {
    let dir = abs;
    for (;;) {
      try {
        const real = await fsp.realpath(dir);
        if (!this.inside(real)) throw escapes(uriOrPath);
        return;
      } catch (err) {
        if (errno(err) !== "ENOENT") throw err;
        const up = dirname(dir);
        if (up === dir) throw escapes(uriOrPath);
        dir = up;
      }
    }
  }

  private absolute(segments: string[]): string {
    return join(this.root, ...segments);
  }

  /** The absolute path of an existing file after the symlink check, or undefined when absent. */
  private async existingFile(uriOrPath: string): Promise<string | undefined> {
    const abs = this.absolute(storageSegments(uriOrPath));
    let real: string;
    try {
      real = await fsp.realpath(abs);
    } catch (err) {
      if (errno(err) === "ENOENT" || errno(err) === "ENOTDIR") {
        await this.checkAncestors(dirname(abs), uriOrPath);
        return undefined;
      }
      throw err;
    }
    if (!this.inside(real)) throw escapes(uriOrPath);
    const st = await fsp.stat(real);
    return st.isFile() ? real : undefined;
  }

  async put(path: string, data: Uint8Array | AsyncIterable<Uint8Array> | NodeJS.ReadableStream): Promise<string> {
    const segments = storageSegments(path);
    const abs = this.absolute(segments);
    const parent = dirname(abs);
    await this.checkAncestors(parent, path);
    try {
      await fsp.mkdir(parent, { recursive: true });
    } catch (err) {
      if (errno(err) === "EEXIST" || errno(err) === "ENOTDIR") {
        throw new LannerError("STORAGE_PATH_INVALID", `invalid storage path ${JSON.stringify(path)}: a file is where a directory should be`, { cause: err });
      }
      throw err;
    }
    // mkdir may have walked through a symlink created meanwhile; check the result too.
    if (!this.inside(await fsp.realpath(parent))) throw escapes(path);
    const tmp = join(parent, `${TEMP_PREFIX}${randomBytes(8).toString("hex")}`);
    const handle = await fsp.open(tmp, "wx");
    try {
      await writeAll(handle, data);
      await handle.sync();
      await handle.close();
      await fsp.rename(tmp, abs);
    } catch (err) {
      await handle.close().catch(() => undefined);
      await fsp.rm(tmp, { force: true });
      if (errno(err) === "EISDIR" || errno(err) === "ENOTEMPTY") {
        throw new LannerError("STORAGE_PATH_INVALID", `invalid storage path ${JSON.stringify(path)}: a directory is there`, { cause: err });
      }
      throw err;
    }
    return storageUri(segments);
  }

  async get(uriOrPath: string): Promise<NodeJS.ReadableStream> {
    const file = await this.existingFile(uriOrPath);
    if (file === undefined) throw notFound(uriOrPath);
    // Opening first turns a file deleted meanwhile into STORAGE_NOT_FOUND now, not a stream error later.
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(file, "r");
    } catch (err) {
      if (errno(err) === "ENOENT") throw notFound(uriOrPath);
      throw err;
    }
    return handle.createReadStream();
  }

  async exists(uriOrPath: string): Promise<boolean> {
    return (await this.existingFile(uriOrPath)) !== undefined;
  }

  async delete(uriOrPath: string): Promise<boolean> {
    const segments = storageSegments(uriOrPath);
    const abs = this.absolute(segments);
    await this.checkAncestors(dirname(abs), uriOrPath);
    try {
      // lstat: deleting a symlink removes the link, never what it points to.
      const st = await fsp.lstat(abs);
      if (st.isDirectory()) return false;
      await fsp.unlink(abs);
      return true;
    } catch (err) {
      if (errno(err) === "ENOENT" || errno(err) === "ENOTDIR") return false;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const segments = storageSegments(prefix, { allowEmpty: true });
    const abs = this.absolute(segments);
    await this.checkAncestors(abs, prefix);
    const out: string[] = [];
    await this.walk(abs, segments, out);
    return out.sort();
  }

  private async walk(dir: string, segments: string[], out: string[]): Promise<void> {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (errno(err) === "ENOENT" || errno(err) === "ENOTDIR") return;
      throw err;
    }
    for (const e of entries) {
      if (e.name.startsWith(TEMP_PREFIX)) continue;
      const abs = join(dir, e.name);
      const segs = [...segments, e.name];
      if (e.isDirectory()) {
        await this.walk(abs, segs, out);
      } else if (e.isFile()) {
        out.push(storageUri(segs));
      } else if (e.isSymbolicLink()) {
        // Listed only when it resolves to a file inside the root, i.e. when get() would serve it.
        try {
          const real = await fsp.realpath(abs);
          if (this.inside(real) && (await fsp.stat(real)).isFile()) out.push(storageUri(segs));
        } catch (err) {
          if (errno(err) !== "ENOENT") throw err;
        }
      }
    }
  }
}
