import { LannerError } from "../../common/errors.js";
import { renderDeep } from "../../expressions/index.js";
import type { RenderServices } from "../../expressions/index.js";
import type { KvStore } from "../../storage/kv-store.js";

/** `kv(kv(...))` chains resolved before giving up. */
const MAX_ROUNDS = 3;

/** What a kv() call loaded: the value, nothing (missing or expired), or why it could not be read. */
type Loaded = { found: true; value: unknown } | { found: false } | { found: false; failure: string };

/**
 * The expression function `kv(key, namespace?)` is synchronous while the KV store is not. Before a
 * task runs, the worker renders its properties once with a recording `kv` to learn which keys they
 * read, loads those, and then serves `kv` from memory (as `StorageReads` does for `read()`). Keys
 * computed from something only known during the run fail with `KV_READ_NOT_LOADED`. As in Kestra,
 * `kv(key)` without a namespace looks in the flow's namespace, then in each parent namespace.
 */
export class KvReads {
  private readonly loaded = new Map<string, Loaded>();

  /** `namespace`: the flow's, used when a call names none; `tenantId`: the execution's. */
  constructor(
    private readonly store: KvStore,
    private readonly tenantId: string,
    private readonly namespace: string,
  ) {}

  /** `namespace` undefined: the flow's namespace with inheritance, a lookup of its own. */
  private static id(key: string, namespace: string | undefined): string {
    return JSON.stringify([namespace ?? null, key]);
  }

  /** Loads every key the properties of `task` read with `kv()` when rendered against `vars`. */
  async preload(task: unknown, vars: Record<string, unknown>, services: RenderServices): Promise<void> {
    // Most tasks never call kv(); skip the extra render for them.
    if (!JSON.stringify(task).includes("kv(")) return;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const wanted = new Map<string, { key: string; namespace: string | undefined }>();
      const recording: RenderServices = {
        ...services,
        kv: (key, namespace) => {
          const known = this.loaded.get(KvReads.id(key, namespace));
          if (known !== undefined) return known.found ? known.value : undefined;
          wanted.set(KvReads.id(key, namespace), { key, namespace });
          // A placeholder keeps the dry render going past this call to find the others.
          return "";
        },
      };
      try {
        renderDeep(task, vars, { services: recording });
      } catch {
        // The dry render may fail for reasons the real render reports properly.
      }
      if (wanted.size === 0) return;
      for (const [id, { key, namespace }] of wanted) this.loaded.set(id, await this.load(key, namespace));
    }
  }

  private async load(key: string, namespace: string | undefined): Promise<Loaded> {
    const candidates = namespace !== undefined ? [namespace] : this.namespace.split(".").map((_, i, parts) => parts.slice(0, parts.length - i).join("."));
    try {
      for (const ns of candidates) {
        const entry = await this.store.get({ tenantId: this.tenantId, namespace: ns }, key);
        if (entry !== undefined) return { found: true, value: entry.value };
      }
      return { found: false };
    } catch (err) {
      // Reported by `kv` if the real render asks for it (the dry render may have guessed wrong).
      return { found: false, failure: err instanceof Error ? err.message : String(err) };
    }
  }

  /** The `kv` render service: the loaded value, undefined when the key has none, or a clear error. */
  kv(key: string, namespace?: string): unknown {
    const loaded = this.loaded.get(KvReads.id(key, namespace));
    if (loaded === undefined) {
      throw new LannerError("KV_READ_NOT_LOADED", `kv(${JSON.stringify(key)}): the key was not loaded before the task ran (its name is only known while the task runs)`);
    }
    if ("failure" in loaded) throw new LannerError("KV_READ_FAILED", `kv(${JSON.stringify(key)}): ${loaded.failure}`);
    return loaded.found ? loaded.value : undefined;
  }
}
