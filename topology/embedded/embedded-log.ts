/**
 * The embedded Log: one classic-level (LevelDB) database in `<dataDir>/log` holding the topics'
 * records (keys ordered by topic/partition/offset as fixed-width big-endian bytes), the groups'
 * committed offsets, topic metadata and the state stores' data. One unit of work — records
 * appended, offsets committed, state written — is ONE atomic `db.batch()`. Writes go through a
 * single ordered writer that groups concurrent commits into one batch (group commit); records
 * become visible to consumers once their batch is written — or, for groups that read ahead
 * (`JoinOptions.readAhead`), once their unit is accepted by the writer — and consumers are woken
 * in-process.
 *
 * One process owns the directory: LevelDB's lock file makes a second opener fail with
 * `DATA_DIR_LOCKED`.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import avro from "avsc";
import { ClassicLevel } from "classic-level";
import { LannerError } from "../../common/errors.js";
import { LevelStateStore, prefixEnd, stateBatchOps, type LevelDb, type LevelOp, type LevelWriter } from "../../stores/level-state-store.js";
import type { StateBatch, StateStore } from "../../stores/state-store.js";
import { validateStoreName } from "../../stores/state-store.js";
import { closedError, partitionsMismatchError, unknownTopicError, validateTopicName } from "../errors.js";
import { LocalGroups, tpKey, type LocalBackend } from "../local/local-groups.js";
import type {
  AppendResult,
  Commit,
  FatalListener,
  GroupMember,
  JoinOptions,
  Log,
  LogRecord,
  Membership,
  ProduceRecord,
  TopicSpec,
} from "../log.js";
import { DEFAULT_GROUP_EXPIRY_MS } from "../log.js";
import { checkOffset, checkPartition, checkpointOf, resolvePartition } from "../produce.js";

export interface EmbeddedLogOptions {
  /** The data directory; the database is `<dataDir>/log`. */
  dataDir: string;
  /** `fsync`: every batch is synced to disk; `os` (default): written to the OS, survives a process crash. */
  durability?: "fsync" | "os";
  /** Recent records kept in memory per partition so consumers that keep up never read the disk (default 512). */
  tailRecords?: number;
  /**
   * A group with no member and no join or commit for this long is forgotten by `purge` (default
   * one day); activity is tracked in memory, so a group unseen since the open counts from the open.
   */
  groupExpiryMs?: number;
}

/**
 * Writes `ops` as one atomic LevelDB batch. The public `batch()` of abstract-level copies every
 * operation into a new object and runs it through the key and value transcoders; our keys and
 * values are already Buffers in the database's own format, and on a 40-task chain that per-op
 * work was ≈ 20 % of the process's CPU. classic-level's `_batch` (the implementation `batch()`
 * delegates to once it has checked and encoded the operations) takes them as they are, in the
 * same order on the same native queue; the public path is kept for any other level.
 */
function writeBatch(db: LevelDb, ops: LevelOp[], sync: boolean): Promise<void> {
  const direct = (db as unknown as { _batch?: (ops: LevelOp[], options: { sync: boolean }) => Promise<void> })._batch;
  if (db instanceof ClassicLevel && db.status === "open" && typeof direct === "function") return direct.call(db, ops, { sync });
  return db.batch(ops, { sync });
}

/** The stored body of a record (topic, partition and offset are in its key). */
const recordBody = avro.Type.forSchema({
  type: "record",
  name: "StoredLogRecord",
  namespace: "lanner.log",
  fields: [
    { name: "key", type: "string" },
    { name: "value", type: "bytes" },
    { name: "headers", type: { type: "map", values: "string" } },
    { name: "timestamp", type: "long" },
  ],
});

interface StoredBody {
  key: string;
  value: Buffer;
  headers: Record<string, string>;
  timestamp: number;
}

const Z = Buffer.from([0]);
const str = (s: string) => Buffer.from(s, "utf8");
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};

const metaPrefix = Buffer.from("m\0");
const endPrefix = Buffer.from("e\0");
const offsetPrefix = Buffer.from("o\0");
const subPrefix = Buffer.from("g\0");
const metaKey = (topic: string) => Buffer.concat([metaPrefix, str(topic)]);
const endKey = (topic: string, p: number) => Buffer.concat([endPrefix, str(topic), Z, u32(p)]);
const recPrefix = (topic: string, p: number) => Buffer.concat([Buffer.from("r\0"), str(topic), Z, u32(p)]);
const recKey = (topic: string, p: number, offset: bigint) => Buffer.concat([recPrefix(topic, p), u64(offset)]);
const offsetKey = (group: string, topic: string, p: number) => Buffer.concat([offsetPrefix, str(group), Z, str(topic), Z, u32(p)]);
const subKey = (topic: string, group: string) => Buffer.concat([subPrefix, str(topic), Z, str(group)]);

function validateGroupName(group: string): void {
  if (group.length === 0 || group.includes("\0")) {
    throw new LannerError("GROUP_NAME_INVALID", `Consumer group name ${JSON.stringify(group)} is invalid: it must be non-empty and contain no NUL.`);
  }
}

interface TopicState {
  spec: TopicSpec;
  /** Next offset to assign, per partition (includes batches being written). */
  assigned: bigint[];
  /** End of the written (durable, visible to every reader) records, per partition. */
  visible: bigint[];
  /**
   * The most recently accepted records of each partition, written or still in the writer's queue
   * (served without a read); it ends at `assigned`. Read-ahead groups read all of it, the others
   * only below `visible`.
   */
  tail: LogRecord[][];
}

interface PendingWrite {
  ops: LevelOp[];
  after?: () => void;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class EmbeddedLog implements Log, LocalBackend, LevelWriter {
  readonly backend = "embedded";
  /** One ordered writer: units are written in the order `commitUnit` accepted them. */
  readonly commitsInOrder = true;
  private readonly topics = new Map<string, TopicState>();
  private readonly offsets = new Map<string, bigint>();
  private readonly subscriptions = new Map<string, Set<string>>();
  /** Every group with offsets or a subscription (candidates for expiry). */
  private readonly knownGroups = new Set<string>();
  private readonly stores = new Map<string, LevelStateStore>();
  private readonly groups = new LocalGroups(this);
  private readonly fatalListeners = new Set<FatalListener>();
  private pending: PendingWrite[] = [];
  private writing: Promise<void> | undefined;
  private closed = false;
  private readonly sync: boolean;

  private constructor(
    readonly db: LevelDb,
    durability: "fsync" | "os",
    private readonly tailRecords: number,
    private readonly groupExpiryMs: number,
  ) {
    this.sync = durability === "fsync";
  }

  /** Opens (creating if needed) the log in `<dataDir>/log`; rejects with `DATA_DIR_LOCKED` if another process holds it. */
  static async open(options: EmbeddedLogOptions): Promise<EmbeddedLog> {
    const location = join(options.dataDir, "log");
    mkdirSync(location, { recursive: true });
    const db: LevelDb = new ClassicLevel<Buffer, Buffer>(location, { keyEncoding: "buffer", valueEncoding: "buffer" });
    try {
      await db.open();
    } catch (err) {
      const cause = err instanceof Error ? (err.cause as { code?: string } | undefined) : undefined;
      if (cause?.code === "LEVEL_LOCKED") {
        throw new LannerError(
          "DATA_DIR_LOCKED",
          `The data directory ${options.dataDir} is in use by another Lanner process (LevelDB lock held on ${location}). Stop it or choose another --data-dir.`,
          { cause: err },
        );
      }
      throw new LannerError("DATA_DIR_UNUSABLE", `Cannot open the embedded log in ${location}: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}`, { cause: err });
    }
    const log = new EmbeddedLog(db, options.durability ?? "os", options.tailRecords ?? 512, options.groupExpiryMs ?? DEFAULT_GROUP_EXPIRY_MS);
    await log.load();
    return log;
  }

  private emptyPartitions(n: number): Pick<TopicState, "assigned" | "visible" | "tail"> {
    return {
      assigned: new Array<bigint>(n).fill(0n),
      visible: new Array<bigint>(n).fill(0n),
      tail: Array.from({ length: n }, () => []),
    };
  }

  private async load(): Promise<void> {
    for await (const [k, v] of this.db.iterator({ gte: metaPrefix, lt: prefixEnd(metaPrefix) })) {
      const spec = JSON.parse(v.toString("utf8")) as TopicSpec;
      const name = k.subarray(metaPrefix.length).toString("utf8");
      this.topics.set(name, { spec, ...this.emptyPartitions(spec.partitions) });
    }
    for await (const [k, v] of this.db.iterator({ gte: endPrefix, lt: prefixEnd(endPrefix) })) {
      const rest = k.subarray(endPrefix.length);
      const topic = rest.subarray(0, rest.length - 5).toString("utf8");
      const p = rest.readUInt32BE(rest.length - 4);
      const t = this.topics.get(topic);
      if (t !== undefined && p < t.assigned.length) t.assigned[p] = t.visible[p] = v.readBigUInt64BE(0);
    }
    for await (const [k, v] of this.db.iterator({ gte: offsetPrefix, lt: prefixEnd(offsetPrefix) })) {
      const rest = k.subarray(offsetPrefix.length);
      const p = rest.readUInt32BE(rest.length - 4);
      const [group, topic] = rest.subarray(0, rest.length - 5).toString("utf8").split("\0");
      this.offsets.set(`${group}\0${tpKey(topic, p)}`, v.readBigUInt64BE(0));
      this.knownGroups.add(group);
    }
    for await (const k of this.db.keys({ gte: subPrefix, lt: prefixEnd(subPrefix) })) {
      const [topic, group] = k.subarray(subPrefix.length).toString("utf8").split("\0");
      let s = this.subscriptions.get(topic);
      if (s === undefined) this.subscriptions.set(topic, (s = new Set()));
      s.add(group);
      this.knownGroups.add(group);
    }
  }

  // ---- the ordered writer -------------------------------------------------------------------

  submit(ops: LevelOp[], after?: () => void): Promise<void> {
    if (this.closed) return Promise.reject(closedError(this.backend));
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ ops, after, resolve, reject });
      if (this.writing === undefined) this.writing = this.flush();
    });
  }

  /** Writes everything pending as one batch per round (group commit), in submission order. */
  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const round = this.pending;
      this.pending = [];
      const ops = round.length === 1 ? round[0].ops : round.flatMap((w) => w.ops);
      try {
        if (ops.length > 0) await writeBatch(this.db, ops, this.sync);
      } catch (err) {
        const fatal = new LannerError("LOG_WRITE_FAILED", `The embedded log could not write to its database: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        for (const w of round) w.reject(fatal);
        for (const w of this.pending.splice(0)) w.reject(fatal);
        for (const l of this.fatalListeners) l(fatal);
        break;
      }
      for (const w of round) {
        w.after?.();
        w.resolve();
      }
    }
    this.writing = undefined;
  }

  // ---- topics -------------------------------------------------------------------------------

  async ensureTopics(specs: TopicSpec[]): Promise<void> {
    if (this.closed) throw closedError(this.backend);
    const created: TopicSpec[] = [];
    for (const s of specs) {
      validateTopicName(s.name);
      if (!Number.isInteger(s.partitions) || s.partitions <= 0) throw partitionsMismatchError(s.name, 0, s.partitions);
      const t = this.topics.get(s.name);
      if (t !== undefined && t.spec.partitions !== s.partitions) throw partitionsMismatchError(s.name, t.spec.partitions, s.partitions);
      if (t === undefined && !created.some((c) => c.name === s.name)) created.push({ ...s });
    }
    if (created.length === 0) return;
    for (const s of created) {
      this.topics.set(s.name, { spec: s, ...this.emptyPartitions(s.partitions) });
    }
    await this.submit(created.map((s) => ({ type: "put", key: metaKey(s.name), value: str(JSON.stringify(s)) })));
  }

  partitionsOf(topic: string): number {
    const t = this.topics.get(topic);
    if (t === undefined) throw unknownTopicError(topic);
    return t.spec.partitions;
  }

  private topic(topic: string, partition: number): TopicState {
    const t = this.topics.get(topic);
    if (t === undefined) throw unknownTopicError(topic);
    checkPartition({ topic, partition }, t.spec.partitions);
    return t;
  }

  // ---- appends and commits ------------------------------------------------------------------

  async append(records: ProduceRecord[]): Promise<AppendResult[]> {
    return this.commitUnit(undefined, { produce: records, offsets: [] }, []);
  }

  commitUnit(group: string | undefined, c: Commit, states: StateBatch[]): Promise<AppendResult[]> {
    if (this.closed) return Promise.reject(closedError(this.backend));
    try {
      return this.prepareAndSubmit(group, c, states);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private prepareAndSubmit(group: string | undefined, c: Commit, states: StateBatch[]): Promise<AppendResult[]> {
    // Validate before assigning anything, so a rejected commit leaves no trace.
    const placed = c.produce.map((r) => ({ r, partition: resolvePartition(r, this.partitionsOf(r.topic)) }));
    for (const o of c.offsets) {
      this.topic(o.topic, o.partition);
      checkOffset(o.next);
    }
    for (const s of states) {
      validateStoreName(s.store);
      if (s.changelogTopic !== undefined) this.topic(s.changelogTopic, s.partition);
    }
    const now = Date.now();
    const ops: LevelOp[] = [];
    const results: AppendResult[] = [];
    const ends = new Map<string, { topic: string; partition: number; end: bigint; records: LogRecord[] }>();
    for (const { r, partition } of placed) {
      const t = this.topics.get(r.topic)!;
      const offset = t.assigned[partition]++;
      const body: StoredBody = { key: r.key, value: Buffer.from(r.value), headers: { ...(r.headers ?? {}) }, timestamp: r.timestamp ?? now };
      ops.push({ type: "put", key: recKey(r.topic, partition, offset), value: recordBody.toBuffer(body) });
      results.push({ topic: r.topic, partition, offset });
      const k = tpKey(r.topic, partition);
      // The copy made above is private to the log: readers share it (they never write to values).
      const rec: LogRecord = { topic: r.topic, partition, offset, key: body.key, value: body.value, headers: body.headers, timestamp: body.timestamp };
      const e = ends.get(k);
      if (e === undefined) ends.set(k, { topic: r.topic, partition, end: offset + 1n, records: [rec] });
      else {
        e.end = offset + 1n;
        e.records.push(rec);
      }
    }
    for (const e of ends.values()) ops.push({ type: "put", key: endKey(e.topic, e.partition), value: u64(e.end) });
    if (group !== undefined) {
      validateGroupName(group);
      for (const o of c.offsets) ops.push({ type: "put", key: offsetKey(group, o.topic, o.partition), value: u64(o.next) });
    }
    for (const s of states) ops.push(...stateBatchOps(s, checkpointOf(s, (t, p) => this.topics.get(t)!.assigned[p])));
    // Batches are written in acceptance order, so these records follow the tail directly; they
    // enter it now for read-ahead groups, and become visible to the others once written.
    for (const e of ends.values()) {
      const tail = this.topics.get(e.topic)!.tail[e.partition];
      tail.push(...e.records);
      if (tail.length > this.tailRecords) tail.splice(0, tail.length - this.tailRecords);
    }
    const after = () => {
      for (const e of ends.values()) {
        const t = this.topics.get(e.topic)!;
        if (e.end > t.visible[e.partition]) t.visible[e.partition] = e.end;
      }
      if (group !== undefined && c.offsets.length > 0) {
        this.knownGroups.add(group);
        for (const o of c.offsets) this.offsets.set(`${group}\0${tpKey(o.topic, o.partition)}`, o.next);
      }
      for (const e of ends.values()) this.groups.notify(e.topic, e.partition);
    };
    const written = this.submit(ops, after).then(() => results);
    for (const e of ends.values()) this.groups.notify(e.topic, e.partition);
    return written;
  }

  // ---- reads --------------------------------------------------------------------------------

  async readBatch(topic: string, partition: number, from: bigint, max: number, ahead = false): Promise<LogRecord[]> {
    const t = this.topic(topic, partition);
    const durable = t.visible[partition];
    const tail = t.tail[partition];
    if (tail.length > 0 && from >= tail[0].offset) {
      const i = Number(from - tail[0].offset);
      const upTo = ahead ? tail.length : Math.max(0, Number(durable - tail[0].offset));
      return tail.slice(i, Math.min(i + max, upTo));
    }
    const end = durable;
    if (from >= end) return [];
    const rows = await this.db.iterator({ gte: recKey(topic, partition, from), lt: recKey(topic, partition, end), limit: max }).all();
    const prefixLength = recPrefix(topic, partition).length;
    return rows.map(([k, v]) => {
      const body = recordBody.fromBuffer(v) as StoredBody;
      return {
        topic,
        partition,
        offset: k.readBigUInt64BE(prefixLength),
        key: body.key,
        value: new Uint8Array(body.value),
        headers: body.headers,
        timestamp: body.timestamp,
      };
    });
  }

  async *readPartition(topic: string, partition: number, from: bigint): AsyncIterable<LogRecord> {
    let pos = from;
    for (;;) {
      const batch = await this.readBatch(topic, partition, pos, 512);
      if (batch.length === 0) return;
      for (const r of batch) yield r;
      pos = batch[batch.length - 1].offset + 1n;
    }
  }

  async endOffset(topic: string, partition: number): Promise<bigint> {
    return this.topic(topic, partition).visible[partition];
  }

  async committed(group: string, topic: string, partition: number): Promise<bigint> {
    this.topic(topic, partition);
    return this.offsets.get(`${group}\0${tpKey(topic, partition)}`) ?? 0n;
  }

  async subscribe(group: string, topics: string[], ephemeral: boolean): Promise<void> {
    validateGroupName(group);
    this.knownGroups.add(group);
    const ops: LevelOp[] = [];
    if (ephemeral) {
      for (const [t, s] of this.subscriptions) if (s.delete(group)) ops.push({ type: "del", key: subKey(t, group) });
      if (ops.length > 0) await this.submit(ops);
      return;
    }
    for (const t of topics) {
      let s = this.subscriptions.get(t);
      if (s === undefined) this.subscriptions.set(t, (s = new Set()));
      if (!s.has(group)) ops.push({ type: "put", key: subKey(t, group), value: Buffer.alloc(0) });
      s.add(group);
    }
    if (ops.length > 0) await this.submit(ops);
  }

  async forgetGroup(group: string): Promise<void> {
    const ops: LevelOp[] = [];
    const prefix = `${group}\0`;
    for (const k of [...this.offsets.keys()]) {
      if (!k.startsWith(prefix)) continue;
      const [, topic, p] = k.split("\0");
      ops.push({ type: "del", key: offsetKey(group, topic, Number(p)) });
      this.offsets.delete(k);
    }
    for (const [t, s] of this.subscriptions) if (s.delete(group)) ops.push({ type: "del", key: subKey(t, group) });
    this.knownGroups.delete(group);
    this.groups.forget(group);
    if (ops.length > 0) await this.submit(ops);
  }

  join(group: string, topics: string[], member: GroupMember, options?: JoinOptions): Promise<Membership> {
    if (this.closed) return Promise.reject(closedError(this.backend));
    return this.groups.join(group, topics, member, options);
  }

  async purge(now: number = Date.now()): Promise<number> {
    if (this.closed) throw closedError(this.backend);
    for (const g of this.groups.idle(this.knownGroups, now - this.groupExpiryMs)) await this.forgetGroup(g);
    let purged = 0;
    for (const [name, t] of this.topics) {
      if (t.spec.retentionMs === undefined) continue;
      const cutoff = now - t.spec.retentionMs;
      const readers = [...(this.subscriptions.get(name) ?? [])];
      for (let p = 0; p < t.spec.partitions; p++) {
        let bound = t.visible[p];
        for (const g of readers) {
          const c = this.offsets.get(`${g}\0${tpKey(name, p)}`) ?? 0n;
          if (c < bound) bound = c;
        }
        if (bound === 0n) continue;
        // Oldest first, while old enough and below every reader's committed offset.
        const ops: LevelOp[] = [];
        for await (const [k, v] of this.db.iterator({ gte: recPrefix(name, p), lt: recKey(name, p, bound) })) {
          const body = recordBody.fromBuffer(v) as StoredBody;
          if (body.timestamp >= cutoff) break;
          ops.push({ type: "del", key: k });
        }
        if (ops.length > 0) {
          await this.submit(ops);
          const lastPurged = ops[ops.length - 1].key.readBigUInt64BE(recPrefix(name, p).length);
          t.tail[p] = t.tail[p].filter((r) => r.offset > lastPurged);
        }
        purged += ops.length;
      }
    }
    return purged;
  }

  stateStore(name: string, partition: number): StateStore {
    validateStoreName(name);
    const key = `${name}/${partition}`;
    let s = this.stores.get(key);
    if (s === undefined) this.stores.set(key, (s = new LevelStateStore(this, name, partition)));
    return s;
  }

  onFatal(listener: FatalListener): () => void {
    this.fatalListeners.add(listener);
    return () => this.fatalListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.groups.close();
    // Let batches already accepted reach the database before it closes.
    while (this.writing !== undefined) await this.writing;
    this.closed = true;
    await this.db.close();
  }
}
