/**
 * The scheduler with a real executor and a scripted worker on the embedded log: `stopAfter`
 * disables a trigger once an execution it started ends in a listed state, and a schedule firing
 * into a flow at its `concurrency` limit is queued, cancelled or failed as the flow says.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { State } from "../../../processors/executor/model.js";
import { StaticFlowResolver } from "../../../processors/executor/shell/flow-resolver.js";
import type { Executor } from "../../../processors/executor/shell/executor.js";
import { scheduleExecutionId } from "../../../processors/scheduler/schedule-core.js";
import type { Scheduler } from "../../../processors/scheduler/scheduler.js";
import { decodeTriggerRecord } from "../../../processors/scheduler/trigger-records.js";
import type { WorkerJob, WorkerResult } from "../../../processors/worker/protocol.js";
import type { Log } from "../../../topology/log.js";
import { Observer, ScriptedWorker, defaultAnswer, openTestLog, startExecutor, tempDir, type Answer } from "../executor/scripted.js";
import { codec, creates, deploy, ManualClock, newScheduler, publishedStates, until } from "./scheduler-fixture.js";

const NS = "company.team";
const key = (flowId: string, triggerId = "minutely") => ({ tenantId: "main", namespace: NS, flowId, triggerId });
const at = (hhmm: string) => Date.parse(`2025-06-01T${hhmm}:00Z`);

interface Rig {
  log: Log;
  clock: ManualClock;
  scheduler: Scheduler;
  executor: Executor;
  worker: ScriptedWorker;
  observer: Observer;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rig(script: (job: WorkerJob) => Answer): Promise<Rig> {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const log = await openTestLog(tmp.dir);
  cleanups.push(() => log.close());
  const clock = new ManualClock(at("09:59") + 30_000);
  const executor = startExecutor(log, new StaticFlowResolver());
  await executor.start();
  cleanups.push(() => executor.stop());
  const worker = new ScriptedWorker(log, "w1", script);
  await worker.start();
  cleanups.push(() => worker.stop());
  const observer = new Observer(log);
  await observer.start();
  cleanups.push(() => observer.stop());
  const scheduler = newScheduler(log, clock);
  await scheduler.start();
  cleanups.push(() => scheduler.stop());
  return { log, clock, scheduler, executor, worker, observer };
}

const flowSource = (id: string, trigger: string, extra = "") =>
  `id: ${id}\nnamespace: ${NS}\n${extra}tasks:\n  - id: work\n    type: io.kestra.plugin.core.debug.Return\n    format: "{{ trigger.date }}"\ntriggers:\n  - id: minutely\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: "* * * * *"\n${trigger}`;

/** Moves the clock to `hhmm` and lets the scheduler decide. */
async function tickAt(r: Rig, hhmm: string): Promise<void> {
  r.clock.now = at(hhmm) + 500;
  await r.scheduler.tick();
}

async function disableCommands(log: Log): Promise<string[]> {
  const out: string[] = [];
  for (let p = 0; p < log.partitionsOf("triggers"); p++) {
    for await (const rec of log.readPartition("triggers", p, 0n)) {
      const t = decodeTriggerRecord(codec, rec.value);
      if (t.kind === "command" && t.command.command.type === "Disable") out.push(`${t.command.key.flowId}: ${t.command.command.reason ?? ""}`);
    }
  }
  return out;
}

describe("scheduler with the executor", () => {
  it("stopAfter: an execution ending in a listed state disables its trigger, once; other endings do not", async () => {
    // flow `stops` fails; flow `keeps` succeeds: both stop after FAILED
    const r = await rig((job) => (job.flowId === "stops" ? { kind: "complete", state: "FAILED", error: "boom" } : defaultAnswer(job)));
    await deploy(r.log, NS, "stops", 1, flowSource("stops", "    stopAfter: [FAILED]\n"));
    await deploy(r.log, NS, "keeps", 1, flowSource("keeps", "    stopAfter: [FAILED]\n"));
    await until(() => r.scheduler.triggerStates().length === 2, "both triggers have a state");

    await tickAt(r, "10:00");
    const first = { stops: scheduleExecutionId(key("stops"), at("10:00")), keeps: scheduleExecutionId(key("keeps"), at("10:00")) };
    expect(await r.observer.terminal(first.stops)).toBe("FAILED");
    expect(await r.observer.terminal(first.keeps)).toBe("SUCCESS");
    await until(() => r.scheduler.triggerStates().find((s) => s.flowId === "stops")?.disabled === true, "the failing flow's trigger is disabled");

    await tickAt(r, "10:01");
    await tickAt(r, "10:02");
    const made = (await creates(r.log)).map((c) => `${c.flow.id} ${String(c.trigger?.date)}`).sort();
    expect(made).toEqual([
      "keeps 2025-06-01T10:00:00Z", "keeps 2025-06-01T10:01:00Z", "keeps 2025-06-01T10:02:00Z", "stops 2025-06-01T10:00:00Z",
    ]);
    expect(await disableCommands(r.log)).toEqual([`stops: stopAfter: execution ${first.stops} ended FAILED`]);
    const states = await publishedStates(r.log);
    expect(states.get(`${NS}/stops/minutely`)).toMatchObject({ disabled: true, disabledReason: `stopAfter: execution ${first.stops} ended FAILED` });
    expect(states.get(`${NS}/keeps/minutely`)).toMatchObject({ disabled: false });
    // every watched execution ended: nothing stays watched
    for (const hhmm of ["10:01", "10:02"]) expect(await r.observer.terminal(scheduleExecutionId(key("keeps"), at(hhmm)))).toBe("SUCCESS");
    await until(() => r.scheduler.stopAfter?.watched().length === 0, "no execution is watched any more");
  });

  it("stopAfter: a watched execution is remembered across a scheduler restart", async () => {
    const held: WorkerJob[] = [];
    const r = await rig((job) => {
      held.push(job);
      return { kind: "start-only" };
    });
    await deploy(r.log, NS, "slow", 1, flowSource("slow", "    stopAfter: [FAILED, KILLED]\n"));
    await until(() => r.scheduler.triggerStates().length === 1, "the trigger has a state");
    await tickAt(r, "10:00");
    const id = scheduleExecutionId(key("slow"), at("10:00"));
    await until(() => r.scheduler.stopAfter?.watched().some((w) => w.executionId === id) === true && held.length === 1, "the execution runs and is watched");

    await r.scheduler.stop();
    const again = newScheduler(r.log, r.clock);
    await again.start();
    cleanups.push(() => again.stop());
    await until(() => again.stopAfter?.watched().some((w) => w.executionId === id) === true, "the new scheduler watches it from its store");

    const job = held[0];
    const failed: WorkerResult = { kind: "completed", executionId: id, taskRunId: job.taskRunId, attempt: job.attempt, workerId: "w1", state: "FAILED", error: { message: "boom" } };
    await r.log.append([{ topic: "worker-results", key: id, value: codec.encode("WorkerResult", failed) }]);
    expect(await r.observer.terminal(id)).toBe("FAILED");
    await until(() => again.triggerStates()[0]?.disabled === true, "the trigger is disabled");
    expect(await disableCommands(r.log)).toEqual([`slow: stopAfter: execution ${id} ended FAILED`]);
  });

  it("a schedule firing into a flow at its concurrency limit follows QUEUE, CANCEL and FAIL", async () => {
    const behaviors = ["QUEUE", "CANCEL", "FAIL"] as const;
    const held = new Map(behaviors.map((b) => [scheduleExecutionId(key(`c${b}`), at("10:00")), b]));
    const heldJobs: WorkerJob[] = [];
    // the 10:00 runs hold their flow's only slot until the test completes them
    const r = await rig((job) => {
      if (held.has(job.executionId)) {
        heldJobs.push(job);
        return { kind: "start-only" };
      }
      return defaultAnswer(job);
    });
    for (const b of behaviors) {
      await deploy(r.log, NS, `c${b}`, 1, flowSource(`c${b}`, "", `concurrency:\n  limit: 1\n  behavior: ${b}\n`));
    }
    await until(() => r.scheduler.triggerStates().length === 3, "three triggers");
    await tickAt(r, "10:00");
    await until(() => heldJobs.length === 3, "the three 10:00 runs hold their slot");
    await tickAt(r, "10:01");

    const second = (b: string) => scheduleExecutionId(key(`c${b}`), at("10:01"));
    expect(await r.observer.terminal(second("CANCEL"))).toBe("CANCELLED");
    expect(await r.observer.terminal(second("FAIL"))).toBe("FAILED");
    await r.observer.until(() => r.observer.state(second("QUEUE")) === "QUEUED");
    for (const id of held.keys()) expect(r.observer.state(id)).toBe("RUNNING");

    // the slot frees: the queued run starts and finishes
    const job = heldJobs.find((j) => held.get(j.executionId) === "QUEUE");
    if (!job) throw new Error("no held job for the QUEUE flow");
    const done: WorkerResult = { kind: "completed", executionId: job.executionId, taskRunId: job.taskRunId, attempt: job.attempt, workerId: "w1", state: "SUCCESS" };
    await r.log.append([{ topic: "worker-results", key: job.executionId, value: codec.encode("WorkerResult", done) }]);
    expect(await r.observer.terminal(job.executionId)).toBe("SUCCESS");
    expect(await r.observer.terminal(second("QUEUE"))).toBe("SUCCESS");
    const queueStates: State[] = r.observer.of(second("QUEUE"), "ExecutionStateChanged").map((e) => e.state);
    expect(queueStates).toEqual(["QUEUED", "RUNNING", "SUCCESS"]);
    expect(r.worker.jobs.filter((j) => j.executionId === second("QUEUE"))).toHaveLength(1);
  });
});
