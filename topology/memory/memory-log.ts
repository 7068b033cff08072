/**
 * The in-memory Log: the reference semantics of the Log contract, for tests. Every commit is one
 * synchronous step, so it is trivially atomic; nothing survives the process.
 */
import { MemoryStateStore } from "../../stores/memory-state-store.js";
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

interface PartitionData {
  /** Offset of records[0]. */
  start: bigint;
  records: LogRecord[];
}

interface TopicData {
  spec: TopicSpec;
  partitions: PartitionData[];
}

export interface MemoryLogOptions {
  /** A group with no member and no join or commit for this long is forgotten by `purge` (default one day). */
  groupExpiryMs?: number;
}

export class MemoryLog implements Log, LocalBackend {
  readonly backend = "memory";
  /** Commits apply synchronously, in call order. */
  readonly commitsInOrder = true;
  private readonly topics = new Map<string, TopicData>();
  private readonly offsets = new Map<string, bigint>();
  /** Every group with offsets or a subscription (candidates for expiry). */
  private readonly knownGroups = new Set<string>();
  private readonly groupExpiryMs: number;
  private readonly subscriptions = new Map<string, Set<string>>();
  private readonly stores = new Map<string, MemoryStateStore>();
  private readonly groups = new LocalGroups(this);
  private closed = false;

  constructor(options: MemoryLogOptions = {}) {
    this.groupExpiryMs = options.groupExpiryMs ?? DEFAULT_GROUP_EXPIRY_MS;
  }

  async ensureTopics(specs: TopicSpec[]): Promise<void> {
    for (const s of specs) {
      validateTopicName(s.name);
      if (!Number.isInteger(s.partitions) || s.partitions <= 0) throw partitionsMismatchError(s.name, 0, s.partitions);
      const t = this.topics.get(s.name);
      if (t !== undefined && t.partitions.length !== s.partitions) throw partitionsMismatchError(s.name, t.partitions.length, s.partitions);
    }
    for (const s of specs) {
      if (this.topics.has(s.name)) continue;
      this.topics.set(s.name, {
        spec: { ...s },
        partitions: Array.from({ length: s.partitions }, () => ({ start: 0n, records: [] })),
      });
    }
  }

  partitionsOf(topic: string): number {
    const t = this.topics.get(topic);
    if (t === undefined) throw unknownTopicError(topic);
    return t.partitions.length;
  }

  private part(topic: string, partition: number): PartitionData {
    const n = this.partitionsOf(topic);
    checkPartition({ topic, partition }, n);
    return this.topics.get(topic)!.partitions[partition];
  }

  private end(topic: string, partition: number): bigint {
    const p = this.part(topic, partition);
    return p.start + BigInt(p.records.length);
  }

  async append(records: ProduceRecord[]): Promise<AppendResult[]> {
    return this.commitUnit(undefined, { produce: records, offsets: [] }, []);
  }

  async commitUnit(group: string | undefined, c: Commit, states: StateBatch[]): Promise<AppendResult[]> {
    if (this.closed) throw closedError(this.backend);
    // Validate everything first: a rejected commit leaves nothing behind.
    const placed = c.produce.map((r) => ({ r, partition: resolvePartition(r, this.partitionsOf(r.topic)) }));
    for (const o of c.offsets) {
      checkPartition(o, this.partitionsOf(o.topic));
      checkOffset(o.next);
    }
    for (const s of states) validateStoreName(s.store);
    const now = Date.now();
    const results: AppendResult[] = [];
    const touched = new Set<string>();
    for (const { r, partition } of placed) {
      const p = this.part(r.topic, partition);
      const offset = p.start + BigInt(p.records.length);
      p.records.push({
        topic: r.topic,
        partition,
        offset,
        key: r.key,
        value: Uint8Array.from(r.value),
        headers: { ...(r.headers ?? {}) },
        timestamp: r.timestamp ?? now,
      });
      results.push({ topic: r.topic, partition, offset });
      touched.add(tpKey(r.topic, partition));
    }
    if (group !== undefined && c.offsets.length > 0) {
      this.knownGroups.add(group);
      for (const o of c.offsets) this.offsets.set(`${group}\u0000${tpKey(o.topic, o.partition)}`, o.next);
    }
    for (const s of states) {
      const store = this.stateStore(s.store, s.partition) as MemoryStateStore;
      store.applySync(s, checkpointOf(s, (t, p) => this.end(t, p)));
    }
    for (const k of touched) {
      const [topic, p] = k.split("\u0000");
      this.groups.notify(topic, Number(p));
    }
    return results;
  }

  async readBatch(topic: string, partition: number, from: bigint, max: number): Promise<LogRecord[]> {
    const p = this.part(topic, partition);
    const i = from < p.start ? 0 : Number(from - p.start);
    return p.records.slice(i, i + max);
  }

  async committed(group: string, topic: string, partition: number): Promise<bigint> {
    checkPartition({ topic, partition }, this.partitionsOf(topic));
    return this.offsets.get(`${group}\u0000${tpKey(topic, partition)}`) ?? 0n;
  }

  async subscribe(group: string, topics: string[], ephemeral: boolean): Promise<void> {
    this.knownGroups.add(group);
    if (ephemeral) {
      for (const s of this.subscriptions.values()) s.delete(group);
      return;
    }
    for (const t of topics) {
      let s = this.subscriptions.get(t);
      if (s === undefined) this.subscriptions.set(t, (s = new Set()));
      s.add(group);
    }
  }

  async forgetGroup(group: string): Promise<void> {
    const prefix = `${group}\u0000`;
    for (const k of [...this.offsets.keys()]) if (k.startsWith(prefix)) this.offsets.delete(k);
    for (const s of this.subscriptions.values()) s.delete(group);
    this.knownGroups.delete(group);
    this.groups.forget(group);
  }

  join(group: string, topics: string[], member: GroupMember, options?: JoinOptions): Promise<Membership> {
    if (this.closed) return Promise.reject(closedError(this.backend));
    return this.groups.join(group, topics, member, options);
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
    return this.end(topic, partition);
  }

  async purge(now: number = Date.now()): Promise<number> {
    if (this.closed) throw closedError(this.backend);
    for (const g of this.groups.idle(this.knownGroups, now - this.groupExpiryMs)) await this.forgetGroup(g);
    let purged = 0;
    for (const [name, t] of this.topics) {
      if (t.spec.retentionMs === undefined) continue;
      const cutoff = now - t.spec.retentionMs;
      const readers = [...(this.subscriptions.get(name) ?? [])];
      t.partitions.forEach((p, partition) => {
        let bound = p.start + BigInt(p.records.length);
        for (const g of readers) {
          const c = this.offsets.get(`${g}\u0000${tpKey(name, partition)}`) ?? 0n;
          if (c < bound) bound = c;
        }
        // Oldest first, while old enough and committed by every reader (Kafka deletes whole old segments).
        let n = 0;
        while (n < p.records.length && p.records[n].offset < bound && p.records[n].timestamp < cutoff) n++;
        p.records.splice(0, n);
        p.start += BigInt(n);
        purged += n;
      });
    }
    return purged;
  }

  stateStore(name: string, partition: number): StateStore {
    validateStoreName(name);
    const key = `${name}/${partition}`;
    let s = this.stores.get(key);
    if (s === undefined) this.stores.set(key, (s = new MemoryStateStore(name, partition)));
    return s;
  }

  onFatal(_listener: FatalListener): () => void {
    // Memory never fails fatally.
    return () => undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.groups.close();
  }
}
