/**
 * One member of a consumer group on Kafka: a kafkajs consumer (read_committed, no auto-commit,
 * the co-partition assignor) whose rebalances become `onRevoke`/`onAssign` calls, and
 * transactional producers whose transactions are the member's commits.
 *
 * Exactly-once: `commit` is ONE Kafka transaction — the produced records, the state-store
 * changelog records and the input offsets (`sendOffsets`) — on a transactional producer whose id
 * is stable per group and partition number (`<prefix><group>.tx.<p>`). The member that gains
 * partition p initialises that producer before processing, which bumps its epoch: the previous
 * owner (a zombie that has not noticed the rebalance) is fenced by the broker, its open
 * transaction is aborted and its next commit rejects with `FENCED`. (kafkajs 2.2 does not send
 * the group generation with `sendOffsets`, so fencing by transactional id is the mechanism, as
 * in Kafka Streams' original exactly-once mode.) A commit that touches several partition numbers
 * uses a producer for that set; one that touches none, a producer of its own member.
 *
 * Delivery: records of one partition are handed to `onRecords` in chunks of `maxBatch`, the next
 * only after the previous resolved (kafkajs does not fetch a partition while its batch is being
 * handled). A partition that is not ready (its `onAssign` still running, or lost) is paused and
 * not resolved, so restoring one partition never stalls the others. After a rejected batch the
 * partition is paused for a back-off, then re-delivered from the group's committed offset.
 */
import { randomUUID } from "node:crypto";
import type { Consumer, EachBatchPayload, Producer, RecordMetadata } from "kafkajs";
import { LannerError, describeError } from "../../common/errors.js";
import type { StateBatch } from "../../stores/state-store.js";
import { validateStoreName } from "../../stores/state-store.js";
import { fencedError } from "../errors.js";
import type { AppendResult, AssignedPartition, Commit, GroupMember, JoinOptions, LogRecord, Membership, TopicPartition } from "../log.js";
import { changelogRecords, type ChangelogRecord, type KafkaStateStore } from "./kafka-state-store.js";
import { errorType } from "./partition-reader.js";

/** What a membership needs from its log. */
export interface MembershipHost {
  readonly prefix: string;
  /** Physical topic name of a logical one. */
  physical(topic: string): string;
  /** Logical topic name of a physical one (undefined when not ours). */
  logical(physical: string): string | undefined;
  /** Validates a record and resolves its partition; throws UNKNOWN_TOPIC / BAD_PARTITION. */
  prepare(r: { topic: string; key: string; partition?: number }): { physical: string; partition: number };
  /** Message form of a record for kafkajs. */
  message(r: Commit["produce"][number], partition: number): { key: Buffer; value: Buffer; partition: number; headers: Record<string, string>; timestamp?: string };
  /** Where a produced batch landed, in input order. */
  results(input: Array<{ topic: string; partition: number }>, metadata: RecordMetadata[]): AppendResult[];
  newConsumer(groupId: string): Consumer;
  newTransactionalProducer(transactionalId: string): Producer;
  /** The changelog topic of a store, created (or grown) to hold `partition`. */
  ensureChangelog(store: string, partition: number): Promise<string>;
  stateStore(name: string, partition: number): KafkaStateStore;
  /** The read-committed end offset of a partition. */
  endOffset(topic: string, partition: number): Promise<bigint>;
  committed(group: string, topic: string, partition: number): Promise<bigint>;
  noteAssigned(partition: number): void;
  /** A join or commit of `group` (group expiry counts from the last one). */
  touched(group: string): void;
  /** Offsets a commit of `group` made durable (read back by this process before the broker shows them). */
  noteCommitted(group: string, offsets: Array<{ topic: string; partition: number; next: bigint }>): void;
  /** Forgets this process's own record of a partition's offset (the broker's is final now). */
  settleCommitted(group: string, topic: string, partition: number): void;
  /** A member of `group` left (an ephemeral group's offsets go with its last member). */
  memberLeft(group: string): Promise<void>;
  noteReleased(partition: number): void;
  assertOpen(): void;
  /** Rejects once the log stopped on a fatal failure. */
  readonly halt: Promise<never>;
  /** Reports a failure the member cannot recover from (the consumer crashed for good). */
  fatal(err: Error): void;
  readonly heartbeatIntervalMs: number;
}

interface PartitionDelivery {
  tp: TopicPartition;
  /** True once `onAssign` resolved; false while assigning, after revocation or a fence. */
  ready: boolean;
  /**
   * True from just before `onAssign` (its producer initialised) until revocation or leave: the
   * member owns it and may commit for it, also from within `onAssign` (a restore that flushes).
   */
  claimed: boolean;
  /** Next offset to deliver (records below it were delivered already). */
  position: bigint;
  inflight: Promise<void> | undefined;
  retryTimer: NodeJS.Timeout | undefined;
  failures: number;
}

interface TxProducer {
  producer: Producer;
  connected: Promise<void>;
  tail: Promise<void>;
}

const FENCED_TYPES = new Set(["PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH", "INVALID_PRODUCER_ID_MAPPING", "TRANSACTIONAL_ID_NOT_FOUND"]);

const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class KafkaMembership implements Membership {
  readonly memberId: string;
  private readonly groupId: string;
  private readonly maxBatch: number;
  private readonly parts = new Map<string, PartitionDelivery>();
  private readonly producers = new Map<string, TxProducer>();
  /** Partition numbers currently assigned to this member (ready or not). */
  private readonly numbers = new Set<number>();
  /** Partition numbers whose producer was fenced: commits reject until a rebalance assigns them again. */
  private readonly lost = new Set<number>();
  private readonly consumer: Consumer;
  private chain: Promise<void> = Promise.resolve();
  private left = false;
  private shut = false;
  private leaving: Promise<void> | undefined;
  private firstJoin!: () => void;
  private readonly joined = new Promise<void>((res) => (this.firstJoin = res));

  constructor(
    private readonly host: MembershipHost,
    private readonly group: string,
    private readonly topics: string[],
    private readonly member: GroupMember,
    options: JoinOptions = {},
  ) {
    this.memberId = options.memberId ?? `member-${randomUUID()}`;
    this.maxBatch = options.maxBatch ?? 256;
    this.groupId = `${host.prefix}${group}`;
    this.consumer = host.newConsumer(this.groupId);
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => this.onJoin(e.payload.memberAssignment));
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      if (this.left) return;
      const err = e.payload.error;
      if (!e.payload.restart) host.fatal(new LannerError("KAFKA_CONSUMER_CRASHED", `The Kafka consumer of group ${this.group} stopped: ${describeError(err)}`, { cause: err }));
    });
  }

  /** Connects, subscribes and runs; resolves after the first assignment was handed to the member. */
  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.topics.map((t) => this.host.physical(t)), fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 64,
      eachBatch: (payload) => this.eachBatch(payload),
    });
    // run() resolves after the first join; the assignment it brought may still be restoring
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.joined, new Promise<void>((res) => (timer = setTimeout(res, 60_000)))]);
    clearTimeout(timer);
    await this.chain;
  }

  assignment(): TopicPartition[] {
    return [...this.parts.values()].filter((d) => d.ready).map((d) => ({ ...d.tp }));
  }

  // ---- rebalancing ----------------------------------------------------------------------------

  private onJoin(assignment: Record<string, number[]>): void {
    const wanted = new Map<string, TopicPartition>();
    for (const [physical, partitions] of Object.entries(assignment)) {
      const topic = this.host.logical(physical);
      if (topic === undefined || !this.topics.includes(topic)) continue;
      for (const p of partitions) wanted.set(tpKey(topic, p), { topic, partition: p });
    }
    // synchronously, before kafkajs fetches: nothing is delivered for partitions in transition
    const revoked: PartitionDelivery[] = [];
    for (const [k, d] of this.parts) {
      if (!wanted.has(k)) {
        d.ready = false;
        d.claimed = false;
        revoked.push(d);
      }
    }
    const added: PartitionDelivery[] = [];
    for (const [k, tp] of wanted) {
      if (this.parts.has(k)) continue;
      const d: PartitionDelivery = { tp, ready: false, claimed: false, position: 0n, inflight: undefined, retryTimer: undefined, failures: 0 };
      this.parts.set(k, d);
      added.push(d);
    }
    const nowNumbers = new Set([...wanted.values()].map((tp) => tp.partition));
    const run = this.chain.then(() => this.rebalance(revoked, added, nowNumbers));
    this.chain = run.catch((err: unknown) => {
      this.host.fatal(new LannerError("KAFKA_REBALANCE_FAILED", `Rebalance of group ${this.group} failed: ${describeError(err)}`, { cause: err }));
    });
    void this.chain.then(() => this.firstJoin());
  }

  private async rebalance(revoked: PartitionDelivery[], added: PartitionDelivery[], nowNumbers: Set<number>): Promise<void> {
    if (revoked.length > 0) {
      for (const d of revoked) {
        clearTimeout(d.retryTimer);
        await d.inflight?.catch(() => undefined);
        this.parts.delete(tpKey(d.tp.topic, d.tp.partition));
      }
      await this.member.onRevoke(revoked.map((d) => ({ ...d.tp })));
    }
    for (const n of [...this.numbers]) {
      if (nowNumbers.has(n)) continue;
      this.numbers.delete(n);
      this.host.noteReleased(n);
      await this.dropProducers((key) => key.split(".").includes(String(n)));
    }
    if (this.left) return;
    // numbers new to this member, and numbers it kept but whose producer was fenced meanwhile
    const gained = [...nowNumbers].filter((n) => !this.numbers.has(n) || this.lost.has(n));
    for (const n of gained) {
      this.lost.delete(n);
      this.numbers.add(n);
      this.host.noteAssigned(n);
      // Initialising the partition's transactional producer fences the previous owner and
      // aborts its open transaction, so the committed offsets read next are final.
      await this.initProducer(String(n));
    }
    if (added.length === 0) return;
    const assigned: AssignedPartition[] = [];
    for (const d of added) {
      this.host.settleCommitted(this.group, d.tp.topic, d.tp.partition);
      d.position = await this.host.committed(this.group, d.tp.topic, d.tp.partition);
      assigned.push({ ...d.tp, next: d.position });
    }
    for (const d of added) if (this.parts.get(tpKey(d.tp.topic, d.tp.partition)) === d) d.claimed = true;
    await this.member.onAssign(assigned);
    for (const d of added) {
      if (this.parts.get(tpKey(d.tp.topic, d.tp.partition)) !== d) continue;
      d.ready = true;
      this.resumeAt(d, d.position);
    }
  }

  private resumeAt(d: PartitionDelivery, offset: bigint): void {
    if (this.left) return;
    const physical = this.host.physical(d.tp.topic);
    try {
      this.consumer.seek({ topic: physical, partition: d.tp.partition, offset: String(offset) });
      this.consumer.resume([{ topic: physical, partitions: [d.tp.partition] }]);
    } catch {
      // the consumer is between assignments; the next join delivers from the committed offset
    }
  }

  // ---- delivery -------------------------------------------------------------------------------

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const topic = this.host.logical(batch.topic);
    const d = topic === undefined ? undefined : this.parts.get(tpKey(topic, batch.partition));
    if (d === undefined || !d.ready || d.retryTimer !== undefined) {
      // not ours yet (restoring) or in back-off: hold this partition without resolving anything
      payload.pause();
      return;
    }
    const fresh = batch.messages.filter((m) => BigInt(m.offset) >= d.position);
    if (fresh.length === 0) {
      if (!batch.isEmpty()) payload.resolveOffset(batch.messages[batch.messages.length - 1].offset);
      return;
    }
    for (let i = 0; i < fresh.length; i += this.maxBatch) {
      if (!payload.isRunning() || payload.isStale() || !d.ready || this.left) return;
      const chunk: LogRecord[] = fresh.slice(i, i + this.maxBatch).map((m) => ({
        topic: d.tp.topic,
        partition: d.tp.partition,
        offset: BigInt(m.offset),
        key: m.key === null ? "" : m.key.toString("utf8"),
        value: m.value === null ? new Uint8Array(0) : new Uint8Array(m.value.buffer, m.value.byteOffset, m.value.byteLength),
        headers: headersOf(m.headers),
        timestamp: Number(m.timestamp),
      }));
      // kafkajs heartbeats only between batches: keep the session alive while the member works
      const beat = setInterval(() => void payload.heartbeat().catch(() => undefined), this.host.heartbeatIntervalMs);
      const work = this.member.onRecords(chunk);
      d.inflight = work;
      try {
        await work;
        d.failures = 0;
      } catch (err) {
        this.member.onError?.(err, { ...d.tp });
        this.backOff(d);
        payload.pause();
        return;
      } finally {
        clearInterval(beat);
        d.inflight = undefined;
      }
      const last = chunk[chunk.length - 1];
      d.position = last.offset + 1n;
      // kafkajs resolves past a trailing transaction marker when this is the batch's last record
      payload.resolveOffset(String(last.offset));
    }
  }

  private backOff(d: PartitionDelivery): void {
    d.failures++;
    const delay = Math.min(5_000, 50 * 2 ** Math.min(d.failures, 7));
    d.retryTimer = setTimeout(() => {
      void this.host
        .committed(this.group, d.tp.topic, d.tp.partition)
        .then((next) => {
          d.retryTimer = undefined;
          if (!d.ready || this.parts.get(tpKey(d.tp.topic, d.tp.partition)) !== d) return;
          d.position = next;
          this.resumeAt(d, next);
        })
        .catch(() => {
          d.retryTimer = undefined;
          if (d.ready) this.backOff(d);
        });
    }, delay);
    d.retryTimer.unref();
  }

  // ---- commits --------------------------------------------------------------------------------

  private owns(tp: TopicPartition): boolean {
    const d = this.parts.get(tpKey(tp.topic, tp.partition));
    return !this.left && d !== undefined && d.claimed && !this.lost.has(tp.partition);
  }

  private checkOwned(c: Commit): void {
    for (const tp of [...c.offsets, ...(c.fence ?? [])]) {
      if (!this.owns(tp)) throw fencedError(this.group, tp.topic, tp.partition, this.memberId);
    }
  }

  async commit(c: Commit, state?: StateBatch | StateBatch[]): Promise<AppendResult[]> {
    this.host.assertOpen();
    const batches = state === undefined ? [] : Array.isArray(state) ? state : [state];
    const prepared = c.produce.map((r) => ({ r, ...this.host.prepare(r) }));
    for (const b of batches) validateStoreName(b.store);
    for (const o of c.offsets) if (!this.topics.includes(o.topic)) throw fencedError(this.group, o.topic, o.partition, this.memberId);
    this.checkOwned(c);
    const numbers = [...new Set([...c.offsets, ...(c.fence ?? [])].map((x) => x.partition))].sort((a, b) => a - b);
    const key = numbers.length === 0 ? `m.${this.memberId}` : numbers.join(".");
    const tp = await this.producer(key);
    return this.exclusive(tp, () => Promise.race([this.host.halt, this.transact(tp, c, prepared, batches, key, numbers)]));
  }

  private async transact(
    tp: TxProducer,
    c: Commit,
    prepared: Array<{ r: Commit["produce"][number]; physical: string; partition: number }>,
    batches: StateBatch[],
    key: string,
    numbers: number[],
  ): Promise<AppendResult[]> {
    {
      this.host.assertOpen();
      this.checkOwned(c);
      const tx = await tp.producer.transaction();
      try {
        let results: AppendResult[] = [];
        if (prepared.length > 0) {
          const byTopic = new Map<string, Array<ReturnType<MembershipHost["message"]>>>();
          for (const p of prepared) {
            const list = byTopic.get(p.physical) ?? [];
            list.push(this.host.message(p.r, p.partition));
            byTopic.set(p.physical, list);
          }
          const md = await tx.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
          results = this.host.results(
            prepared.map((p) => ({ topic: p.r.topic, partition: p.partition })),
            md,
          );
        }
        const writes = await this.sendState(tx, batches, results);
        if (c.offsets.length > 0) {
          const byTopic = new Map<string, Array<{ partition: number; offset: string }>>();
          for (const o of c.offsets) {
            const physical = this.host.physical(o.topic);
            byTopic.set(physical, [...(byTopic.get(physical) ?? []), { partition: o.partition, offset: String(o.next) }]);
          }
          await tx.sendOffsets({ consumerGroupId: this.groupId, topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) });
        }
        await tx.commit();
        if (c.offsets.length > 0) {
          this.host.touched(this.group);
          this.host.noteCommitted(this.group, c.offsets);
        }
        for (const w of writes) await this.host.stateStore(w.store, w.partition).applyCommitted(w.records, w.first, w.last);
        return results;
      } catch (err) {
        await tx.abort().catch(() => undefined);
        throw await this.commitError(err, key, numbers);
      }
    }
  }

  /** Sends the state batches as changelog records in the open transaction. */
  private async sendState(
    tx: { sendBatch: Producer["sendBatch"] },
    batches: StateBatch[],
    results: AppendResult[],
  ): Promise<Array<{ store: string; partition: number; records: ChangelogRecord[]; first: bigint; last: bigint }>> {
    const pending: Array<{ store: string; partition: number; physical: string; records: ChangelogRecord[] }> = [];
    for (const b of batches) {
      let checkpoint = b.offset;
      if (checkpoint === undefined && b.changelogTopic !== undefined) {
        const mine = results.filter((r) => r.topic === b.changelogTopic && r.partition === b.partition);
        checkpoint = mine.length > 0 ? mine[mine.length - 1].offset + 1n : await this.host.endOffset(b.changelogTopic, b.partition);
      }
      const records = changelogRecords(b, checkpoint);
      if (records.length === 0) continue;
      const physical = await this.host.ensureChangelog(b.store, b.partition);
      const same = pending.find((x) => x.physical === physical && x.partition === b.partition);
      if (same) same.records.push(...records);
      else pending.push({ store: b.store, partition: b.partition, physical, records });
    }
    if (pending.length === 0) return [];
    const byTopic = new Map<string, Array<{ key: Buffer; value: Buffer | null; partition: number }>>();
    for (const p of pending) {
      const list = byTopic.get(p.physical) ?? [];
      for (const r of p.records) list.push({ key: Buffer.from(r.key, "utf8"), value: r.value, partition: p.partition });
      byTopic.set(p.physical, list);
    }
    const md = await tx.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    return pending.map((p) => {
      const m = md.find((x) => x.topicName === p.physical && x.partition === p.partition);
      if (m === undefined || m.baseOffset === undefined) throw new LannerError("KAFKA_COMMIT_FAILED", `No offset returned for the changelog of store ${p.store}.`, { retriable: true });
      const first = BigInt(m.baseOffset);
      return { store: p.store, partition: p.partition, records: p.records, first, last: first + BigInt(p.records.length - 1) };
    });
  }

  private async commitError(err: unknown, key: string, numbers: number[]): Promise<LannerError> {
    const type = errorType(err);
    if (type !== undefined && FENCED_TYPES.has(type)) {
      for (const n of numbers) this.lost.add(n);
      await this.dropProducers((k) => k === key);
      const tp = numbers.length > 0 ? { topic: this.topics[0], partition: numbers[0] } : { topic: this.topics[0], partition: -1 };
      const e = fencedError(this.group, tp.topic, tp.partition, this.memberId);
      e.cause = err;
      return e;
    }
    if (err instanceof LannerError) return err;
    return new LannerError("KAFKA_COMMIT_FAILED", `A commit of group ${this.group} failed and was aborted: ${describeError(err)}`, { retriable: true, cause: err });
  }

  private exclusive<T>(tp: TxProducer, fn: () => Promise<T>): Promise<T> {
    const run = tp.tail.then(fn);
    tp.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async producer(key: string): Promise<TxProducer> {
    let tp = this.producers.get(key);
    if (tp === undefined) {
      const producer = this.host.newTransactionalProducer(`${this.groupId}.tx.${key}`);
      tp = { producer, connected: producer.connect(), tail: Promise.resolve() };
      this.producers.set(key, tp);
    }
    await tp.connected;
    return tp;
  }

  private async initProducer(key: string): Promise<void> {
    const tp = await this.producer(key);
    await this.exclusive(tp, async () => {
      const tx = await tp.producer.transaction();
      await tx.abort();
    });
  }

  private async dropProducers(match: (key: string) => boolean): Promise<void> {
    for (const [k, tp] of [...this.producers]) {
      if (!match(k)) continue;
      this.producers.delete(k);
      await tp.tail;
      await tp.producer.disconnect().catch(() => undefined);
    }
  }

  // ---- leaving --------------------------------------------------------------------------------

  leave(): Promise<void> {
    this.leaving ??= this.doLeave();
    return this.leaving;
  }

  private async doLeave(): Promise<void> {
    const owned = [...this.parts.values()];
    for (const d of owned) {
      d.ready = false;
      d.claimed = false;
      clearTimeout(d.retryTimer);
    }
    for (const d of owned) await d.inflight?.catch(() => undefined);
    let wait: NodeJS.Timeout | undefined;
    await Promise.race([this.chain, new Promise<void>((res) => (wait = setTimeout(res, 10_000)))]);
    clearTimeout(wait);
    this.left = true;
    // stop() waits for kafkajs's running batch and sends LeaveGroup: the partitions move at once.
    // Bounded: with the connections gone (a dead broker, a killed process) nobody answers.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.consumer.stop().catch(() => undefined), new Promise<void>((res) => (timer = setTimeout(res, 10_000)))]);
    clearTimeout(timer);
    this.parts.clear();
    if (owned.length > 0) await this.member.onRevoke(owned.map((d) => ({ ...d.tp })));
    for (const n of this.numbers) this.host.noteReleased(n);
    this.numbers.clear();
    await this.dropProducers(() => true);
    await Promise.race([this.consumer.disconnect().catch(() => undefined), new Promise<void>((res) => (timer = setTimeout(res, 5_000)))]);
    clearTimeout(timer);
    await this.host.memberLeft(this.group);
  }

  /** Closing the log: stops without revoking callbacks (no rebalance is awaited). Idempotent. */
  async shutdown(): Promise<void> {
    if (this.left && this.leaving === undefined && this.shut) return;
    this.shut = true;
    this.left = true;
    for (const d of this.parts.values()) clearTimeout(d.retryTimer);
    for (const n of this.numbers) this.host.noteReleased(n);
    this.numbers.clear();
    await this.consumer.disconnect().catch(() => undefined);
    await this.dropProducers(() => true);
  }
}

/** kafkajs headers (Buffers, repeated keys as arrays) as the Log's string map (the last value wins). */
export function headersOf(h: Record<string, Buffer | string | Array<Buffer | string> | undefined> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    if (v === undefined) continue;
    const one = Array.isArray(v) ? v[v.length - 1] : v;
    if (one === undefined) continue;
    out[k] = typeof one === "string" ? one : one.toString("utf8");
  }
  return out;
}
