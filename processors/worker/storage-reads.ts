import { LannerError } from "../../common/errors.js";
import { renderDeep } from "../../expressions/index.js";
import type { RenderServices } from "../../expressions/index.js";
import { readFileBytes } from "../../storage/read-all.js";
import type { Storage } from "../../storage/storage.js";

/** Most bytes one attempt may load for `read()` (files are held in memory as strings). */
const MAX_READ_BYTES = 16 * 1024 * 1024;
/** `read(read(...))` chains resolved before giving up. */
const MAX_ROUNDS = 3;

/** Kestra flows write `kestra:///…`; the same path lives under `lanner:///…` here. */
export function storagePathOf(path: string): string {
  return path.startsWith("kestra:///") ? `lanner:///${path.slice("kestra:///".length)}` : path;
}

/**
 * The expression function `read(path)` is synchronous while internal storage is not. Before a
 * task runs, the worker renders its properties once with a recording `read` to learn which files
 * they read, loads those, and then serves `read` from memory. Paths computed from something only
 * known during the run are not loaded: `read` fails for them with `STORAGE_READ_NOT_LOADED`.
 */
export class StorageReads {
  private readonly files = new Map<string, string>();
  private readonly failures = new Map<string, string>();
  private bytes = 0;

  constructor(private readonly storage: Storage) {}

  /** Loads every file the properties of `task` read when rendered against `vars`. */
  async preload(task: unknown, vars: Record<string, unknown>, services: RenderServices): Promise<void> {
    // Most tasks never call read(); skip the extra render for them.
    if (!JSON.stringify(task).includes("read(")) return;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const wanted = new Set<string>();
      const recording: RenderServices = {
        ...services,
        read: (path) => {
          const known = this.files.get(storagePathOf(path));
          if (known !== undefined) return known;
          wanted.add(storagePathOf(path));
          return "";
        },
      };
      try {
        renderDeep(task, vars, { services: recording });
      } catch {
        // The dry render may fail for reasons the real render reports properly.
      }
      if (wanted.size === 0) return;
      for (const path of wanted) await this.load(path);
    }
  }

  private async load(path: string): Promise<void> {
    let data: Buffer;
    try {
      data = await readFileBytes(this.storage, path);
    } catch (err) {
      // Reported by `read` if the real render asks for it (the dry render may have guessed wrong).
      this.failures.set(path, err instanceof Error ? err.message : String(err));
      return;
    }
    this.bytes += data.byteLength;
    if (this.bytes > MAX_READ_BYTES) {
      throw new LannerError("STORAGE_READ_TOO_LARGE", `read(): the files this task reads exceed ${MAX_READ_BYTES} bytes in total`);
    }
    this.files.set(path, data.toString("utf8"));
  }

  /** The `read` render service: the loaded file's text, or a clear error. */
  read(path: string): string {
    const key = storagePathOf(path);
    const text = this.files.get(key);
    if (text !== undefined) return text;
    const failure = this.failures.get(key);
    if (failure !== undefined) throw new LannerError("STORAGE_READ_FAILED", `read(${JSON.stringify(path)}): ${failure}`);
    throw new LannerError("STORAGE_READ_NOT_LOADED", `read(${JSON.stringify(path)}): the file was not loaded before the task ran (its path is only known while the task runs)`);
  }
}
