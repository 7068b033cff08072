/**
 * The topic catalogue: every topic Lanner uses, its partition count and retention. Topics that
 * are joined on execution id (`execution-commands`, `worker-results`, `executions`,
 * `worker-jobs`) share one partition count, so murmur2 of the execution id gives the same
 * partition in each (co-partitioning: a result lands on the executor partition that owns it).
 * `worker-control` has one partition that every worker reads whole (each in its own ephemeral
 * group), so a cancellation reaches every worker.
 */
import type { TopicSpec } from "./log.js";

export const TOPIC_NAMES = [
  "executions",
  "execution-commands",
  "worker-jobs",
  "worker-results",
  "logs",
  "heartbeats",
  "flows",
  "triggers",
  "dead-letters",
  "worker-control",
] as const;

export type TopicName = (typeof TOPIC_NAMES)[number];

const DAY = 24 * 60 * 60 * 1000;

export interface CatalogueOptions {
  /** Prepended to every topic name (e.g. `prod.` → `prod.executions`); default none. */
  prefix?: string;
  /** Partitions of the co-partitioned execution topics; default 8. */
  executionPartitions?: number;
  /** Partitions of `flows` and `triggers` (co-partitioned: the scheduler owns both together); default `executionPartitions`. */
  flowPartitions?: number;
  /** How long `executions` keeps its audit history; default 7 days. */
  executionsRetentionMs?: number;
  /** Retention of consumed work topics (commands, jobs, results, heartbeats, worker control); default 1 day. */
  workRetentionMs?: number;
}

/** The resolved catalogue: the physical name of each logical topic, and the specs to ensure. */
export interface TopicCatalogue {
  /** Physical topic name for a logical one (applies the prefix). */
  name(topic: TopicName): string;
  /** Every topic spec, for `Log.ensureTopics`. */
  specs(): TopicSpec[];
  /** The spec of one logical topic. */
  spec(topic: TopicName): TopicSpec;
}

export function topicCatalogue(options: CatalogueOptions = {}): TopicCatalogue {
  const prefix = options.prefix ?? "";
  const n = options.executionPartitions ?? 8;
  const work = options.workRetentionMs ?? DAY;
  const table: Record<TopicName, Omit<TopicSpec, "name">> = {
    executions: { partitions: n, retentionMs: options.executionsRetentionMs ?? 7 * DAY },
    "execution-commands": { partitions: n, retentionMs: work },
    "worker-jobs": { partitions: n, retentionMs: work },
    "worker-results": { partitions: n, retentionMs: work },
    logs: { partitions: n, retentionMs: options.executionsRetentionMs ?? 7 * DAY },
    heartbeats: { partitions: 1, retentionMs: work },
    // Flows and triggers are current state (compacted in Kafka): never purged by age. Both are
    // keyed by tenant/namespace/flowId with the same partition count, so a flow's revisions and
    // its triggers' records share a partition (the scheduler owns both together).
    flows: { partitions: options.flowPartitions ?? n },
    triggers: { partitions: options.flowPartitions ?? n },
    "dead-letters": { partitions: 1, retentionMs: 30 * DAY },
    "worker-control": { partitions: 1, retentionMs: work },
  };
  const name = (t: TopicName) => `${prefix}${t}`;
  const spec = (t: TopicName): TopicSpec => ({ name: name(t), ...table[t] });
  return { name, spec, specs: () => TOPIC_NAMES.map(spec) };
}
