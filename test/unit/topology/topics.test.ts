import { describe, expect, it } from "vitest";
import { MemoryLog } from "../../../topology/memory/memory-log.js";
import { partitionForKey } from "../../../topology/partitioner.js";
import { TOPIC_NAMES, topicCatalogue } from "../../../topology/topics.js";

describe("topic catalogue", () => {
  it("names every topic, with an optional prefix", () => {
    const plain = topicCatalogue();
    expect(plain.specs().map((s) => s.name)).toEqual([...TOPIC_NAMES]);
    const prefixed = topicCatalogue({ prefix: "prod." });
    expect(prefixed.name("executions")).toBe("prod.executions");
    expect(prefixed.specs().every((s) => s.name.startsWith("prod."))).toBe(true);
    expect(plain.spec("worker-control")).toMatchObject({ name: "worker-control", partitions: 1 });
  });

  it("co-partitions the execution topics so one execution id maps to one partition everywhere", () => {
    const c = topicCatalogue({ executionPartitions: 12 });
    const counts = (["executions", "execution-commands", "worker-jobs", "worker-results"] as const).map((t) => c.spec(t).partitions);
    expect(new Set(counts)).toEqual(new Set([12]));
    // flows and triggers are co-partitioned by flow key (the scheduler owns both together)
    expect(c.spec("flows").partitions).toBe(12);
    expect(c.spec("triggers").partitions).toBe(12);
    expect(topicCatalogue({ executionPartitions: 12, flowPartitions: 3 }).spec("triggers").partitions).toBe(3);
    expect(c.spec("flows").retentionMs).toBeUndefined();
    expect(c.spec("executions").retentionMs).toBe(7 * 24 * 3600 * 1000);
    const id = "6Zr0dQm3c8";
    expect(partitionForKey(id, c.spec("executions").partitions)).toBe(partitionForKey(id, c.spec("worker-results").partitions));
  });

  it("is accepted by a log", async () => {
    const log = new MemoryLog();
    await log.ensureTopics(topicCatalogue({ prefix: "t-" }).specs());
    expect(log.partitionsOf("t-dead-letters")).toBe(1);
  });
});
