/**
 * Scale-out on the Kafka log: two schedulers, each on its own KafkaLog (two group members on one
 * topic prefix), split the trigger partitions and fire each scheduled date once. One member then
 * dies as a `kill -9` looks to the broker (every connection cut, no LeaveGroup); after its session
 * times out the survivor takes its triggers over from what was committed, without firing any date twice.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scheduleExecutionId } from "../../../processors/scheduler/schedule-core.js";
import type { Scheduler } from "../../../processors/scheduler/scheduler.js";
import { KafkaLog } from "../../../topology/kafka/kafka-log.js";
import { topicCatalogue } from "../../../topology/topics.js";
import { ensureKafka, randomPrefix, severableSockets } from "../../harness/kafka.js";
import { creates, deploy, ManualClock, newScheduler, scheduledFlow, until } from "./scheduler-fixture.js";

const EVERY_MINUTE = "  - id: minutely\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"* * * * *\"\n";
const at = (hhmm: string) => Date.parse(`2025-06-01T${hhmm}:00Z`);

const dirs: string[] = [];
// The first start may fetch Kafka with Maven: give it its own budget, outside the test's.
beforeAll(() => ensureKafka().then(() => undefined), 600_000);
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function openMember(brokers: string, prefix: string): Promise<{ log: KafkaLog; sever(): void }> {
  const dir = mkdtempSync(join(tmpdir(), "lanner-sched-kafka-"));
  dirs.push(dir);
  const sockets = severableSockets();
  const log = await KafkaLog.open({
    brokers: [brokers], topicPrefix: prefix, dataDir: dir,
    sessionTimeoutMs: 3_000, heartbeatIntervalMs: 300, socketFactory: sockets.socketFactory,
  });
  await log.ensureTopics(topicCatalogue({ executionPartitions: 4 }).specs());
  return { log, sever: sockets.sever };
}

/** Stops a scheduler and closes its log; a severed member's log rejects its own close, which is expected. */
async function shutdown(s: Scheduler | undefined, log: KafkaLog | undefined): Promise<void> {
  try {
    await s?.stop();
  } catch {
    // a dead member cannot leave its group
  }
  try {
    await log?.close();
  } catch {
    // likewise
  }
}

describe("schedulers on the Kafka log", () => {
  it("split the trigger partitions; when one dies the other takes over and no date fires twice", async () => {
    const brokers = await ensureKafka();
    const prefix = randomPrefix("sched");
    const clock = new ManualClock(at("10:00") + 10_000);
    const memberA = await openMember(brokers, prefix);
    const memberB = await openMember(brokers, prefix);
    const a = newScheduler(memberA.log, clock, "scheduler-a");
    const b = newScheduler(memberB.log, clock, "scheduler-b");
    try {
      await Promise.all([a.start(), b.start()]);
      const ids = Array.from({ length: 8 }, (_, i) => `flow${i}`);
      for (const id of ids) await deploy(memberA.log, "company.team", id, 1, scheduledFlow(id, EVERY_MINUTE));
      await until(
        () => a.ownedPartitions().length === 2 && b.ownedPartitions().length === 2 && a.triggerStates().length + b.triggerStates().length === 8,
        "both own two partitions and every trigger has a state", 3_000,
      );
      expect([...a.ownedPartitions(), ...b.ownedPartitions()].sort()).toEqual([0, 1, 2, 3]);
      expect(a.triggerStates().length).toBeGreaterThan(0);
      expect(b.triggerStates().length).toBeGreaterThan(0);

      for (const hhmm of ["10:01", "10:02"]) {
        clock.now = at(hhmm) + 500;
        // both tick at once, and a ticks twice: a date is decided once however often it is looked at
        await Promise.all([a.tick(), b.tick(), a.tick()]);
      }
      expect(a.fired + b.fired).toBe(16);
      expect(b.fired).toBeGreaterThan(0);

      // b dies: every connection drops, nothing is said to the broker; a takes over after b's session times out
      memberB.sever();
      await until(() => a.ownedPartitions().length === 4 && a.triggerStates().length === 8, "the survivor owns every partition", 3_000);

      // the survivor decides 10:02 again (as a replay would), then the next minutes
      for (const hhmm of ["10:02", "10:03", "10:04"]) {
        clock.now = at(hhmm) + 30_000;
        await a.tick();
      }
      const made = await creates(memberA.log);
      expect(made).toHaveLength(8 * 4);
      expect(new Set(made.map((c) => c.executionId)).size).toBe(8 * 4);
      for (const id of ids) {
        const key = { tenantId: "main", namespace: "company.team", flowId: id, triggerId: "minutely" };
        expect(made.filter((c) => c.flow.id === id).map((c) => c.executionId).sort()).toEqual(
          ["10:01", "10:02", "10:03", "10:04"].map((hhmm) => scheduleExecutionId(key, at(hhmm))).sort(),
        );
      }
    } finally {
      await shutdown(a, memberA.log);
      await shutdown(b, memberB.log);
    }
  }, 60_000);
});
