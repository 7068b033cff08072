/**
 * Rebuilds a state store from its changelog: replays the partition from the store's checkpoint
 * (or from the beginning) through `fold`, writing the changes in chunks, each with the offset it
 * reflects. This is how an executor rebuilds its store from the `executions` topic.
 */
import type { Log, LogRecord } from "../topology/log.js";
import type { StateStore } from "./state-store.js";

/** The change one changelog record makes. */
export interface StateChange {
  puts?: Array<[string, Uint8Array]>;
  deletes?: string[];
}

/**
 * Folds one record; `get` sees the store as of the records before it (including changes not yet
 * written by this restore).
 */
export type Fold = (
  record: LogRecord,
  get: (key: string) => Promise<Uint8Array | undefined>,
) => StateChange | undefined | Promise<StateChange | undefined>;

export interface RestoreOptions {
  /** Records per written chunk (default 1000). */
  chunk?: number;
}

/** Replays (`topic`, `partition`) into `store` from its checkpoint; resolves with the count of records replayed. */
export async function restore(store: StateStore, log: Log, topic: string, partition: number, fold: Fold, options: RestoreOptions = {}): Promise<number> {
  const chunk = options.chunk ?? 1000;
  const from = (await store.checkpoint()) ?? 0n;
  // Pending changes of the current chunk: a value, or null for a delete.
  let overlay = new Map<string, Uint8Array | null>();
  let inChunk = 0;
  let next = from;
  let count = 0;
  const get = async (key: string) => {
    const v = overlay.get(key);
    if (v === null) return undefined;
    return v ?? store.get(key);
  };
  const flush = async () => {
    const puts: Array<[string, Uint8Array]> = [];
    const deletes: string[] = [];
    for (const [k, v] of overlay) {
      if (v === null) deletes.push(k);
      else puts.push([k, v]);
    }
    await store.write({ store: store.name, partition: store.partition, puts, deletes, offset: next });
    overlay = new Map();
    inChunk = 0;
  };
  for await (const record of log.readPartition(topic, partition, from)) {
    const change = await fold(record, get);
    for (const [k, v] of change?.puts ?? []) overlay.set(k, v);
    for (const k of change?.deletes ?? []) overlay.set(k, null);
    next = record.offset + 1n;
    count++;
    if (++inChunk >= chunk) await flush();
  }
  if (inChunk > 0) await flush();
  return count;
}
