/**
 * Opens a Log backend by name: `memory` (tests), `embedded` (default; `<dataDir>/log`),
 * `postgres` (`postgresUrl`, `schema`), `kafka` (`kafka.brokers`; state-store copies in `<dataDir>/kafka-state`). Like BullMQ's adapters, the Log owns its connections.
 */
import { join } from "node:path";
import { LannerError } from "../common/errors.js";
import { EmbeddedLog } from "./embedded/embedded-log.js";
import { KafkaLog } from "./kafka/kafka-log.js";
import type { Log } from "./log.js";
import { MemoryLog } from "./memory/memory-log.js";
import { PostgresLog } from "./postgres/postgres-log.js";

export type LogBackend = "memory" | "embedded" | "postgres" | "kafka";

/** Kafka backend settings (see `topology/kafka/kafka-log.ts`). */
export interface KafkaOpenOptions {
  /** Bootstrap servers. */
  brokers: string[];
  /** Prefix of every topic, group and transactional id; default none. */
  prefix?: string;
  /** Replication factor of created topics; default 1. */
  replicationFactor?: number;
  /** A silent member leaves its group (its partitions move) after this long; default 10 s. */
  sessionTimeoutMs?: number;
}

export interface OpenLogOptions {
  backend: LogBackend;
  /** Embedded: the data directory (default `./.lanner`). */
  dataDir?: string;
  /** Embedded: `os` (default, survives a process crash) or `fsync` (survives a machine crash). */
  durability?: "fsync" | "os";
  /** Postgres: connection URL. */
  postgresUrl?: string;
  /** Postgres: schema of the log's tables (default `lanner`). */
  schema?: string;
  /** Postgres: lease duration (default 5000 ms) and heartbeat period (default 1000 ms). */
  leaseMs?: number;
  heartbeatMs?: number;
  /** Every backend: a group with no live member and no commit for this long is forgotten by `purge` (default one day). */
  groupExpiryMs?: number;
  /** Kafka: brokers and topic prefix. */
  kafka?: KafkaOpenOptions;
}

export async function openLog(options: OpenLogOptions): Promise<Log> {
  switch (options.backend) {
    case "memory":
      return new MemoryLog({ groupExpiryMs: options.groupExpiryMs });
    case "embedded":
      return EmbeddedLog.open({ dataDir: options.dataDir ?? join(process.cwd(), ".lanner"), durability: options.durability, groupExpiryMs: options.groupExpiryMs });
    case "postgres":
      if (options.postgresUrl === undefined || options.postgresUrl === "") {
        throw new LannerError("CONFIG_INVALID", "The postgres backend needs a connection URL (--postgres-url or postgres.url in the configuration).");
      }
      return PostgresLog.open({
        url: options.postgresUrl,
        schema: options.schema,
        leaseMs: options.leaseMs,
        heartbeatMs: options.heartbeatMs,
        groupExpiryMs: options.groupExpiryMs,
      });
    case "kafka":
      if (options.kafka === undefined || options.kafka.brokers.length === 0) {
        throw new LannerError("CONFIG_INVALID", "The kafka backend needs at least one broker (--kafka-brokers or kafka.brokers in the configuration).");
      }
      return KafkaLog.open({
        brokers: options.kafka.brokers,
        dataDir: options.dataDir ?? join(process.cwd(), ".lanner"),
        ...(options.kafka.prefix !== undefined ? { topicPrefix: options.kafka.prefix } : {}),
        ...(options.kafka.replicationFactor !== undefined ? { replicationFactor: options.kafka.replicationFactor } : {}),
        ...(options.kafka.sessionTimeoutMs !== undefined ? { sessionTimeoutMs: options.kafka.sessionTimeoutMs } : {}),
        ...(options.groupExpiryMs !== undefined ? { groupExpiryMs: options.groupExpiryMs } : {}),
      });
    default:
      throw new LannerError("CONFIG_INVALID", `Unknown log backend ${JSON.stringify((options as { backend: unknown }).backend)}: use memory, embedded, postgres or kafka.`);
  }
}
