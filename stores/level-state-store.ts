/**
 * The classic-level (LevelDB) StateStore. It lives in the SAME database as the embedded log,
 * under `state/<store>/<partition>/<key>` (checkpoint at `statecp/<store>/<partition>`), so the
 * embedded `Membership.commit(c, state)` writes log records, offsets and state in one batch.
 */
import type { ClassicLevel } from "classic-level";
import { assertBatchFor, validateStoreName, type StateBatch, type StateStore } from "./state-store.js";

export type LevelDb = ClassicLevel<Buffer, Buffer>;
export type LevelOp = { type: "put"; key: Buffer; value: Buffer } | { type: "del"; key: Buffer };

/** How the store writes: through the log's single ordered writer, so batches never interleave. */
export interface LevelWriter {
  readonly db: LevelDb;
  /** Writes the operations as one atomic batch, after every batch submitted before; resolves once written. */
  submit(ops: LevelOp[]): Promise<void>;
}

const u64 = (n: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};

export const stateKeyPrefix = (store: string, partition: number): Buffer => Buffer.from(`state/${store}/${partition}/`, "utf8");
export const checkpointKey = (store: string, partition: number): Buffer => Buffer.from(`statecp/${store}/${partition}`, "utf8");

/** The operations that apply `batch` with `checkpoint` (deletes after puts, so a delete wins). */
export function stateBatchOps(batch: StateBatch, checkpoint: bigint | undefined): LevelOp[] {
  validateStoreName(batch.store);
  const prefix = stateKeyPrefix(batch.store, batch.partition);
  const ops: LevelOp[] = [];
  const deleted = new Set(batch.deletes);
  for (const [k, v] of batch.puts) {
    if (deleted.has(k)) continue;
    ops.push({ type: "put", key: Buffer.concat([prefix, Buffer.from(k, "utf8")]), value: Buffer.from(v) });
  }
  for (const k of deleted) ops.push({ type: "del", key: Buffer.concat([prefix, Buffer.from(k, "utf8")]) });
  if (checkpoint !== undefined) ops.push({ type: "put", key: checkpointKey(batch.store, batch.partition), value: u64(checkpoint) });
  return ops;
}

/** The first key after every key starting with `prefix`. */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.concat([prefix, Buffer.from([0xff])]);
}

export class LevelStateStore implements StateStore {
  private readonly prefix: Buffer;

  constructor(
    private readonly writer: LevelWriter,
    readonly name: string,
    readonly partition: number,
  ) {
    validateStoreName(name);
    this.prefix = stateKeyPrefix(name, partition);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const v = await this.writer.db.get(Buffer.concat([this.prefix, Buffer.from(key, "utf8")]));
    return v === undefined ? undefined : new Uint8Array(v);
  }

  async write(batch: StateBatch): Promise<void> {
    assertBatchFor(this, batch);
    await this.writer.submit(stateBatchOps(batch, batch.offset));
  }

  async checkpoint(): Promise<bigint | undefined> {
    const v = await this.writer.db.get(checkpointKey(this.name, this.partition));
    return v === undefined ? undefined : v.readBigUInt64BE(0);
  }

  async *entries(): AsyncIterable<[string, Uint8Array]> {
    let from = this.prefix;
    let inclusive = true;
    const end = prefixEnd(this.prefix);
    // Chunked so a large store is never held in memory at once.
    for (;;) {
      const chunk = await this.writer.db
        .iterator(inclusive ? { gte: from, lt: end, limit: 512 } : { gt: from, lt: end, limit: 512 })
        .all();
      if (chunk.length === 0) return;
      for (const [k, v] of chunk) yield [k.subarray(this.prefix.length).toString("utf8"), new Uint8Array(v)];
      from = chunk[chunk.length - 1][0];
      inclusive = false;
    }
  }

  async clear(): Promise<void> {
    const end = prefixEnd(this.prefix);
    const ops: LevelOp[] = [{ type: "del", key: checkpointKey(this.name, this.partition) }];
    for await (const k of this.writer.db.keys({ gte: this.prefix, lt: end })) ops.push({ type: "del", key: k });
    await this.writer.submit(ops);
  }
}
