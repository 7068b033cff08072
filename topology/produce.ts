/** Helpers every backend shares when it places produced records and checks input. */
import { LannerError } from "../common/errors.js";
import type { StateBatch } from "../stores/state-store.js";
import { badPartitionError } from "./errors.js";
import type { ProduceRecord, TopicPartition } from "./log.js";
import { partitionForKey } from "./partitioner.js";

/** The partition a produced record goes to: its explicit `partition`, else murmur2 of its key. */
export function resolvePartition(rec: ProduceRecord, partitions: number): number {
  if (rec.partition === undefined) return partitionForKey(rec.key, partitions);
  if (!Number.isInteger(rec.partition) || rec.partition < 0 || rec.partition >= partitions) {
    throw badPartitionError(rec.topic, rec.partition, partitions);
  }
  return rec.partition;
}

/** Throws BAD_PARTITION unless `tp.partition` exists. */
export function checkPartition(tp: TopicPartition, partitions: number): void {
  if (!Number.isInteger(tp.partition) || tp.partition < 0 || tp.partition >= partitions) {
    throw badPartitionError(tp.topic, tp.partition, partitions);
  }
}

/** Throws BAD_OFFSET for a negative committed offset. */
export function checkOffset(next: bigint): void {
  if (typeof next !== "bigint" || next < 0n) {
    throw new LannerError("BAD_OFFSET", `Committed offset ${String(next)} is invalid: offsets are non-negative bigints.`);
  }
}

/** Normalises `commit`'s optional state argument. */
export function stateList(state: StateBatch | StateBatch[] | undefined): StateBatch[] {
  if (state === undefined) return [];
  return Array.isArray(state) ? state : [state];
}

/** The checkpoint a committed state batch records (see `StateBatch.offset`). */
export function checkpointOf(batch: StateBatch, endOf: (topic: string, partition: number) => bigint): bigint | undefined {
  if (batch.changelogTopic !== undefined) return endOf(batch.changelogTopic, batch.partition);
  return batch.offset;
}
