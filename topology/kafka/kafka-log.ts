/**
 * The Log on Apache Kafka (kafkajs 2.2.4). Topic names get a prefix (`topicPrefix`); logical
 * names are what callers see. Partitions are placed by our murmur2 partitioner
 * (`partitionForKey`, identical to Kafka's Java client) and passed explicitly, so a record
 * produced by an outside Kafka client with the same key lands on the same partition.
 *
 * - `append`: an idempotent (non-transactional) producer, acks=all.
 * - `join`: one kafkajs consumer per member, read_committed, see `kafka-membership.ts` for the
 *   transactions, fencing, rebalancing and backpressure.
 * - `readPartition`, `endOffset`: a read-committed fetch outside any group; the end is the last
 *   stable offset. Offsets written by commits are NOT dense: every transaction leaves a marker
 *   that takes an offset (readers skip it).
 * - `committed`: the group's offsets through the admin client.
 * - State stores: a local classic-level copy in `<dataDir>/kafka-state` of a compacted changelog
 *   topic per store, written inside each commit's transaction (`kafka-state-store.ts`).
 * - `purge`: deletes records (`DeleteRecords`) older than their topic's `retentionMs` that every
 *   group reading the topic committed, like the other backends. With `brokerRetention` the
 *   topics also get Kafka's own `retention.ms`, and the broker then deletes old segments by age
 *   whether or not a group consumed them — Kafka's usual semantics, for deployments that prefer
 *   them; by default topics keep records until `purge` removes them.
 */
import { join } from "node:path";
import { Kafka, logLevel, type Admin, type Consumer, type ISocketFactory, type Producer, type RecordMetadata } from "kafkajs";
import { LannerError, describeError } from "../../common/errors.js";
import { validateStoreName } from "../../stores/state-store.js";
import { badPartitionError, closedError, groupPartitionsMismatchError, partitionsMismatchError, unknownTopicError, validateTopicName } from "../errors.js";
import { DEFAULT_GROUP_EXPIRY_MS, type AppendResult, type FatalListener, type GroupMember, type JoinOptions, type Log, type LogRecord, type Membership, type ProduceRecord, type TopicSpec } from "../log.js";
import { partitionForKey } from "../partitioner.js";
import { coPartitionAssigner } from "./co-partition-assigner.js";
import { ConnectionWatch } from "./connection-watch.js";
import { KafkaMembership, headersOf, type MembershipHost } from "./kafka-membership.js";
import { KafkaStateStore, LocalStores, type ChangelogRecord, type StoreHost } from "./kafka-state-store.js";
import { PartitionReader, errorType } from "./partition-reader.js";

export interface KafkaLogOptions {
  /** Bootstrap servers, e.g. `["127.0.0.1:9092"]`. */
  brokers: string[];
  /** Prepended to every topic, group and transactional id (e.g. `prod.`); default none. */
  topicPrefix?: string;
  /** Where the local copies of the state stores live (`<dataDir>/kafka-state`). */
  dataDir: string;
  clientId?: string;
  /** Replication factor of created topics; default 1 (a single broker). */
  replicationFactor?: number;
  /** A member silent for this long leaves its group (its partitions move); default 10 s. */
  sessionTimeoutMs?: number;
  /** default 1 s */
  heartbeatIntervalMs?: number;
  /** An open transaction of a dead member is aborted after this long at the latest; default 30 s. */
  transactionTimeoutMs?: number;
  /** Also set Kafka's `retention.ms` on topics with a retention (see the module comment); default false. */
  brokerRetention?: boolean;
  /** Connection factory (TLS, tests that cut connections); default kafkajs's plain sockets. */
  socketFactory?: ISocketFactory;
  /** A group with no live member and no join or commit for this long is forgotten by `purge`; default one day. */
  groupExpiryMs?: number;
  /** Hears kafkajs's own log lines (warn and error); default silent. */
  onClientLog?: (level: "error" | "warn", message: string, extra: Record<string, unknown>) => void;
}

interface TopicInfo {
  partitions: number;
  retentionMs?: number;
}

const STORE_TOPIC_BAD = /[^A-Za-z0-9._-]/g;

export class KafkaLog implements Log, MembershipHost, StoreHost {
  readonly backend = "kafka";
  /** Each partition group commits in its own transaction, in whatever order the broker completes them. */
  readonly commitsInOrder = false;
  readonly prefix: string;
  readonly heartbeatIntervalMs: number;
  private readonly topics = new Map<string, TopicInfo>();
  private readonly storeTopics = new Map<string, Promise<{ physical: string; partitions: number }>>();
  private readonly stores = new Map<string, KafkaStateStore>();
  private readonly members = new Set<KafkaMembership>();
  /** Groups joined per topic by this log (they count for `purge` before their first commit). */
  private readonly readers = new Map<string, Set<string>>();
  /** The topics (and partition counts) each group joined here reads. */
  private readonly groupTopics = new Map<string, Map<string, number>>();
  private readonly ephemeral = new Set<string>();
  /** Live members per group in this process. */
  private readonly live = new Map<string, number>();
  /** Last join, commit or leave per group seen by this process (for group expiry). */
  private readonly activity = new Map<string, number>();
  /** Offsets this process committed that the broker may not show yet (see `noteCommitted`). */
  private readonly pendingOffsets = new Map<string, bigint>();
  private readonly epochs = new Map<number, number>();
  private readonly owners = new Map<number, number>();
  private readonly fatalListeners = new Set<FatalListener>();
  private closed = false;
  private halted: Error | undefined;
  /** Rejects once the log stopped on a fatal failure: in-flight commits race it. */
  readonly halt: Promise<never>;
  private haltWith!: (err: Error) => void;

  private constructor(
    private readonly options: KafkaLogOptions,
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly producer: Producer,
    private readonly reader: PartitionReader,
    private readonly local: LocalStores,
    private readonly watch: ConnectionWatch,
  ) {
    // never rejects unobserved: commits race it, and only after a fatal failure does it settle
    this.halt = new Promise<never>((_, reject) => (this.haltWith = reject));
    this.halt.catch(() => undefined);
    this.prefix = options.topicPrefix ?? "";
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 1_000;
  }

  private static client(o: KafkaLogOptions, watch: ConnectionWatch): Kafka {
    return new Kafka({
      clientId: o.clientId ?? "lanner",
      brokers: o.brokers,
      connectionTimeout: 3_000,
      requestTimeout: 30_000,
      retry: { initialRetryTime: 50, maxRetryTime: 2_000, retries: 8 },
      socketFactory: watch.factory(o.socketFactory),
      logLevel: o.onClientLog ? logLevel.WARN : logLevel.NOTHING,
      logCreator:
        () =>
        ({ level, log }) => {
          const { message, ...extra } = log;
          o.onClientLog?.(level === logLevel.ERROR ? "error" : "warn", String(message), extra);
        },
    });
  }

  /** Connects to the cluster; rejects with `KAFKA_UNAVAILABLE` when no broker answers. */
  static async open(options: KafkaLogOptions): Promise<KafkaLog> {
    if (options.brokers.length === 0) throw new LannerError("CONFIG_INVALID", "The kafka backend needs at least one broker (--kafka-brokers or kafka.brokers).");
    const lostRef: { fn?: (err: Error) => void } = {};
    const watch = new ConnectionWatch(options.sessionTimeoutMs ?? 10_000, (err) => lostRef.fn?.(err));
    const kafka = KafkaLog.client(options, watch);
    const admin = kafka.admin();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    try {
      await admin.connect();
      await producer.connect();
    } catch (err) {
      await admin.disconnect().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      watch.stop();
      throw new LannerError("KAFKA_UNAVAILABLE", `Cannot reach Kafka at ${options.brokers.join(",")}: ${describeError(err)}`, { retriable: true, cause: err });
    }
    const local = await LocalStores.open(join(options.dataDir, "kafka-state"));
    const log = new KafkaLog(options, kafka, admin, producer, PartitionReader.open(kafka), local, watch);
    lostRef.fn = (err) => log.fatal(err);
    return log;
  }

  // ---- names ----------------------------------------------------------------------------------

  physical(topic: string): string {
    return `${this.prefix}${topic}`;
  }

  logical(physical: string): string | undefined {
    return physical.startsWith(this.prefix) ? physical.slice(this.prefix.length) : undefined;
  }

  private info(topic: string): TopicInfo {
    const i = this.topics.get(topic);
    if (i === undefined) throw unknownTopicError(topic);
    return i;
  }

  assertOpen(): void {
    if (this.halted) throw new LannerError("KAFKA_CONNECTION_LOST", `The Kafka log stopped: ${this.halted.message}`, { retriable: true, cause: this.halted });
    if (this.closed) throw closedError(this.backend);
  }

  // ---- topics ---------------------------------------------------------------------------------

  async ensureTopics(specs: TopicSpec[]): Promise<void> {
    this.assertOpen();
    for (const s of specs) {
      validateTopicName(s.name);
      validateTopicName(this.physical(s.name));
      if (!Number.isInteger(s.partitions) || s.partitions <= 0) {
        throw new LannerError("TOPIC_PARTITIONS_INVALID", `Topic ${s.name} needs a positive whole number of partitions, not ${s.partitions}.`);
      }
    }
    const existing = new Set(await this.admin.listTopics());
    const missing = specs.filter((s) => !existing.has(this.physical(s.name)));
    if (missing.length > 0) {
      const unique = [...new Map(missing.map((s) => [s.name, s])).values()];
      try {
        // Leaders are awaited by `readyMetadata` below: kafkajs's own wait retries only
        // LEADER_NOT_AVAILABLE, while a Kafka 4 broker answers a just-created topic's metadata
        // with UNKNOWN_TOPIC_OR_PARTITION for a moment.
        await this.admin.createTopics({
          waitForLeaders: false,
          topics: unique.map((s) => ({
            topic: this.physical(s.name),
            numPartitions: s.partitions,
            replicationFactor: this.options.replicationFactor ?? 1,
            configEntries: [
              { name: "retention.ms", value: this.options.brokerRetention === true && s.retentionMs !== undefined ? String(s.retentionMs) : "-1" },
              { name: "max.message.bytes", value: String(16 * 1024 * 1024) },
            ],
          })),
        });
      } catch (err) {
        // another process may have created some of them meanwhile: the metadata below decides
        if (errorType(err) !== "TOPIC_ALREADY_EXISTS") throw err;
      }
    }
    const md = await this.readyMetadata([...new Set(specs.map((s) => this.physical(s.name)))]);
    const counts = new Map(md.topics.map((t) => [t.name, t.partitions.length]));
    for (const s of specs) {
      const n = counts.get(this.physical(s.name)) ?? 0;
      if (n !== s.partitions) throw partitionsMismatchError(s.name, n, s.partitions);
      this.topics.set(s.name, { partitions: n, ...(s.retentionMs !== undefined ? { retentionMs: s.retentionMs } : {}) });
    }
  }

  /**
   * The metadata of `names` once every partition has a leader. A topic that another process has
   * just created is not yet known everywhere: lookups answer UNKNOWN_TOPIC_OR_PARTITION or
   * LEADER_NOT_AVAILABLE for a moment (and `createTopics` waits for leaders only in the process
   * that created them), so a starting process retries — bounded to about 30 s — instead of failing.
   */
  private async readyMetadata(names: string[]): Promise<Awaited<ReturnType<Admin["fetchTopicMetadata"]>>> {
    const transient = new Set(["UNKNOWN_TOPIC_OR_PARTITION", "LEADER_NOT_AVAILABLE", "NOT_LEADER_FOR_PARTITION"]);
    for (let attempt = 1; ; attempt++) {
      try {
        const md = await this.admin.fetchTopicMetadata({ topics: names });
        const ready = md.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
        if (ready || attempt >= 150) return md;
      } catch (err) {
        if (attempt >= 150 || !transient.has(errorType(err) ?? "")) throw err;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  partitionsOf(topic: string): number {
    return this.info(topic).partitions;
  }

  prepare(r: { topic: string; key: string; partition?: number }): { physical: string; partition: number } {
    const n = this.info(r.topic).partitions;
    const partition = r.partition ?? partitionForKey(r.key, n);
    if (!Number.isInteger(partition) || partition < 0 || partition >= n) throw badPartitionError(r.topic, partition, n);
    return { physical: this.physical(r.topic), partition };
  }

  message(r: ProduceRecord, partition: number): { key: Buffer; value: Buffer; partition: number; headers: Record<string, string>; timestamp?: string } {
    return {
      key: Buffer.from(r.key, "utf8"),
      value: Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength),
      partition,
      headers: r.headers ?? {},
      ...(r.timestamp !== undefined ? { timestamp: String(r.timestamp) } : {}),
    };
  }

  results(input: Array<{ topic: string; partition: number }>, metadata: RecordMetadata[]): AppendResult[] {
    const next = new Map<string, bigint>();
    for (const m of metadata) {
      if (m.baseOffset !== undefined) next.set(`${m.topicName}\u0000${m.partition}`, BigInt(m.baseOffset));
    }
    return input.map(({ topic, partition }) => {
      const k = `${this.physical(topic)}\u0000${partition}`;
      const offset = next.get(k);
      if (offset === undefined) throw new LannerError("KAFKA_APPEND_FAILED", `Kafka returned no offset for ${topic}[${partition}].`, { retriable: true });
      next.set(k, offset + 1n);
      return { topic, partition, offset };
    });
  }

  // ---- appends and reads ----------------------------------------------------------------------

  async append(records: ProduceRecord[]): Promise<AppendResult[]> {
    this.assertOpen();
    if (records.length === 0) return [];
    const prepared = records.map((r) => ({ r, ...this.prepare(r) }));
    const byTopic = new Map<string, Array<ReturnType<KafkaLog["message"]>>>();
    for (const p of prepared) {
      const list = byTopic.get(p.physical) ?? [];
      list.push(this.message(p.r, p.partition));
      byTopic.set(p.physical, list);
    }
    let md: RecordMetadata[];
    try {
      md = await this.producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    } catch (err) {
      throw new LannerError("KAFKA_APPEND_FAILED", `Appending ${records.length} record(s) to Kafka failed: ${describeError(err)}`, { retriable: true, cause: err });
    }
    return this.results(
      prepared.map((p) => ({ topic: p.r.topic, partition: p.partition })),
      md,
    );
  }

  async *readPartition(topic: string, partition: number, from: bigint): AsyncIterable<LogRecord> {
    this.assertOpen();
    const n = this.info(topic).partitions;
    if (partition < 0 || partition >= n) throw badPartitionError(topic, partition, n);
    for await (const m of this.reader.read(this.physical(topic), partition, from)) {
      yield {
        topic,
        partition,
        offset: m.offsetN,
        key: m.key === null ? "" : m.key.toString("utf8"),
        value: m.value === null ? new Uint8Array(0) : new Uint8Array(m.value.buffer, m.value.byteOffset, m.value.byteLength),
        headers: headersOf(m.headers),
        timestamp: Number(m.timestamp),
      };
    }
  }

  async endOffset(topic: string, partition: number): Promise<bigint> {
    this.assertOpen();
    const n = this.info(topic).partitions;
    if (partition < 0 || partition >= n) throw badPartitionError(topic, partition, n);
    return this.reader.offset(this.physical(topic), partition, "latest");
  }

  async committed(group: string, topic: string, partition: number): Promise<bigint> {
    this.assertOpen();
    const key = offsetKey(group, topic, partition);
    const mine = this.pendingOffsets.get(key);
    // Bounded: the transaction's marker reaches the offsets topic within milliseconds.
    for (let i = 0; ; i++) {
      const v = await this.brokerCommitted(group, topic, partition);
      if (mine === undefined) return v;
      if (v === mine || i >= 100) {
        if (this.pendingOffsets.get(key) === mine) this.pendingOffsets.delete(key);
        return mine;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private async brokerCommitted(group: string, topic: string, partition: number): Promise<bigint> {
    const res = await this.admin.fetchOffsets({ groupId: `${this.prefix}${group}`, topics: [this.physical(topic)] });
    const p = res[0]?.partitions.find((x) => x.partition === partition);
    const v = p === undefined ? -1n : BigInt(p.offset);
    return v < 0n ? 0n : v;
  }

  /**
   * Offsets committed by a transaction become visible to OffsetFetch only once the transaction's
   * marker reached the offsets topic, a moment after the commit resolved (kafkajs cannot ask for
   * stable offsets). This process remembers what it committed, so it reads its own commits.
   */
  noteCommitted(group: string, offsets: Array<{ topic: string; partition: number; next: bigint }>): void {
    for (const o of offsets) this.pendingOffsets.set(offsetKey(group, o.topic, o.partition), o.next);
  }

  /** After the partition's producer was initialised, the broker's offsets are final: forget ours. */
  settleCommitted(group: string, topic: string, partition: number): void {
    this.pendingOffsets.delete(offsetKey(group, topic, partition));
  }

  private forgetGroup(group: string): void {
    for (const k of [...this.pendingOffsets.keys()]) if (k.startsWith(`${group}\u0000`)) this.pendingOffsets.delete(k);
  }

  // ---- groups ---------------------------------------------------------------------------------

  async join(group: string, topics: string[], member: GroupMember, options?: JoinOptions): Promise<Membership> {
    this.assertOpen();
    const counts: Record<string, number> = Object.fromEntries(this.groupTopics.get(group) ?? []);
    for (const t of topics) counts[t] = this.info(t).partitions;
    if (new Set(Object.values(counts)).size > 1) throw groupPartitionsMismatchError(group, counts);
    this.groupTopics.set(group, new Map(Object.entries(counts)));
    if (options?.ephemeral === true) this.ephemeral.add(group);
    else {
      for (const t of topics) {
        const set = this.readers.get(t) ?? new Set<string>();
        set.add(group);
        this.readers.set(t, set);
      }
    }
    this.touched(group);
    this.live.set(group, (this.live.get(group) ?? 0) + 1);
    const m = new KafkaMembership(this, group, topics, member, options);
    this.members.add(m);
    try {
      await m.start();
    } catch (err) {
      this.members.delete(m);
      await m.shutdown();
      await this.memberLeft(group);
      throw new LannerError("KAFKA_JOIN_FAILED", `Joining group ${group} failed: ${describeError(err)}`, { retriable: true, cause: err });
    }
    return m;
  }

  newConsumer(groupId: string): Consumer {
    const session = this.options.sessionTimeoutMs ?? 10_000;
    return this.kafka.consumer({
      groupId,
      partitionAssigners: [coPartitionAssigner],
      readUncommitted: false,
      allowAutoTopicCreation: false,
      sessionTimeout: session,
      rebalanceTimeout: Math.max(session, 10_000),
      heartbeatInterval: this.heartbeatIntervalMs,
      // a fetch waits at most this long for new records: the broker answers as soon as one arrives
      maxWaitTimeInMs: 500,
      retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 10 },
    });
  }

  newTransactionalProducer(transactionalId: string): Producer {
    return this.kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      transactionTimeout: this.options.transactionTimeoutMs ?? 30_000,
      // CONCURRENT_TRANSACTIONS (the previous commit's markers still being written) clears in
      // milliseconds: retry quickly instead of kafkajs's default 300 ms back-off
      retry: { initialRetryTime: 10, maxRetryTime: 500, retries: 12 },
    });
  }

  noteAssigned(partition: number): void {
    this.owners.set(partition, (this.owners.get(partition) ?? 0) + 1);
    this.epochs.set(partition, (this.epochs.get(partition) ?? 0) + 1);
  }

  noteReleased(partition: number): void {
    const n = (this.owners.get(partition) ?? 0) - 1;
    if (n > 0) this.owners.set(partition, n);
    else this.owners.delete(partition);
  }

  touched(group: string): void {
    this.activity.set(group, Date.now());
  }

  /** A member of `group` left: an ephemeral group's offsets go with its last member. */
  async memberLeft(group: string): Promise<void> {
    this.touched(group);
    const n = (this.live.get(group) ?? 1) - 1;
    if (n > 0) {
      this.live.set(group, n);
      return;
    }
    this.live.delete(group);
    if (!this.ephemeral.has(group) || this.closed) return;
    // the broker refuses to delete a group until its last member's LeaveGroup was processed
    for (let i = 0; i < 20; i++) {
      try {
        await this.admin.deleteGroups([`${this.prefix}${group}`]);
        this.forgetGroup(group);
        return;
      } catch (err) {
        const t = errorType(err);
        if (t === "GROUP_ID_NOT_FOUND") return;
        if (t !== "NON_EMPTY_GROUP" && i >= 3) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  fatal(err: Error): void {
    if (this.closed || this.halted) return;
    this.halted = err;
    this.haltWith(new LannerError("KAFKA_CONNECTION_LOST", `The Kafka log stopped: ${err.message}`, { retriable: true, cause: err }));
    // stop every client now: nothing this process still has in flight may commit later
    for (const m of this.members) void m.shutdown();
    void within(this.producer.disconnect(), 2_000);
    for (const l of this.fatalListeners) l(err);
  }

  // ---- state stores ---------------------------------------------------------------------------

  stateStore(name: string, partition: number): KafkaStateStore {
    validateStoreName(name);
    const k = `${name}/${partition}`;
    let s = this.stores.get(k);
    if (s === undefined) {
      s = new KafkaStateStore(this.local, this, name, partition);
      this.stores.set(k, s);
    }
    return s;
  }

  stale(partition: number, syncedEpoch: number): boolean {
    return !this.owners.has(partition) || syncedEpoch !== (this.epochs.get(partition) ?? 0);
  }

  epoch(partition: number): number {
    return this.epochs.get(partition) ?? 0;
  }

  private storeTopicName(store: string): string {
    const clean = store.replace(STORE_TOPIC_BAD, "_");
    return `${this.prefix}__store.${clean === store ? clean : `${clean}.${Buffer.from(store, "utf8").toString("hex").slice(0, 16)}`}`;
  }

  /** The changelog topic of `store`, created or grown to hold partition `partition`. */
  async ensureChangelog(store: string, partition: number): Promise<string> {
    const physical = this.storeTopicName(store);
    const want = Math.max(partition + 1, ...[...this.topics.values()].map((t) => t.partitions));
    const prev = this.storeTopics.get(store);
    const known = prev ? await prev.catch(() => undefined) : undefined;
    if (known !== undefined && known.partitions > partition) return physical;
    const next = (async () => {
      const existing = (await this.admin.listTopics()).includes(physical);
      if (!existing) {
        try {
          await this.admin.createTopics({
            waitForLeaders: false, // awaited by readyMetadata, as in ensureTopics
            topics: [
              {
                topic: physical,
                numPartitions: want,
                replicationFactor: this.options.replicationFactor ?? 1,
                configEntries: [
                  { name: "cleanup.policy", value: "compact" },
                  { name: "max.message.bytes", value: String(16 * 1024 * 1024) },
                ],
              },
            ],
          });
        } catch (err) {
          if (errorType(err) !== "TOPIC_ALREADY_EXISTS") throw err;
        }
      }
      const md = await this.readyMetadata([physical]);
      let count = md.topics[0]?.partitions.length ?? 0;
      if (count <= partition) {
        await this.admin.createPartitions({ topicPartitions: [{ topic: physical, count: partition + 1 }] }).catch((err: unknown) => {
          if (errorType(err) !== "INVALID_PARTITIONS") throw err;
        });
        count = partition + 1;
      }
      return { physical, partitions: count };
    })();
    this.storeTopics.set(store, next);
    return (await next).physical;
  }

  async *readChangelog(store: string, partition: number, from: bigint): AsyncIterable<{ offset: bigint; key: string; value: Buffer | null }> {
    const physical = this.storeTopicName(store);
    const known = await this.storeTopics.get(store)?.catch(() => undefined);
    if (known === undefined || known.partitions <= partition) {
      const md = await this.admin.fetchTopicMetadata({ topics: [physical] }).catch(() => undefined);
      const count = md?.topics[0]?.partitions.length ?? 0;
      if (count <= partition) return;
      this.storeTopics.set(store, Promise.resolve({ physical, partitions: count }));
    }
    for await (const m of this.reader.read(physical, partition, from)) {
      yield { offset: m.offsetN, key: m.key === null ? "" : m.key.toString("utf8"), value: m.value };
    }
  }

  async appendChangelog(store: string, partition: number, records: ChangelogRecord[]): Promise<{ first: bigint; last: bigint } | undefined> {
    this.assertOpen();
    if (records.length === 0) return undefined;
    const topic = await this.ensureChangelog(store, partition);
    const md = await this.producer.send({
      topic,
      acks: -1,
      messages: records.map((r) => ({ key: Buffer.from(r.key, "utf8"), value: r.value, partition })),
    });
    const base = md.find((m) => m.partition === partition)?.baseOffset;
    if (base === undefined) throw new LannerError("KAFKA_APPEND_FAILED", `Kafka returned no offset for the changelog of store ${store}.`, { retriable: true });
    return { first: BigInt(base), last: BigInt(base) + BigInt(records.length - 1) };
  }

  // ---- retention ------------------------------------------------------------------------------

  async purge(now: number = Date.now()): Promise<number> {
    this.assertOpen();
    let purged = 0;
    const retained = [...this.topics].filter(([, i]) => i.retentionMs !== undefined);
    if (retained.length === 0) return 0;
    let groups = (await this.admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(this.prefix));
    groups = groups.filter((g) => !this.ephemeral.has(g.slice(this.prefix.length)));
    // Expired groups (no live member, no join or commit here for groupExpiryMs) are forgotten.
    // Groups this process never saw are left to the broker's own offsets.retention.minutes.
    const expiry = this.options.groupExpiryMs ?? DEFAULT_GROUP_EXPIRY_MS;
    const expired = groups.filter((g) => {
      const name = g.slice(this.prefix.length);
      const last = this.activity.get(name);
      return !this.live.has(name) && last !== undefined && now - last > expiry;
    });
    if (expired.length > 0) {
      const described = await this.admin.describeGroups(expired);
      const empty = described.groups.filter((d) => d.state === "Empty" || d.state === "Dead").map((d) => d.groupId);
      if (empty.length > 0) await this.admin.deleteGroups(empty).catch(() => undefined);
      for (const g of empty) {
        const name = g.slice(this.prefix.length);
        this.activity.delete(name);
        this.forgetGroup(name);
        for (const set of this.readers.values()) set.delete(name);
      }
      groups = groups.filter((g) => !empty.includes(g));
    }
    for (const [topic, info] of retained) {
      const physical = this.physical(topic);
      // the committed offset of every group that reads the topic, per partition
      const floors: bigint[][] = [];
      const joined = this.readers.get(topic) ?? new Set<string>();
      for (const g of groups) {
        const res = await this.admin.fetchOffsets({ groupId: g, topics: [physical] });
        const parts = res[0]?.partitions ?? [];
        const name = g.slice(this.prefix.length);
        const anyCommit = parts.some((p) => BigInt(p.offset) >= 0n) || [...this.pendingOffsets.keys()].some((k) => k.startsWith(`${name}\u0000${topic}\u0000`));
        if (!anyCommit && !joined.has(name)) continue;
        const row: bigint[] = [];
        for (let p = 0; p < info.partitions; p++) {
          const o = parts.find((x) => x.partition === p);
          const v = o === undefined ? -1n : BigInt(o.offset);
          row.push(this.pendingOffsets.get(offsetKey(g.slice(this.prefix.length), topic, p)) ?? (v < 0n ? 0n : v));
        }
        floors.push(row);
      }
      for (const g of joined) {
        if (!groups.includes(`${this.prefix}${g}`)) floors.push(new Array<bigint>(info.partitions).fill(0n));
      }
      const young = await this.admin.fetchTopicOffsetsByTimestamp(physical, now - (info.retentionMs ?? 0));
      for (let p = 0; p < info.partitions; p++) {
        const start = await this.reader.offset(physical, p, "earliest");
        const end = await this.reader.offset(physical, p, "latest");
        const y = young.find((x) => x.partition === p);
        let target = y === undefined || BigInt(y.offset) < 0n ? end : BigInt(y.offset);
        for (const row of floors) if (row[p] < target) target = row[p];
        if (target <= start) continue;
        await this.admin.deleteTopicRecords({ topic: physical, partitions: [{ partition: p, offset: String(target) }] });
        purged += Number(target - start);
      }
    }
    return purged;
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  onFatal(listener: FatalListener): () => void {
    this.fatalListeners.add(listener);
    return () => this.fatalListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watch.stop();
    // bounded: with the brokers gone, kafkajs would retry each goodbye for a long time
    await Promise.all([...this.members].map((m) => within(m.shutdown(), 5_000)));
    this.members.clear();
    await within(this.producer.disconnect(), 2_000);
    await within(this.admin.disconnect(), 2_000);
    await within(this.reader.close(), 2_000);
    await this.local.close();
  }
}

const offsetKey = (group: string, topic: string, partition: number) => `${group}\u0000${topic}\u0000${partition}`;

/** Waits for `p` (its failure ignored) at most `ms`. */
function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((res) => (timer = setTimeout(res, ms))),
  ]).finally(() => clearTimeout(timer));
}
