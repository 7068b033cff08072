/** The in-memory StateStore: reference semantics for tests and the `memory` log backend. */
import { assertBatchFor, validateStoreName, type StateBatch, type StateStore } from "./state-store.js";

/** Byte order of the UTF-8 encodings, the order LevelDB and Postgres (`bytea`/C collation) use. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

export class MemoryStateStore implements StateStore {
  private readonly data = new Map<string, Uint8Array>();
  private offset: bigint | undefined;

  constructor(
    readonly name: string,
    readonly partition: number,
  ) {
    validateStoreName(name);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.data.get(key);
  }

  async write(batch: StateBatch): Promise<void> {
    assertBatchFor(this, batch);
    this.applySync(batch, batch.offset);
  }

  /** Applies a batch at once (the memory log calls it inside its synchronous commit step). */
  applySync(batch: StateBatch, checkpoint: bigint | undefined): void {
    for (const [k, v] of batch.puts) this.data.set(k, Uint8Array.from(v));
    for (const k of batch.deletes) this.data.delete(k);
    if (checkpoint !== undefined) this.offset = checkpoint;
  }

  async checkpoint(): Promise<bigint | undefined> {
    return this.offset;
  }

  async *entries(): AsyncIterable<[string, Uint8Array]> {
    const keys = [...this.data.keys()].sort(compareKeys);
    for (const k of keys) {
      const v = this.data.get(k);
      if (v !== undefined) yield [k, v];
    }
  }

  async clear(): Promise<void> {
    this.data.clear();
    this.offset = undefined;
  }
}
