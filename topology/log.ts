/**
 * The Log: named topics with a fixed partition count each, keyed records with headers, Kafka's
 * murmur2 partitioner, consumer groups and committed offsets — a one-to-one image of Kafka, so
 * the Kafka backend fits it unchanged. Backends: `memory` (reference semantics, tests),
 * `embedded` (classic-level, one process), `postgres` (several processes, leased partitions).
 *
 * A processor's unit of work is consume → process → `Membership.commit(...)`: the records it
 * produces, the input offsets it consumed and (optionally) its state store change become durable
 * together or not at all. Side effects run only after the commit resolved.
 */
import type { StateBatch, StateStoreProvider } from "../stores/state-store.js";

export type { StateBatch } from "../stores/state-store.js";

/** A record as every backend stores it; `value` is Avro bytes (see `schemas/avro`). */
export interface LogRecord {
  topic: string;
  partition: number;
  /** Dense per partition: 0, 1, 2, … (purged records leave the numbering unchanged). */
  offset: bigint;
  key: string;
  value: Uint8Array;
  headers: Record<string, string>;
  /** Epoch milliseconds at append time (or the producer's `timestamp`). */
  timestamp: number;
}

/** A record to append. */
export interface ProduceRecord {
  topic: string;
  key: string;
  value: Uint8Array;
  headers?: Record<string, string>;
  /** Explicit partition (e.g. a broadcast to every partition); default murmur2 of `key`. */
  partition?: number;
  /** Epoch milliseconds; default the append time. */
  timestamp?: number;
}

/** Where an appended record landed. Same order as the input records. */
export interface AppendResult {
  topic: string;
  partition: number;
  offset: bigint;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** The next offset a group will read from a partition (Kafka's committed offset). */
export interface CommittedOffset extends TopicPartition {
  next: bigint;
}

/** One unit of work: what it appends and the input offsets it commits, atomically. */
export interface Commit {
  produce: ProduceRecord[];
  offsets: CommittedOffset[];
  /**
   * Partitions this member must still own for the commit to succeed although it commits no
   * offset of them (e.g. a timer firing on an owned partition). Offsets are always fenced.
   */
  fence?: TopicPartition[];
}

export interface TopicSpec {
  name: string;
  /** Fixed for the life of the topic; > 0. */
  partitions: number;
  /** Records older than this (and committed by every group reading the topic) may be purged. */
  retentionMs?: number;
}

export interface AssignedPartition extends TopicPartition {
  /** The group's committed next offset: delivery starts here. */
  next: bigint;
}

/** What a consumer-group member implements. */
export interface GroupMember {
  /**
   * Called with the partitions this member now owns and the committed next offset of each.
   * Resolve when ready (e.g. after restoring state): records of these partitions flow only after.
   */
  onAssign(assigned: AssignedPartition[]): Promise<void>;
  /**
   * Called with partitions this member no longer owns, after the in-flight batch of each has
   * resolved. Commits that touch them reject with `FENCED` from now on.
   */
  onRevoke(revoked: TopicPartition[]): Promise<void>;
  /**
   * Delivers a batch of records of ONE partition in offset order. The next batch of that
   * partition is delivered only after this promise resolves (backpressure). Delivery continues
   * after the last delivered offset whether or not the member committed; the member commits
   * through `Membership.commit`. A rejection is reported to `onError` and the partition is
   * re-delivered from its committed offset after a back-off.
   */
  onRecords(batch: LogRecord[]): Promise<void>;
  /** Optional: hears delivery failures (a rejected `onRecords`, a failed read). */
  onError?(err: unknown, where: TopicPartition): void;
}

export interface JoinOptions {
  /** Most records per `onRecords` batch; default 256. */
  maxBatch?: number;
  /** Stable member id (default: random); shows as the lease owner on Postgres. */
  memberId?: string;
  /**
   * A group no member will come back to once it is gone (e.g. one worker's private group): its
   * committed offsets are deleted when its last member leaves, and it never holds back `purge`
   * (records it has not read may be purged). Default false.
   */
  ephemeral?: boolean;
  /**
   * Deliver records as soon as the unit of work that produced them is accepted by this process's
   * ordered writer, before it is durable (default false: only durable records). Honoured only
   * where `Log.commitsInOrder` holds (elsewhere records are delivered once durable): there a unit
   * is written after every unit accepted before it, so whatever a member commits from such a
   * record is durable only if the record is, and a crash loses both or neither. For processors
   * whose only effects are their own commits (the executor, workers); never for one that copies
   * records elsewhere (the indexer, live follow), which could show what a crash then erases.
   */
  readAhead?: boolean;
}

export interface Membership {
  /** This member's id in the group. */
  readonly memberId: string;
  /** Partitions currently owned by this member. */
  assignment(): TopicPartition[];
  /**
   * Atomically appends `c.produce`, commits `c.offsets` (next offset per topic-partition for the
   * group) and writes `state` (embedded: in the same LevelDB batch; Postgres: in the same
   * transaction; memory: in the same synchronous step). Rejects with a retriable LannerError
   * code `FENCED` — and changes nothing — when this member does not own a partition of
   * `c.offsets` or `c.fence`. Resolves with where each produced record landed, once durable.
   */
  commit(c: Commit, state?: StateBatch | StateBatch[]): Promise<AppendResult[]>;
  /** Leaves the group: waits for in-flight batches, revokes its partitions, frees them for others. */
  leave(): Promise<void>;
}

/** Default of the backends' `groupExpiryMs`: a group with no live member and no commit for a day is forgotten (Kafka's offsets.retention). */
export const DEFAULT_GROUP_EXPIRY_MS = 24 * 60 * 60 * 1000;

/** A fatal log failure (lost database connection…): the process should exit; a supervisor restarts it. */
export type FatalListener = (err: Error) => void;

export interface Log extends StateStoreProvider {
  /** The backend's name: `memory`, `embedded`, `postgres` (later `kafka`). */
  readonly backend: string;
  /**
   * True when every commit and append of this process is accepted synchronously into one ordered
   * writer and becomes durable in that order (a crash keeps a prefix of them), and a commit's
   * fencing is decided when it is accepted. A member may then start its next unit of work
   * without waiting for the previous commit to be durable (its side effects still wait), and
   * `JoinOptions.readAhead` is honoured. True for `memory` and `embedded`; false where commits
   * travel over connections that may reorder them (Postgres, Kafka).
   */
  readonly commitsInOrder: boolean;
  /**
   * Creates the topics that do not exist. Idempotent; a topic that exists with another partition
   * count rejects with `TOPIC_PARTITIONS_MISMATCH`. Also loads existing topics' metadata.
   */
  ensureTopics(specs: TopicSpec[]): Promise<void>;
  /** Partition count of a known topic (after `ensureTopics`); throws `UNKNOWN_TOPIC` otherwise. */
  partitionsOf(topic: string): number;
  /**
   * Appends records outside any consumption (API commands, heartbeats). Resolves once durable
   * (per the backend's durability setting), with where each landed, in input order. Records of
   * one partition keep their input order and get dense offsets.
   */
  append(records: ProduceRecord[]): Promise<AppendResult[]>;
  /**
   * Joins consumer group `group` for `topics`; the partition numbers of the group are split among
   * its members (range assignment in one process; leases across processes on Postgres) and move
   * on join/leave/death, calling `onRevoke` then `onAssign`. A member owns partition p of every
   * topic it reads, or none of them: the topics of one group are co-partitioned, and a join whose
   * topics (with those the group already reads) differ in partition count rejects with
   * `GROUP_PARTITIONS_MISMATCH`. Members of one group should read the same topics.
   */
  join(group: string, topics: string[], member: GroupMember, options?: JoinOptions): Promise<Membership>;
  /**
   * Reads one partition from offset `from` (inclusive) up to the end offset as of each chunk
   * read; the iteration ends at the current end. Purged offsets are skipped silently.
   */
  readPartition(topic: string, partition: number, from: bigint): AsyncIterable<LogRecord>;
  /** The next offset to be assigned in the partition (0 for an empty one). */
  endOffset(topic: string, partition: number): Promise<bigint>;
  /** The group's committed next offset of a partition (0 when never committed). */
  committed(group: string, topic: string, partition: number): Promise<bigint>;
  /**
   * Deletes records older than their topic's `retentionMs` as of `now` that every group that
   * reads the topic has committed: per partition, oldest first, stopping at the first record that
   * is too young or not committed by some group (like Kafka deleting whole old segments). Never
   * drops an uncommitted record. Topics without `retentionMs` are never purged. Resolves with the count.
   *
   * Dead groups do not hold purging back forever: first, groups with no live member and no join
   * or commit for longer than the backend's `groupExpiryMs` (default one day, Kafka's
   * offsets.retention) as of `now` are forgotten (offsets and subscriptions deleted); ephemeral
   * groups (`JoinOptions.ephemeral`) are never waited for.
   */
  purge(now?: number): Promise<number>;
  /** Registers a listener for fatal failures; returns a function that removes it. */
  onFatal(listener: FatalListener): () => void;
  /** Stops every member's delivery and releases the backend's resources (no rebalance is awaited). */
  close(): Promise<void>;
}
