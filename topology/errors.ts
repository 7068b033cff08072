/** The Log's typed errors (stable codes; callers branch on `code`). */
import { LannerError } from "../common/errors.js";

/** The member no longer owns a partition it tried to commit; retriable after a rebalance. */
export function fencedError(group: string, topic: string, partition: number, memberId: string): LannerError {
  return new LannerError(
    "FENCED",
    `Member ${memberId} of group ${group} no longer owns ${topic}[${partition}]; its commit was rejected.`,
    { retriable: true, details: { group, topic, partition, memberId } },
  );
}

export function unknownTopicError(topic: string): LannerError {
  return new LannerError("UNKNOWN_TOPIC", `Topic ${JSON.stringify(topic)} does not exist (create it with ensureTopics first).`, {
    details: { topic },
  });
}

export function badPartitionError(topic: string, partition: number, partitions: number): LannerError {
  return new LannerError(
    "BAD_PARTITION",
    `Partition ${partition} of topic ${topic} does not exist (the topic has ${partitions} partitions).`,
    { details: { topic, partition, partitions } },
  );
}

export function closedError(backend: string): LannerError {
  return new LannerError("LOG_CLOSED", `The ${backend} log is closed.`);
}

const TOPIC_NAME = /^[A-Za-z0-9._-]{1,200}$/;

/** Kafka's legal topic names; also keeps `\0` and `/` out of the embedded key layout. */
export function validateTopicName(name: string): void {
  if (!TOPIC_NAME.test(name)) {
    throw new LannerError(
      "TOPIC_NAME_INVALID",
      `Topic name ${JSON.stringify(name)} is invalid: use 1–200 characters among letters, digits, ".", "_" and "-".`,
    );
  }
}

export function partitionsMismatchError(topic: string, existing: number, wanted: number): LannerError {
  return new LannerError(
    "TOPIC_PARTITIONS_MISMATCH",
    `Topic ${topic} exists with ${existing} partitions but ${wanted} were requested; partition counts never change.`,
    { details: { topic, existing, wanted } },
  );
}

/** The topics of one group must be co-partitioned: partition p of each moves between members together. */
export function groupPartitionsMismatchError(group: string, counts: Record<string, number>): LannerError {
  const list = Object.entries(counts)
    .map(([t, n]) => `${t}: ${n}`)
    .join(", ");
  return new LannerError(
    "GROUP_PARTITIONS_MISMATCH",
    `Consumer group ${group} would read topics with different partition counts (${list}); the topics of one group must have the same partition count, because partition p of every topic goes to the same member.`,
    { details: { group, counts } },
  );
}
