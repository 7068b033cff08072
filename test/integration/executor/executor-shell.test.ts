import { afterEach, describe, expect, it } from "vitest";
import { parseFlowOrThrow } from "../../../schemas/flow-parser.js";
import type { Flow } from "../../../schemas/flow-types.js";
import { StaticFlowResolver } from "../../../processors/executor/shell/flow-resolver.js";
import type { Executor, ExecutorOptions } from "../../../processors/executor/shell/executor.js";
import { encodeWorkerLost } from "../../../processors/executor/shell/records.js";
import { STORE_NAME, fromBytes, liveKey } from "../../../processors/executor/shell/state-keys.js";
import type { ExecutionState } from "../../../processors/executor/model.js";
import { WorkerGroupWatch } from "../../../processors/liveness/worker-group-watch.js";
import { DEAD_LETTER_HEADERS } from "../../../topology/dead-letter.js";
import type { Log } from "../../../topology/log.js";
import { partitionForKey } from "../../../topology/partitioner.js";
import { Observer, ScriptedWorker, codec, defaultAnswer, openTestLog, send, startExecutor, tempDir, type Answer } from "./scripted.js";

const flow = (yaml: string): Flow => parseFlowOrThrow(yaml);

const SEQUENTIAL = flow(`
id: seq
namespace: shell.test
tasks:
  - id: a
    type: io.kestra.plugin.core.debug.Return
    format: "one"
  - id: b
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.a.value }} two"
  - id: c
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.b.value }} three"
outputs:
  - id: all
    type: STRING
    value: "{{ outputs.c.value }}"
`);

const FOREACH = flow(`
id: each
namespace: shell.test
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.ForEach
    values: ["x", "y", "z"]
    concurrencyLimit: 2
    tasks:
      - id: item
        type: io.kestra.plugin.core.debug.Return
        format: "item {{ taskrun.value }}"
`);

const RETRY = flow(`
id: retry
namespace: shell.test
tasks:
  - id: flaky
    type: io.kestra.plugin.core.debug.Return
    format: "finally"
    retry:
      type: constant
      interval: PT0.05S
      maxAttempt: 3
`);

const PARENT = flow(`
id: parent
namespace: shell.test
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: shell.test
    flowId: child
    inputs:
      who: "{{ flow.id }}"
    wait: true
    transmitFailed: true
  - id: use
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.call.outputs.greeting }}"
`);

const CHILD = flow(`
id: child
namespace: shell.test
inputs:
  - id: who
    type: STRING
tasks:
  - id: greet
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ inputs.who }}"
outputs:
  - id: greeting
    type: STRING
    value: "{{ outputs.greet.value }}"
`);

const MISSING_CHILD = flow(`
id: orphan
namespace: shell.test
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: shell.test
    flowId: nowhere
    wait: true
    transmitFailed: true
`);

const PAUSED = flow(`
id: paused
namespace: shell.test
tasks:
  - id: before
    type: io.kestra.plugin.core.debug.Return
    format: "before"
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    delay: PT0.3S
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "after"
`);

interface Running {
  log: Log;
  executor: Executor;
  worker: ScriptedWorker;
  observer: Observer;
  close(): Promise<void>;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(
  dir: string, flows: Flow[], script?: (job: Parameters<typeof defaultAnswer>[0]) => Answer, extra: Partial<ExecutorOptions> = {},
): Promise<Running> {
  const log = await openTestLog(dir);
  const executor = startExecutor(log, new StaticFlowResolver(flows), extra);
  await executor.start();
  const worker = new ScriptedWorker(log, "w1", script);
  await worker.start();
  const observer = new Observer(log);
  await observer.start();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await observer.stop();
    await worker.stop();
    await executor.stop();
    await log.close();
  };
  cleanups.push(close);
  return { log, executor, worker, observer, close };
}

function withDir(): string {
  const { dir, cleanup } = tempDir();
  cleanups.unshift(cleanup);
  return dir;
}

/** Each task run reaches exactly one terminal state. */
function terminalCounts(o: Observer, executionId: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of o.of(executionId, "TaskRunStateChanged")) {
    if (["SUCCESS", "WARNING", "FAILED", "KILLED", "SKIPPED", "CANCELLED"].includes(e.state)) counts.set(e.taskRunId, (counts.get(e.taskRunId) ?? 0) + 1);
  }
  return counts;
}

describe("executor shell on the embedded log", () => {
  it("runs a sequential flow to SUCCESS with its outputs", async () => {
    const r = await start(withDir(), [SEQUENTIAL]);
    await send(r.log, { type: "CreateExecution", executionId: "exec-seq-1", flow: SEQUENTIAL, inputs: {} });
    expect(await r.observer.terminal("exec-seq-1")).toBe("SUCCESS");
    const outputs = r.observer.of("exec-seq-1", "ExecutionOutputs");
    expect(outputs.map((e) => e.outputs)).toEqual([{ all: "one two three" }]);
    expect(r.worker.jobs.map((j) => j.task.id)).toEqual(["a", "b", "c"]);
    expect([...terminalCounts(r.observer, "exec-seq-1").values()]).toEqual([1, 1, 1]);
  });

  it("treats a duplicate CreateExecution as a no-op", async () => {
    const r = await start(withDir(), [SEQUENTIAL]);
    await send(r.log, { type: "CreateExecution", executionId: "exec-dup", flow: SEQUENTIAL, inputs: {} });
    expect(await r.observer.terminal("exec-dup")).toBe("SUCCESS");
    await send(r.log, { type: "CreateExecution", executionId: "exec-dup", flow: SEQUENTIAL, inputs: {} });
    await send(r.log, { type: "CreateExecution", executionId: "exec-after-dup", flow: SEQUENTIAL, inputs: {} });
    await r.observer.terminal("exec-after-dup");
    expect(r.observer.of("exec-dup", "ExecutionCreated")).toHaveLength(1);
    expect(r.worker.jobs.filter((j) => j.executionId === "exec-dup")).toHaveLength(3);
  });

  it("runs a ForEach, one task run per value", async () => {
    const r = await start(withDir(), [FOREACH]);
    await send(r.log, { type: "CreateExecution", executionId: "exec-each", flow: FOREACH, inputs: {} });
    expect(await r.observer.terminal("exec-each")).toBe("SUCCESS");
    const items = r.observer.of("exec-each", "TaskRunCreated").filter((e) => e.taskId === "item");
    expect(items.map((e) => e.value).sort()).toEqual(["x", "y", "z"]);
    const outs = r.observer.of("exec-each", "TaskRunOutputs").map((e) => e.outputs.value).sort();
    expect(outs).toEqual(["item x", "item y", "item z"]);
  });

  it("retries a failing task through timers until it succeeds", async () => {
    const script = (job: Parameters<typeof defaultAnswer>[0]): Answer =>
      job.attempt < 3 ? { kind: "complete", state: "FAILED", error: `attempt ${job.attempt} failed` } : defaultAnswer(job);
    const r = await start(withDir(), [RETRY], script);
    await send(r.log, { type: "CreateExecution", executionId: "exec-retry", flow: RETRY, inputs: {} });
    expect(await r.observer.terminal("exec-retry")).toBe("SUCCESS");
    expect(r.worker.jobs.map((j) => j.attempt)).toEqual([1, 2, 3]);
    const timers = r.observer.of("exec-retry", "TimerScheduled");
    expect(timers).toHaveLength(2);
    const states = r.observer.of("exec-retry", "TaskRunStateChanged").map((e) => e.state);
    expect(states.filter((s) => s === "RETRYING")).toHaveLength(2);
  });

  it("starts a subflow from the resolved flow and hands its outputs to the parent", async () => {
    const r = await start(withDir(), [PARENT, CHILD]);
    await send(r.log, { type: "CreateExecution", executionId: "exec-parent", flow: PARENT, inputs: {} });
    expect(await r.observer.terminal("exec-parent")).toBe("SUCCESS");
    const link = r.observer.of("exec-parent", "SubflowLinked")[0];
    expect(r.observer.state(link.childExecutionId)).toBe("SUCCESS");
    const use = r.observer.of("exec-parent", "TaskRunOutputs").map((e) => e.outputs.value);
    expect(use).toContain("hello parent");
  });

  it("fails the subflow task when the child flow is not deployed", async () => {
    const r = await start(withDir(), [MISSING_CHILD]);
    await send(r.log, { type: "CreateExecution", executionId: "exec-orphan", flow: MISSING_CHILD, inputs: {} });
    expect(await r.observer.terminal("exec-orphan")).toBe("FAILED");
  });

  it("sends an undecodable command to dead letters and keeps going", async () => {
    const r = await start(withDir(), [SEQUENTIAL]);
    await r.log.append([{ topic: "execution-commands", key: "exec-bad", value: new Uint8Array([1, 2, 3]) }]);
    await send(r.log, { type: "CreateExecution", executionId: "exec-bad", flow: SEQUENTIAL, inputs: {} });
    expect(await r.observer.terminal("exec-bad")).toBe("SUCCESS");
    const dead = [];
    for await (const rec of r.log.readPartition("dead-letters", 0, 0n)) dead.push(rec);
    expect(dead).toHaveLength(1);
    expect(dead[0].headers[DEAD_LETTER_HEADERS.topic]).toBe("execution-commands");
    expect(dead[0].headers[DEAD_LETTER_HEADERS.reason]).toMatch(/undecodable/i);
  });

  it("resubmits the attempts of a lost worker and ignores the lost attempt's late result", async () => {
    let lostOnce = false;
    const script = (job: Parameters<typeof defaultAnswer>[0]): Answer => {
      if (job.task.id === "b" && !lostOnce) {
        lostOnce = true;
        return { kind: "start-only" };
      }
      return defaultAnswer(job);
    };
    const r = await start(withDir(), [SEQUENTIAL], script);
    await send(r.log, { type: "CreateExecution", executionId: "exec-lost", flow: SEQUENTIAL, inputs: {} });
    // a and b started: b's worker then goes silent
    await r.observer.until(() => r.observer.of("exec-lost", "AttemptStarted").length === 2);
    const n = r.log.partitionsOf("execution-commands");
    await r.log.append(
      Array.from({ length: n }, (_, partition) => ({ topic: "execution-commands", key: "w1", partition, value: encodeWorkerLost(codec, { workerId: "w1", at: Date.now() }) })),
    );
    expect(await r.observer.terminal("exec-lost")).toBe("SUCCESS");
    const bJobs = r.worker.jobs.filter((j) => j.task.id === "b");
    expect(bJobs.map((j) => j.attempt)).toEqual([1, 2]);
    // the lost attempt answers late: recorded, ignored
    const late = bJobs[0];
    await r.log.append([{
      topic: "worker-results", key: late.executionId,
      value: codec.encode("WorkerResult", { kind: "completed", executionId: late.executionId, taskRunId: late.taskRunId, attempt: 1, workerId: "w1", state: "FAILED" }),
    }]);
    await r.observer.until(() => r.observer.of("exec-lost", "ResultIgnored").length > 0);
    expect(r.observer.state("exec-lost")).toBe("SUCCESS");
    expect([...terminalCounts(r.observer, "exec-lost").values()].every((c) => c === 1)).toBe(true);
  });

  it("restores its state after a restart mid-execution and finishes exactly once", async () => {
    const dir = withDir();
    let first = await start(dir, [SEQUENTIAL], (job) => (job.task.id === "b" ? { kind: "ignore" } : defaultAnswer(job)));
    await send(first.log, { type: "CreateExecution", executionId: "exec-restart", flow: SEQUENTIAL, inputs: {} });
    await first.observer.until(() => first.observer.of("exec-restart", "AttemptCreated").length === 2);
    await first.close();

    first = await start(dir, [SEQUENTIAL]);
    expect(await first.observer.terminal("exec-restart")).toBe("SUCCESS");
    expect(first.worker.jobs.map((j) => j.task.id)).toEqual(["b", "c"]);
    const events = first.observer.events.get("exec-restart") ?? [];
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect([...terminalCounts(first.observer, "exec-restart").values()]).toEqual([1, 1, 1]);
    expect(first.observer.of("exec-restart", "ExecutionOutputs").map((e) => e.outputs)).toEqual([{ all: "one two three" }]);
  });

  it("keeps a timer across a restart (a Pause delay resumes on the new instance)", async () => {
    const dir = withDir();
    let r = await start(dir, [PAUSED]);
    await send(r.log, { type: "CreateExecution", executionId: "exec-pause", flow: PAUSED, inputs: {} });
    await r.observer.until(() => r.observer.of("exec-pause", "TimerScheduled").length === 1);
    await r.close();

    r = await start(dir, [PAUSED]);
    expect(await r.observer.terminal("exec-pause")).toBe("SUCCESS");
    expect(r.worker.jobs.map((j) => j.task.id)).toEqual(["after"]);
    expect(r.observer.of("exec-pause", "TimerCleared").map((e) => e.reason)).toEqual(["fired"]);
  });

  it("restores from snapshots and replays what came after them", async () => {
    const dir = withDir();
    let r = await start(dir, [SEQUENTIAL]);
    for (let i = 0; i < 5; i++) await send(r.log, { type: "CreateExecution", executionId: `exec-many-${i}`, flow: SEQUENTIAL, inputs: {} });
    for (let i = 0; i < 5; i++) await r.observer.terminal(`exec-many-${i}`);
    await r.close();

    r = await start(dir, [SEQUENTIAL]);
    // the ended executions were restored: a second create of each is still a no-op
    for (let i = 0; i < 5; i++) await send(r.log, { type: "CreateExecution", executionId: `exec-many-${i}`, flow: SEQUENTIAL, inputs: {} });
    await send(r.log, { type: "CreateExecution", executionId: "exec-many-last", flow: SEQUENTIAL, inputs: {} });
    expect(await r.observer.terminal("exec-many-last")).toBe("SUCCESS");
    for (let i = 0; i < 5; i++) expect(r.observer.of(`exec-many-${i}`, "ExecutionCreated")).toHaveLength(1);
    expect(r.worker.jobs.every((j) => j.executionId === "exec-many-last")).toBe(true);
  });

  it("spaces snapshots out in proportion to their size, and restores from an older one by replaying more", async () => {
    const dir = withDir();
    let now = 1_000_000;
    // 1 byte per 100 ms: a snapshot of a few kB holds the next one back for minutes of this clock
    const opts = { clock: () => now, snapshotIntervalMs: 100, snapshotBytesPerInterval: 1, endedGraceMs: 3_600_000 };
    let r = await start(dir, [FOREACH], undefined, opts);
    const snapshotSeq = async (id: string): Promise<number | undefined> => {
      for (let p = 0; p < 4; p++) {
        const bytes = await r.log.stateStore(STORE_NAME, p).get(liveKey(id));
        if (bytes) return (fromBytes(bytes) as ExecutionState).seq;
      }
      return undefined;
    };
    await send(r.log, { type: "CreateExecution", executionId: "exec-spaced", flow: FOREACH, inputs: {} });
    expect(await r.observer.terminal("exec-spaced")).toBe("SUCCESS");
    const finalSeq = r.executor.executionState("exec-spaced")?.seq ?? 0;
    const first = await snapshotSeq("exec-spaced");
    // the first unit wrote a snapshot of a few kB: with the plain interval, the units after 1 s
    // of this clock would write another one; the stretched gap holds it back
    expect(first).toBeDefined();
    expect(first).toBeLessThan(finalSeq);
    now += 1_000;
    // on the same partition, so its units are the ones that would snapshot the first execution
    const second = Array.from({ length: 64 }, (_, i) => `exec-spaced-${i}`).find((id) => partitionForKey(id, 4) === partitionForKey("exec-spaced", 4));
    if (!second) throw new Error("no execution id on the same partition");
    await send(r.log, { type: "CreateExecution", executionId: second, flow: SEQUENTIAL, inputs: {} });
    expect(await r.observer.terminal(second)).toBe("SUCCESS");
    expect(await snapshotSeq("exec-spaced")).toBe(first);
    await r.close();

    // a restart replays every event after that snapshot
    r = await start(dir, [FOREACH, SEQUENTIAL], undefined, opts);
    expect(r.executor.executionState("exec-spaced")?.seq).toBe(finalSeq);
    expect(r.executor.executionState("exec-spaced")?.execution.state.current).toBe("SUCCESS");
    expect(r.executor.executionState(second)?.execution.state.current).toBe("SUCCESS");
  });

  it("drops ended executions from memory, keeping a final state that later inputs and duplicates still find", async () => {
    const r = await start(withDir(), [SEQUENTIAL], undefined, { endedGraceMs: 0, snapshotIntervalMs: 0 });
    await send(r.log, { type: "CreateExecution", executionId: "exec-drop", flow: SEQUENTIAL, inputs: {} });
    expect(await r.observer.terminal("exec-drop")).toBe("SUCCESS");
    // the flush after the end writes the final state and forgets the execution
    await send(r.log, { type: "CreateExecution", executionId: "exec-drop-2", flow: SEQUENTIAL, inputs: {} });
    await r.observer.terminal("exec-drop-2");
    await send(r.log, { type: "CreateExecution", executionId: "exec-drop-3", flow: SEQUENTIAL, inputs: {} });
    await r.observer.terminal("exec-drop-3");
    expect(r.executor.executionState("exec-drop")).toBeUndefined();
    await send(r.log, { type: "CreateExecution", executionId: "exec-drop", flow: SEQUENTIAL, inputs: {} });
    const a = r.worker.jobs.find((j) => j.executionId === "exec-drop" && j.task.id === "a");
    if (!a) throw new Error("job a of exec-drop was not dispatched");
    await r.log.append([{
      topic: "worker-results", key: a.executionId,
      value: codec.encode("WorkerResult", { kind: "completed", executionId: a.executionId, taskRunId: a.taskRunId, attempt: 1, workerId: "w1", state: "FAILED" }),
    }]);
    await r.observer.until(() => r.observer.of("exec-drop", "ResultIgnored").length === 1);
    expect(r.observer.of("exec-drop", "ExecutionCreated")).toHaveLength(1);
    expect(r.observer.state("exec-drop")).toBe("SUCCESS");
  });

  it("flags a job whose worker group has no live worker with a WARN log line, and still dispatches it", async () => {
    const GROUPED = flow(`
id: grouped
namespace: shell.test
tasks:
  - id: plain
    type: io.kestra.plugin.core.debug.Return
    format: "plain"
  - id: gpu
    type: io.kestra.plugin.core.debug.Return
    format: "gpu"
    workerGroup:
      key: gpu
`);
    let now = 1_000_000;
    const watch = new WorkerGroupWatch(8_000, () => now);
    // past one timeout since the watch started, it knows which groups have nobody
    now += 9_000;
    expect(watch.knows("gpu")).toBe(true);
    watch.observe({ workerId: "w1", group: "default", threads: 1, running: 0, at: now, status: "RUNNING" });
    const r = await start(withDir(), [GROUPED], undefined, { workerGroups: watch });
    await send(r.log, { type: "CreateExecution", executionId: "exec-grouped", flow: GROUPED, inputs: {} });
    expect(await r.observer.terminal("exec-grouped")).toBe("SUCCESS");
    expect(r.worker.jobs.map((j) => [j.task.id, j.workerGroup])).toEqual([["plain", undefined], ["gpu", "gpu"]]);
    const lines: Array<{ taskId: string; level: string; message: string }> = [];
    for (let p = 0; p < r.log.partitionsOf("logs"); p++) {
      for await (const rec of r.log.readPartition("logs", p, 0n)) lines.push(codec.decode(rec.value).value as (typeof lines)[number]);
    }
    expect(lines.map((l) => [l.taskId, l.level, l.message])).toEqual([["gpu", "WARN", "no live worker in worker group gpu; the task waits"]]);
  });
});
