/**
 * Reads one partition from an offset up to its last stable offset, outside any consumer group.
 *
 * kafkajs has no manually assigned consumer (every consumer joins a group), so this uses the
 * client's own cluster object — the connection pool, metadata and `Fetch` request its consumers
 * use — reached through the client's private factory. kafkajs is pinned to an exact version
 * (2.2.4), and `openPartitionReader` checks the shape it relies on, failing with a clear error
 * instead of misbehaving if a different kafkajs is installed.
 */
import { createRequire } from "node:module";
import type { Kafka } from "kafkajs";
import { LannerError } from "../../common/errors.js";

const require = createRequire(import.meta.url);

/** A record as kafkajs decodes it from a fetch response. */
export interface RawMessage {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | string | Array<Buffer | string> | undefined>;
  isControlRecord?: boolean;
}

interface FetchPartition {
  partition: number;
  errorCode: number;
  highWatermark: string;
  lastStableOffset: string;
  abortedTransactions: unknown[];
  messages: RawMessage[];
}

interface Broker {
  fetch(req: {
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }> }>;
  }): Promise<{ responses: Array<{ topicName: string; partitions: FetchPartition[] }> }>;
  listOffsets(req: {
    isolationLevel: number;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; timestamp: number }> }>;
  }): Promise<{ responses: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }> }>;
}

interface Cluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(q: { nodeId: string }): Promise<Broker>;
}

/** kafkajs's Batch: filters aborted transactions and control records like its consumer does. */
interface BatchLike {
  messages: RawMessage[];
  lastOffset(): string;
  isEmptyIncludingFiltered(): boolean;
}
type BatchCtor = new (topic: string, fetchedOffset: string, partitionData: FetchPartition) => BatchLike;

const READ_COMMITTED = 1;
/** Errors that clear once metadata catches up (new topic, moved leader). */
const RETRIABLE = new Set(["UNKNOWN_TOPIC_OR_PARTITION", "LEADER_NOT_AVAILABLE", "NOT_LEADER_FOR_PARTITION", "NOT_LEADER_OR_FOLLOWER"]);
const LATEST = -1;
const EARLIEST = -2;
const CHUNK_BYTES = 4 * 1024 * 1024;

/** Fetches and lists offsets of single partitions with read-committed isolation. */
export class PartitionReader {
  private connected: Promise<void> | undefined;
  private readonly known = new Set<string>();

  private constructor(
    private readonly cluster: Cluster,
    private readonly Batch: BatchCtor,
  ) {}

  static open(kafka: Kafka): PartitionReader {
    const sym = Object.getOwnPropertySymbols(kafka).find((s) => s.description === "private:Kafka:createCluster");
    const factory: unknown = sym === undefined ? undefined : (kafka as unknown as Record<symbol, unknown>)[sym];
    const batchModule: unknown = require("kafkajs/src/consumer/batch.js");
    if (typeof factory !== "function" || typeof batchModule !== "function") {
      throw new LannerError("KAFKA_CLIENT_UNSUPPORTED", "The installed kafkajs does not expose what the partition reader needs; install kafkajs 2.2.4 exactly.");
    }
    const cluster = (factory as (o: object) => unknown).call(kafka, { allowAutoTopicCreation: false, isolationLevel: READ_COMMITTED }) as Cluster;
    return new PartitionReader(cluster, batchModule as BatchCtor);
  }

  private async broker(topic: string, partition: number): Promise<Broker> {
    this.connected ??= this.cluster.connect();
    await this.connected;
    if (!this.known.has(topic)) {
      await this.cluster.addTargetTopic(topic);
      this.known.add(topic);
    }
    let leaders = this.cluster.findLeaderForPartitions(topic, [partition]);
    if (Object.keys(leaders).length === 0) {
      await this.cluster.refreshMetadata();
      leaders = this.cluster.findLeaderForPartitions(topic, [partition]);
    }
    const nodeId = Object.keys(leaders)[0];
    if (nodeId === undefined) throw new LannerError("KAFKA_NO_LEADER", `No leader for ${topic}[${partition}].`, { retriable: true });
    return this.cluster.findBroker({ nodeId });
  }

  /**
   * Runs `fn` again (bounded) when the broker does not know the partition yet or any more: a
   * topic created a moment ago, or a leader that moved. Metadata is refreshed before each retry.
   */
  private async retrying<T>(fn: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (err) {
        if (i >= 20 || !RETRIABLE.has(errorType(err) ?? "")) throw err;
        await new Promise((r) => setTimeout(r, Math.min(500, 20 * 2 ** i)));
        await this.cluster.refreshMetadata().catch(() => undefined);
      }
    }
  }

  /** The last stable offset (read-committed end) or, with `earliest`, the log start offset. */
  offset(topic: string, partition: number, which: "latest" | "earliest" = "latest"): Promise<bigint> {
    return this.retrying(() => this.offsetOnce(topic, partition, which));
  }

  private async offsetOnce(topic: string, partition: number, which: "latest" | "earliest"): Promise<bigint> {
    const broker = await this.broker(topic, partition);
    const res = await broker.listOffsets({
      isolationLevel: READ_COMMITTED,
      topics: [{ topic, partitions: [{ partition, timestamp: which === "latest" ? LATEST : EARLIEST }] }],
    });
    const p = res.responses[0]?.partitions.find((x) => x.partition === partition);
    if (p === undefined) throw new LannerError("KAFKA_LIST_OFFSETS_FAILED", `No offset returned for ${topic}[${partition}].`, { retriable: true });
    return BigInt(p.offset);
  }

  /**
   * Reads committed records from `from` to the last stable offset as of each fetch; aborted
   * records and transaction markers are skipped; purged offsets are skipped silently.
   */
  async *read(topic: string, partition: number, from: bigint): AsyncIterable<RawMessage & { offsetN: bigint }> {
    let position = from;
    // Bounded: each round either advances or ends; the cap guards against a broker that never moves.
    for (let round = 0; round < 1_000_000; round++) {
      let part: FetchPartition | undefined;
      try {
        const res = await this.retrying(async () => (await this.broker(topic, partition)).fetch({
          isolationLevel: READ_COMMITTED,
          maxWaitTime: 0,
          minBytes: 0,
          maxBytes: CHUNK_BYTES,
          topics: [{ topic, partitions: [{ partition, fetchOffset: String(position), maxBytes: CHUNK_BYTES }] }],
        }));
        part = res.responses[0]?.partitions.find((x) => x.partition === partition);
      } catch (err) {
        if (errorType(err) === "OFFSET_OUT_OF_RANGE") {
          const start = await this.offset(topic, partition, "earliest");
          if (start > position) {
            position = start;
            continue;
          }
          return;
        }
        throw err;
      }
      if (part === undefined) return;
      const end = BigInt(part.lastStableOffset) >= 0n ? BigInt(part.lastStableOffset) : BigInt(part.highWatermark);
      if (position >= end) return;
      const batch = new this.Batch(topic, String(position), part);
      for (const m of batch.messages) {
        const offsetN = BigInt(m.offset);
        if (offsetN >= end) return;
        if (offsetN >= position) yield { ...m, offsetN };
      }
      if (batch.isEmptyIncludingFiltered()) return;
      const next = BigInt(batch.lastOffset()) + 1n;
      if (next <= position) return;
      position = next;
      if (position >= end) return;
    }
  }

  async close(): Promise<void> {
    if (this.connected) await this.cluster.disconnect().catch(() => undefined);
  }
}

/** kafkajs protocol errors carry a `type` (e.g. `OFFSET_OUT_OF_RANGE`); undefined for others. */
export function errorType(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const t = (err as { type?: unknown }).type;
  if (typeof t === "string") return t;
  const cause = (err as { originalError?: unknown; cause?: unknown }).originalError ?? (err as { cause?: unknown }).cause;
  return cause !== undefined && cause !== err ? errorType(cause) : undefined;
}
