import { afterEach, describe, expect, it } from "vitest";
import { scheduleExecutionId } from "../../../processors/scheduler/schedule-core.js";
import type { Scheduler } from "../../../processors/scheduler/scheduler.js";
import { triggerCommandRecord } from "../../../processors/scheduler/trigger-records.js";
import { MemoryLog } from "../../../topology/memory/memory-log.js";
import { topicCatalogue } from "../../../topology/topics.js";
import { codec, creates, deploy, ManualClock, newScheduler, publishedStates, scheduledFlow, until } from "./scheduler-fixture.js";

const EVERY_MINUTE = "  - id: minutely\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"* * * * *\"\n";
const key = (flowId: string, triggerId = "minutely") => ({ tenantId: "main", namespace: "company.team", flowId, triggerId });

async function newLog(partitions = 4): Promise<MemoryLog> {
  const log = new MemoryLog();
  await log.ensureTopics(topicCatalogue({ executionPartitions: partitions }).specs());
  return log;
}

const running: Scheduler[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
});

async function started(s: Scheduler): Promise<Scheduler> {
  await s.start();
  running.push(s);
  return s;
}

describe("Scheduler role", () => {
  it("creates each minute's execution once, with the flow snapshot, across a restart in the middle of a minute boundary", async () => {
    const log = await newLog();
    const clock = new ManualClock(Date.parse("2025-06-01T10:00:30Z"));
    const a = await started(newScheduler(log, clock));
    await deploy(log, "company.team", "minutely", 1, scheduledFlow("minutely", EVERY_MINUTE));
    await until(() => a.triggerStates().length === 1, "the trigger has a state");
    clock.set("2025-06-01T10:00:59.500Z");
    await a.tick();
    expect(await creates(log)).toEqual([]);
    await a.stop();
    running.splice(running.indexOf(a), 1);

    clock.set("2025-06-01T10:01:00.500Z");
    const b = await started(newScheduler(log, clock));
    await until(() => b.triggerStates().length === 1, "the new scheduler restored the trigger");
    await b.tick();
    await b.tick();
    const made = await creates(log);
    expect(made.map((c) => c.executionId)).toEqual([scheduleExecutionId(key("minutely"), Date.parse("2025-06-01T10:01:00Z"))]);
    expect(made[0]).toMatchObject({ flow: { id: "minutely", namespace: "company.team", revision: 1, tenantId: "main" }, trigger: { date: "2025-06-01T10:01:00Z", next: "2025-06-01T10:02:00Z" } });
    const state = (await publishedStates(log)).get("company.team/minutely/minutely");
    expect(state).toMatchObject({ lastScheduled: Date.parse("2025-06-01T10:01:00Z"), nextDate: Date.parse("2025-06-01T10:02:00Z") });
  });

  it("two schedulers split the partitions; when one leaves the other takes over and no date runs twice", async () => {
    const log = await newLog(4);
    const clock = new ManualClock(Date.parse("2025-06-01T10:00:10Z"));
    const a = await started(newScheduler(log, clock, "a"));
    const b = await started(newScheduler(log, clock, "b"));
    const ids = Array.from({ length: 12 }, (_, i) => `flow${i}`);
    for (const id of ids) await deploy(log, "company.team", id, 1, scheduledFlow(id, EVERY_MINUTE));
    await until(() => a.triggerStates().length + b.triggerStates().length === 12, "every trigger has a state");
    expect(a.ownedPartitions().length).toBe(2);
    expect(b.ownedPartitions().length).toBe(2);
    expect(a.triggerStates().length).toBeGreaterThan(0);
    expect(b.triggerStates().length).toBeGreaterThan(0);

    for (let minute = 1; minute <= 3; minute++) {
      clock.now += 60_000;
      await Promise.all([a.tick(), b.tick(), a.tick()]);
    }
    await b.stop();
    running.splice(running.indexOf(b), 1);
    await until(() => a.ownedPartitions().length === 4, "a owns every partition");
    for (let minute = 4; minute <= 5; minute++) {
      clock.now += 60_000;
      await a.tick();
    }
    const made = await creates(log);
    expect(made).toHaveLength(12 * 5);
    expect(new Set(made.map((c) => c.executionId)).size).toBe(12 * 5);
    for (const id of ids) {
      // execution-commands is partitioned by execution id: order by date
      expect(made.filter((c) => c.flow.id === id).map((c) => String(c.trigger?.date)).sort()).toEqual(
        ["10:01", "10:02", "10:03", "10:04", "10:05"].map((t) => `2025-06-01T${t}:00Z`),
      );
    }
  });

  it("3 hours of downtime: ALL, LAST and NONE through the role, skipped intervals published", async () => {
    const log = await newLog(2);
    const clock = new ManualClock(Date.parse("2025-06-01T08:59:00Z"));
    const s = await started(newScheduler(log, clock));
    for (const policy of ["ALL", "LAST", "NONE"]) {
      const trig = `  - id: hourly\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: "0 * * * *"\n    recoverMissedSchedules: ${policy}\n`;
      await deploy(log, "company.team", `h${policy}`, 1, scheduledFlow(`h${policy}`, trig));
    }
    await until(() => s.triggerStates().length === 3, "three triggers");
    clock.set("2025-06-01T09:00:01Z");
    await s.tick();
    await s.stop();
    running.splice(0);
    clock.set("2025-06-01T12:30:00Z");
    const back = await started(newScheduler(log, clock));
    await until(() => back.triggerStates().length === 3, "restored");
    await back.tick();
    const made = await creates(log);
    const dates = (flowId: string) => made.filter((c) => c.flow.id === flowId).map((c) => String(c.trigger?.date).slice(11, 16)).sort();
    expect(dates("hALL")).toEqual(["09:00", "10:00", "11:00", "12:00"]);
    expect(dates("hLAST")).toEqual(["09:00", "12:00"]);
    expect(dates("hNONE")).toEqual(["09:00"]);
    const states = await publishedStates(log);
    expect(states.get("company.team/hLAST/hourly")?.history).toMatchObject([{ reason: "RECOVER_LAST", count: 2 }]);
    expect(states.get("company.team/hNONE/hourly")?.history).toMatchObject([{ reason: "RECOVER_NONE", count: 3 }]);
  });

  it("a backfill command runs only the dates that did not run; a trigger removed from its flow is deleted", async () => {
    const log = await newLog(2);
    const clock = new ManualClock(Date.parse("2025-06-01T09:59:00Z"));
    const s = await started(newScheduler(log, clock));
    const trig = "  - id: hourly\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 * * * *\"\n    inputs:\n      when: \"{{ trigger.date }}\"\n";
    const source = scheduledFlow("bf", trig).replace("tasks:", "inputs:\n  - id: when\n    type: STRING\ntasks:");
    await deploy(log, "company.team", "bf", 1, source);
    await until(() => s.triggerStates().length === 1, "trigger state");
    clock.set("2025-06-01T10:00:00Z");
    await s.tick();
    clock.set("2025-06-01T11:00:00Z");
    await s.tick();
    const k = { tenantId: "main", namespace: "company.team", flowId: "bf", triggerId: "hourly" };
    await log.append([triggerCommandRecord(codec, "triggers", { key: k, at: clock.now, command: { type: "BackfillStart", start: Date.parse("2025-06-01T07:00:00Z"), end: Date.parse("2025-06-01T11:00:00Z"), labels: [{ key: "origin", value: "backfill" }] } })]);
    await until(async () => (await creates(log)).length === 5, "the backfill ran");
    const made = await creates(log);
    const hhmm = (c: (typeof made)[number]) => String(c.trigger?.date).slice(11, 16);
    expect(made.filter((c) => c.trigger?.backfill !== true).map(hhmm).sort()).toEqual(["10:00", "11:00"]);
    expect(made.filter((c) => c.trigger?.backfill === true).map(hhmm).sort()).toEqual(["07:00", "08:00", "09:00"]);
    expect(made.find((c) => hhmm(c) === "07:00")).toMatchObject({ inputs: { when: "2025-06-01T07:00:00Z" }, labels: [{ key: "origin", value: "backfill" }], trigger: { backfill: true } });
    expect(s.triggerStates()[0].backfill).toMatchObject({ total: 5, executed: 3, skipped: 2, done: true });

    // the trigger leaves the flow: its state is deleted and published as deleted
    await deploy(log, "company.team", "bf", 2, scheduledFlow("bf", "  - id: other\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: k\n"));
    await until(() => s.triggerStates().length === 0, "the trigger state is deleted");
    expect((await publishedStates(log)).get("company.team/bf/hourly")).toMatchObject({ deleted: true });
  });
});
