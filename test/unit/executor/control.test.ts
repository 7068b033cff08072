import { describe, expect, it } from "vitest";
import { ExecutorHarness } from "../../harness/executor-harness.js";
import { flowYaml } from "../../harness/fixtures.js";
import { childExecutionId, cloneState, reduce } from "../../../processors/executor/index.js";

describe("subflows", () => {
  it("wait: the parent task ends with the child, outputs {executionId, state, outputs}; labels inherited", () => {
    const h = new ExecutorHarness();
    h.addFlow(flowYaml("subflow-child"));
    const ex = h.runFlow(flowYaml("subflow-parent"));
    expect(ex.state.current).toBe("SUCCESS");
    const call = h.taskRuns(ex.id, "call")[0];
    const childId = childExecutionId(ex.id, call.id);
    expect(call.outputs).toEqual({ executionId: childId, state: "SUCCESS", outputs: { greeting: "hello parent" } });
    expect(h.taskRuns(ex.id, "use")[0].outputs).toEqual({ value: "hello parent" });
    const child = h.execution(childId);
    expect(child.parentId).toBe(ex.id);
    expect(child.parentTaskRunId).toBe(call.id);
    expect(child.labels).toEqual([{ key: "team", value: "data" }]);
  });

  it("transmitFailed: a failed child fails the parent task", () => {
    const h = new ExecutorHarness();
    h.addFlow(flowYaml("subflow-child"));
    h.script("greet", { fail: 9 });
    const ex = h.runFlow(flowYaml("subflow-parent"));
    expect(ex.state.current).toBe("FAILED");
    expect(h.taskRuns(ex.id, "call")[0].outputs?.state).toBe("FAILED");
  });

  it("without transmitFailed a failed child leaves the parent task SUCCESS", () => {
    const h = new ExecutorHarness();
    h.addFlow(flowYaml("subflow-child"));
    h.script("greet", { fail: 9 });
    const ex = h.runFlow(flowYaml("subflow-lenient"));
    expect(ex.state.current).toBe("SUCCESS");
    expect(h.taskRuns(ex.id, "call")[0].outputs?.state).toBe("FAILED");
  });

  it("no wait: the task ends at once; the child's later notice is recorded and ignored", () => {
    const h = new ExecutorHarness();
    h.addFlow(flowYaml("subflow-child"));
    h.autoWork = false;
    const id = h.start(flowYaml("subflow-nowait"));
    const call = h.taskRuns(id, "call")[0];
    expect(call.state.current).toBe("SUCCESS");
    expect(call.outputs).toEqual({ executionId: childExecutionId(id, call.id) });
    h.completeJob(h.pendingJob("next")!, { state: "SUCCESS" });
    expect(h.execution(id).state.current).toBe("SUCCESS");
    h.completeJob(h.pendingJob("greet")!, { state: "SUCCESS", outputs: { value: "hello nowait" } });
    expect(h.execution(childExecutionId(id, call.id)).state.current).toBe("SUCCESS");
    expect(h.events(id).at(-1)?.type).toBe("ResultIgnored");
  });
});

describe("pause and resume", () => {
  it("Pause with delay: execution PAUSED, resumes by itself when the timer fires", () => {
    const h = new ExecutorHarness();
    const id = h.start(flowYaml("pause-delay"));
    expect(h.execution(id).state.current).toBe("PAUSED");
    expect(h.taskState(id, "wait")).toBe("PAUSED");
    h.advance(29_999);
    expect(h.execution(id).state.current).toBe("PAUSED");
    h.advance(1);
    const ex = h.execution(id);
    expect(ex.state.current).toBe("SUCCESS");
    expect(ex.state.histories.map((s) => s.state)).toEqual(["CREATED", "RUNNING", "PAUSED", "RUNNING", "SUCCESS"]);
  });

  it("Pause without delay waits for Resume; onResume inputs become its outputs", () => {
    const h = new ExecutorHarness();
    const id = h.start(flowYaml("pause-resume"));
    expect(h.execution(id).state.current).toBe("PAUSED");
    h.send({ type: "Resume", executionId: id, inputs: { reason: "looks good" } });
    const ex = h.execution(id);
    expect(ex.state.current).toBe("SUCCESS");
    expect(h.taskRuns(id, "approve")[0].outputs).toEqual({ onResume: { reason: "looks good" } });
    expect(h.taskRuns(id, "after")[0].outputs).toEqual({ value: "looks good" });
    expect(h.pendingTimers()).toEqual([]);
  });

  it("Pause timeout without resume fails the task", () => {
    const h = new ExecutorHarness();
    const ex = h.runFlow(flowYaml("pause-resume"));
    expect(ex.state.current).toBe("FAILED");
    expect(h.taskState(ex.id, "approve")).toBe("FAILED");
  });

  it("pausing a whole execution holds new task runs until Resume", () => {
    const h = new ExecutorHarness();
    h.autoWork = false;
    const id = h.start(flowYaml("sequential"), { name: "p" });
    h.send({ type: "Pause", executionId: id });
    h.completeJob(h.pendingJob("first")!, { state: "SUCCESS", outputs: { value: "hello p" } });
    expect(h.execution(id).state.current).toBe("PAUSED");
    expect(h.pendingJobs).toHaveLength(0);
    h.send({ type: "Resume", executionId: id });
    expect(h.pendingJobs.map((j) => j.task.id)).toEqual(["second"]);
    expect(h.execution(id).state.current).toBe("RUNNING");
  });
});

describe("concurrency limits", () => {
  it("QUEUE: the second execution waits QUEUED and runs when the first ends", () => {
    const h = new ExecutorHarness();
    h.autoWork = false;
    const flow = h.addFlow(flowYaml("concurrency-queue"));
    const a = h.start(flow);
    const b = h.start(flow);
    expect(h.execution(a).state.current).toBe("RUNNING");
    expect(h.execution(b).state.current).toBe("QUEUED");
    h.completeJob(h.pendingJobs[0], { state: "SUCCESS" });
    expect(h.execution(a).state.current).toBe("SUCCESS");
    expect(h.execution(b).state.current).toBe("RUNNING");
    h.completeJob(h.pendingJobs[0], { state: "SUCCESS" });
    expect(h.execution(b).state.histories.map((s) => s.state)).toEqual(["CREATED", "QUEUED", "RUNNING", "SUCCESS"]);
    expect(h.concurrency.get("main/company.team/concurrency_queue")).toEqual({ flowKey: "main/company.team/concurrency_queue", running: [], queue: [], limit: 1 });
  });

  it("CANCEL and FAIL: the execution over the limit ends CANCELLED / FAILED without running", () => {
    for (const [name, state] of [["concurrency-cancel", "CANCELLED"], ["concurrency-fail", "FAILED"]] as const) {
      const h = new ExecutorHarness();
      h.autoWork = false;
      const flow = h.addFlow(flowYaml(name));
      h.start(flow);
      const b = h.start(flow);
      expect(h.execution(b).state.current).toBe(state);
      expect(h.execution(b).taskRunList).toHaveLength(0);
    }
  });
});

describe("kill", () => {
  it("kills running attempts and the running subflow, then ends KILLED", () => {
    const h = new ExecutorHarness();
    h.addFlow(flowYaml("slow-child"));
    h.script("long", { hang: true }).script("crawl", { hang: true });
    const id = h.start(flowYaml("kill-subflow"));
    const call = h.taskRuns(id, "call")[0];
    const childId = call.childExecutionId!;
    expect(h.execution(childId).state.current).toBe("RUNNING");
    h.ackCancel = false;
    h.send({ type: "Kill", executionId: id });
    expect(h.execution(id).state.current).toBe("KILLING");
    expect(h.execution(childId).state.current).toBe("KILLING");
    expect(h.actions.filter((a) => a.type === "CancelJob").map((a) => a.type === "CancelJob" && a.taskRunId)).toContain(h.taskRuns(id, "long")[0].id);
    // the workers acknowledge the cancellation
    for (const job of [...h.pendingJobs]) h.completeJob(job, { state: "KILLED" });
    expect(h.execution(id).state.current).toBe("KILLED");
    expect(h.execution(childId).state.current).toBe("KILLED");
    expect(h.taskState(id, "call")).toBe("KILLED");
    expect(h.taskState(id, "par")).toBe("KILLED");
    expect(h.execution(id).state.histories.map((s) => s.state)).toEqual(["CREATED", "RUNNING", "KILLING", "KILLED"]);
  });
});

describe("restart and replay", () => {
  it("restart: FAILED → RESTARTED → RUNNING; failed task runs get a new attempt with the same ids", () => {
    const h = new ExecutorHarness();
    h.script("step", (job) => ((job.vars.taskrun as { value: string }).value === "2" && job.attempt === 1 ? { state: "FAILED" } : { state: "SUCCESS" }));
    const ex = h.runFlow(flowYaml("foreach-fail"));
    expect(ex.state.current).toBe("FAILED");
    const failedId = h.taskRuns(ex.id, "step")[1].id;
    h.send({ type: "Restart", executionId: ex.id });
    const after = h.execution(ex.id);
    expect(after.state.current).toBe("SUCCESS");
    expect(after.state.histories.map((s) => s.state)).toEqual(["CREATED", "RUNNING", "FAILED", "RESTARTED", "RUNNING", "SUCCESS"]);
    const step2 = h.taskRuns(ex.id, "step")[1];
    expect(step2.id).toBe(failedId);
    expect(step2.attempts.map((a) => a.state.current)).toEqual(["FAILED", "SUCCESS"]);
    expect(h.taskRuns(ex.id, "step").map((t) => t.value)).toEqual(["1", "2", "3"]);
    expect(h.taskState(ex.id, "each")).toBe("SUCCESS");
    expect(h.taskState(ex.id, "after")).toBe("SUCCESS");
    expect(h.replayed(ex.id)).toEqual(h.state(ex.id));
  });

  it("replay: a new execution copies what came before the chosen task run and runs from it", () => {
    const h = new ExecutorHarness();
    const src = h.runFlow(flowYaml("sequential"), { name: "r" });
    const from = h.taskRuns(src.id, "second")[0];
    h.send({ type: "CreateExecution", executionId: "replayed", flow: h.state(src.id).flow, inputs: src.inputs, replay: { source: cloneState(h.state(src.id)), fromTaskRunId: from.id } });
    const ex = h.execution("replayed");
    expect(ex.state.current).toBe("SUCCESS");
    expect(ex.originalId).toBe(src.id);
    expect(ex.taskRunList.map((t) => t.taskId)).toEqual(["first", "seq", "second", "log", "third"]);
    // copied task runs were not dispatched again: only second, log, third ran
    expect(h.dispatched.filter((j) => j.executionId === "replayed").map((j) => j.task.id)).toEqual(["second", "log", "third"]);
    expect(ex.taskRunList[0].outputs).toEqual({ value: "hello r" });
    expect(ex.taskRunList[0].id).not.toBe(src.taskRunList[0].id);
    expect(h.replayed("replayed")).toEqual(h.state("replayed"));
  });
});

describe("fencing and idempotence", () => {
  it("a duplicate create is a no-op", () => {
    const h = new ExecutorHarness();
    const id = h.start(flowYaml("sequential"), { name: "dup" });
    const before = h.events(id).length;
    const r = reduce(h.state(id), { type: "CreateExecution", executionId: id, flow: h.state(id).flow, inputs: {} }, { now: h.now });
    expect(r.events).toEqual([]);
    expect(r.actions).toEqual([]);
    expect(h.events(id)).toHaveLength(before);
  });

  it("WorkerLost resubmits the lost attempts; the lost attempt's late result is recorded and ignored", () => {
    const h = new ExecutorHarness();
    h.autoWork = false;
    const id = h.start(flowYaml("timeout"));
    const job1 = h.pendingJob("slow")!;
    h.startJob(job1, "w-dead");
    h.send({ type: "WorkerLost", executionId: id, workerId: "w-dead" });
    const tr = h.taskRuns(id, "slow")[0];
    expect(tr.attempts.map((a) => a.state.current)).toEqual(["FAILED", "CREATED"]);
    const job2 = h.pendingJobs.find((j) => j.attempt === 2)!;
    expect(job2.taskRunId).toBe(job1.taskRunId);
    h.completeJob(job1, { state: "SUCCESS" }, "w-dead");
    expect(h.events(id).at(-1)).toMatchObject({ type: "ResultIgnored", attempt: 1 });
    expect(h.taskRuns(id, "slow")[0].state.current).toBe("RUNNING");
    h.completeJob(job2, { state: "SUCCESS" }, "w-live");
    expect(h.taskState(id, "slow")).toBe("SUCCESS");
    // the new attempt got its own timeout timer; both are gone now
    const scheduled = h.events(id).flatMap((e) => (e.type === "TimerScheduled" ? [e.timer.id] : []));
    expect(scheduled).toEqual([`timeout:${job1.taskRunId}:1`, `timeout:${job1.taskRunId}:2`]);
    expect(h.pendingTimers()).toEqual([]);
  });

  it("WorkerLost while killing marks the attempts KILLED instead", () => {
    const h = new ExecutorHarness();
    h.autoWork = false;
    h.ackCancel = false;
    const id = h.start(flowYaml("timeout"));
    h.startJob(h.pendingJob("slow")!, "w-dead");
    h.send({ type: "Kill", executionId: id });
    expect(h.execution(id).state.current).toBe("KILLING");
    h.send({ type: "WorkerLost", executionId: id, workerId: "w-dead" });
    expect(h.taskState(id, "slow")).toBe("KILLED");
    expect(h.execution(id).state.current).toBe("KILLED");
  });

  it("a duplicate started and a result for a non-current attempt are recorded and ignored", () => {
    const h = new ExecutorHarness();
    h.autoWork = false;
    const id = h.start(flowYaml("timeout"));
    const job = h.pendingJob("slow")!;
    h.startJob(job);
    h.startJob(job);
    expect(h.events(id).at(-1)).toMatchObject({ type: "ResultIgnored", reason: "duplicate started result for attempt 1" });
    h.send({ type: "WorkerResult", executionId: id, result: { kind: "completed", executionId: id, taskRunId: job.taskRunId, attempt: 7, workerId: "w", state: "SUCCESS" } });
    expect(h.events(id).at(-1)).toMatchObject({ type: "ResultIgnored", attempt: 7 });
    expect(h.taskState(id, "slow")).toBe("RUNNING");
    const dispatchedTwice = h.dispatched.filter((j) => j.taskRunId === job.taskRunId && j.attempt === 1);
    expect(dispatchedTwice).toHaveLength(1);
  });

  it("SetLabels records LabelsChanged", () => {
    const h = new ExecutorHarness();
    h.autoWork = false;
    const id = h.start(flowYaml("timeout"));
    h.send({ type: "SetLabels", executionId: id, labels: [{ key: "env", value: "prod" }] });
    expect(h.execution(id).labels).toEqual([{ key: "env", value: "prod" }]);
    expect(h.events(id).at(-1)).toMatchObject({ type: "LabelsChanged" });
  });
});
