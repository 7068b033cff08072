/**
 * State stores on Kafka. Kafka has no transactional key-value store, so — like Kafka Streams —
 * each store has a compacted changelog topic (`<prefix>__store.<name>`, partition p = store
 * partition p), and every `Membership.commit(c, state)` writes the state batch as records of that
 * topic INSIDE the commit's Kafka transaction: the state is durable exactly when the records and
 * offsets are, and a fenced (zombie) member's state changes are aborted with the rest.
 *
 * Reads are served by a local classic-level copy in `<dataDir>/kafka-state`, written after the
 * transaction committed (so a crash between the commit and the local write loses nothing: the
 * local copy just lags) together with the changelog position it reflects. Before a read, a copy
 * that may be stale — its partition was (re)assigned to this process since it last caught up, or
 * no member here owns the partition — replays the changelog from that position to the end. An
 * instance that gains a partition therefore rebuilds the store wherever it previously ran.
 */
import { ClassicLevel } from "classic-level";
import { mkdirSync } from "node:fs";
import { assertBatchFor, validateStoreName, type StateBatch, type StateStore } from "../../stores/state-store.js";
import { LevelStateStore, stateBatchOps, type LevelDb, type LevelOp, type LevelWriter } from "../../stores/level-state-store.js";

/** The changelog key that holds a store's checkpoint (the 8-byte big-endian offset; a tombstone clears it). */
export const CHECKPOINT_KEY = "\u0000checkpoint";

/** One changelog record of a store: a put (value) or a delete (null value). */
export interface ChangelogRecord {
  key: string;
  value: Buffer | null;
}

/** What a store needs from the Kafka log that owns it. */
export interface StoreHost {
  /** Changes since the store last caught up may exist (partition moved here, or not owned here). */
  stale(partition: number, syncedEpoch: number): boolean;
  /** The current assignment epoch of a partition number (changes whenever it is assigned here). */
  epoch(partition: number): number;
  /** Reads the store's changelog partition from `from` to its end (committed records only). */
  readChangelog(store: string, partition: number, from: bigint): AsyncIterable<{ offset: bigint; key: string; value: Buffer | null }>;
  /** Appends records to the store's changelog partition outside any transaction; resolves with the offset of the first and last. */
  appendChangelog(store: string, partition: number, records: ChangelogRecord[]): Promise<{ first: bigint; last: bigint } | undefined>;
}

const u64 = (n: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};

/** The changelog records that carry `batch` and its checkpoint (deletes win over puts, like every store). */
export function changelogRecords(batch: StateBatch, checkpoint: bigint | undefined): ChangelogRecord[] {
  validateStoreName(batch.store);
  const deleted = new Set(batch.deletes);
  const out: ChangelogRecord[] = [];
  for (const [k, v] of batch.puts) if (!deleted.has(k)) out.push({ key: k, value: Buffer.from(v) });
  for (const k of deleted) out.push({ key: k, value: null });
  if (checkpoint !== undefined) out.push({ key: CHECKPOINT_KEY, value: u64(checkpoint) });
  return out;
}

const positionKey = (store: string, partition: number): Buffer => Buffer.from(`kpos/${store}/${partition}`, "utf8");

/** The local classic-level database of every store of one Kafka log, with one ordered writer. */
export class LocalStores implements LevelWriter {
  readonly db: LevelDb;
  private tail: Promise<void> = Promise.resolve();

  private constructor(db: LevelDb) {
    this.db = db;
  }

  static async open(dir: string): Promise<LocalStores> {
    mkdirSync(dir, { recursive: true });
    const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: "buffer", valueEncoding: "buffer" });
    await db.open();
    return new LocalStores(db);
  }

  submit(ops: LevelOp[]): Promise<void> {
    const run = this.tail.then(() => this.db.batch(ops));
    this.tail = run.catch(() => undefined);
    return run;
  }

  async position(store: string, partition: number): Promise<bigint> {
    const v = await this.db.get(positionKey(store, partition));
    return v === undefined ? 0n : v.readBigUInt64BE(0);
  }

  async close(): Promise<void> {
    await this.tail;
    await this.db.close();
  }
}

/** A store partition: the local copy plus the changelog it follows. */
export class KafkaStateStore implements StateStore {
  private readonly local: LevelStateStore;
  private syncedEpoch = -1;
  private syncing: Promise<void> | undefined;
  /** Serializes local writes and catch-ups of this store partition. */
  private lock: Promise<void> = Promise.resolve();

  constructor(
    private readonly stores: LocalStores,
    private readonly host: StoreHost,
    readonly name: string,
    readonly partition: number,
  ) {
    validateStoreName(name);
    this.local = new LevelStateStore(stores, name, partition);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    await this.ready();
    return this.local.get(key);
  }

  async checkpoint(): Promise<bigint | undefined> {
    await this.ready();
    return this.local.checkpoint();
  }

  async *entries(): AsyncIterable<[string, Uint8Array]> {
    await this.ready();
    yield* this.local.entries();
  }

  /** Outside a commit: appends the batch to the changelog, then catches the local copy up. */
  async write(batch: StateBatch): Promise<void> {
    assertBatchFor(this, batch);
    await this.host.appendChangelog(this.name, this.partition, changelogRecords(batch, batch.offset));
    this.syncedEpoch = -1;
    await this.ready();
  }

  async clear(): Promise<void> {
    await this.ready();
    const records: ChangelogRecord[] = [{ key: CHECKPOINT_KEY, value: null }];
    for await (const [k] of this.local.entries()) records.push({ key: k, value: null });
    await this.host.appendChangelog(this.name, this.partition, records);
    this.syncedEpoch = -1;
    await this.ready();
  }

  /**
   * After a commit whose transaction carried `records` at changelog offsets first..last: applies
   * them locally when the copy was current up to them (only a transaction marker may lie
   * between), else catches up from the changelog (which now holds them).
   */
  async applyCommitted(records: ChangelogRecord[], first: bigint, last: bigint): Promise<void> {
    await this.exclusive(async () => {
      const pos = await this.stores.position(this.name, this.partition);
      const current = !this.host.stale(this.partition, this.syncedEpoch);
      if (current && (first === pos || first === pos + 1n)) {
        await this.stores.submit([...this.opsFor(records), { type: "put", key: positionKey(this.name, this.partition), value: u64(last + 1n) }]);
        return;
      }
      this.syncedEpoch = -1;
    });
    await this.ready();
  }

  private opsFor(records: ChangelogRecord[]): LevelOp[] {
    const puts: Array<[string, Uint8Array]> = [];
    const deletes: string[] = [];
    let checkpoint: bigint | undefined;
    let clearCheckpoint = false;
    for (const r of records) {
      if (r.key === CHECKPOINT_KEY) {
        if (r.value === null) clearCheckpoint = true;
        else {
          checkpoint = r.value.readBigUInt64BE(0);
          clearCheckpoint = false;
        }
      } else if (r.value === null) deletes.push(r.key);
      else puts.push([r.key, r.value]);
    }
    const ops = stateBatchOps({ store: this.name, partition: this.partition, puts, deletes }, checkpoint);
    if (clearCheckpoint) ops.push({ type: "del", key: Buffer.from(`statecp/${this.name}/${this.partition}`, "utf8") });
    return ops;
  }

  private ready(): Promise<void> {
    if (!this.host.stale(this.partition, this.syncedEpoch)) return this.lock;
    this.syncing ??= this.exclusive(() => this.catchUp()).finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  private exclusive(fn: () => Promise<void>): Promise<void> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** Replays the changelog from the local position to its end, in chunks. */
  private async catchUp(): Promise<void> {
    const epoch = this.host.epoch(this.partition);
    const from = await this.stores.position(this.name, this.partition);
    let chunk: ChangelogRecord[] = [];
    let next = from;
    const flush = async () => {
      await this.stores.submit([...this.opsFor(chunk), { type: "put", key: positionKey(this.name, this.partition), value: u64(next) }]);
      chunk = [];
    };
    for await (const r of this.host.readChangelog(this.name, this.partition, from)) {
      chunk.push({ key: r.key, value: r.value });
      next = r.offset + 1n;
      if (chunk.length >= 1000) await flush();
    }
    if (chunk.length > 0 || next !== from) await flush();
    this.syncedEpoch = epoch;
  }
}
