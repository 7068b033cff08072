import { describe, expect, it } from "vitest";
import { ExecutorHarness } from "../../harness/executor-harness.js";
import { flowYaml } from "../../harness/fixtures.js";

function outputsOf(h: ExecutorHarness, id: string, taskId: string) {
  return h.taskRuns(id, taskId).map((t) => t.outputs);
}

describe("flowable tasks", () => {
  it("Parallel honours `concurrent` and If inside it picks a branch", () => {
    const h = new ExecutorHarness();
    h.autoWork = false;
    const id = h.start(flowYaml("parallel-if"), { flag: true });
    // two of the three children start; the third waits for a free slot
    expect(h.execution(id).taskRunList.map((t) => t.taskId)).toEqual(["par", "a", "b"]);
    h.completeJob(h.pendingJob("a")!, { state: "SUCCESS", outputs: { value: "a" } });
    expect(h.taskRuns(id, "check")).toHaveLength(1);
    h.completeJob(h.pendingJob("yes")!, { state: "SUCCESS", outputs: { value: "yes" } });
    h.completeJob(h.pendingJob("b")!, { state: "SUCCESS" });
    const ex = h.execution(id);
    expect(ex.state.current).toBe("SUCCESS");
    expect(h.taskRuns(id, "no")).toHaveLength(0);
    expect(h.taskState(id, "check")).toBe("SUCCESS");
  });

  it("If takes `else` when the condition is false", () => {
    const h = new ExecutorHarness();
    const ex = h.runFlow(flowYaml("parallel-if"), { flag: false });
    expect(ex.state.current).toBe("SUCCESS");
    expect(h.taskRuns(ex.id, "yes")).toHaveLength(0);
    expect(outputsOf(h, ex.id, "no")).toEqual([{ value: "no" }]);
  });

  it("Switch picks the matching case, or defaults", () => {
    const h = new ExecutorHarness();
    const json = h.runFlow(flowYaml("switch"), { kind: "json" });
    expect(json.taskRunList.map((t) => t.taskId)).toEqual(["sw", "json_task"]);
    const other = h.runFlow(flowYaml("switch"), { kind: "xml" });
    expect(other.taskRunList.map((t) => t.taskId)).toEqual(["sw", "other"]);
    expect(outputsOf(h, other.id, "other")).toEqual([{ value: "other xml" }]);
  });

  it("nested ForEach gives taskrun.value and parent.taskrun.value, outputs addressed by values", () => {
    const h = new ExecutorHarness();
    const ex = h.runFlow(flowYaml("foreach-nested"));
    expect(ex.state.current).toBe("SUCCESS");
    const pairs = h.taskRuns(ex.id, "pair");
    expect(pairs.map((t) => t.outputs?.value)).toEqual(["x-1", "x-2", "y-1", "y-2"]);
    expect(pairs.map((t) => t.value)).toEqual(["1", "2", "1", "2"]);
    expect(new Set(pairs.map((t) => t.id)).size).toBe(4);
    expect(h.taskRuns(ex.id, "inner").map((t) => t.value)).toEqual(["x", "y"]);
    expect(ex.outputs).toEqual({ picked: "y-2" });
    expect(h.state(ex.id).outputsTree.pair).toEqual({ x: { 1: { value: "x-1" }, 2: { value: "x-2" } }, y: { 1: { value: "y-1" }, 2: { value: "y-2" } } });
  });

  it("ForEach runs at most concurrencyLimit groups at once, each group in sequence", () => {
    const h = new ExecutorHarness();
    h.autoWork = false;
    const id = h.start(flowYaml("foreach-limit"));
    expect(h.pendingJobs.map((j) => `${j.task.id}:${String(j.vars.taskrun && (j.vars.taskrun as { value: string }).value)}`)).toEqual(["work:a", "work:b"]);
    h.completeJob(h.pendingJob("work")!, { state: "SUCCESS", outputs: { value: "a" } });
    // group a moves on to its second task; no third group yet
    expect(h.pendingJobs.map((j) => j.task.id)).toEqual(["work", "after"]);
    h.completeJob(h.pendingJob("after")!, { state: "SUCCESS" });
    expect(h.pendingJobs.map((j) => (j.vars.taskrun as { value: string }).value)).toEqual(["b", "c"]);
    for (let i = 0; i < 20 && h.pendingJobs.length > 0; i++) {
      const j = h.pendingJobs[0];
      h.completeJob(j, { state: "SUCCESS", outputs: { value: (j.vars.taskrun as { value: string }).value } });
    }
    const ex = h.execution(id);
    expect(ex.state.current).toBe("SUCCESS");
    expect(h.taskRuns(id, "after")).toHaveLength(4);
    const events = h.events(id);
    expect(events.filter((e) => e.type === "IterationEnded")).toHaveLength(4);
    // the `after` job of group c saw its own group's output only
    const afterC = h.dispatched.find((j) => j.task.id === "after" && (j.vars.taskrun as { value: string }).value === "c");
    expect(afterC?.vars.outputs).toEqual({ work: { a: { value: "a" }, b: { value: "b" }, c: { value: "c" } } });
  });

  it("ForEach stops starting groups after a failure and fails", () => {
    const h = new ExecutorHarness();
    h.script("step", (job) => ((job.vars.taskrun as { value: string }).value === "2" ? { state: "FAILED", error: { message: "bad 2" } } : { state: "SUCCESS" }));
    const ex = h.runFlow(flowYaml("foreach-fail"));
    expect(ex.state.current).toBe("FAILED");
    expect(h.taskRuns(ex.id, "step").map((t) => t.value)).toEqual(["1", "2"]);
    expect(h.taskState(ex.id, "each")).toBe("FAILED");
    expect(h.taskRuns(ex.id, "after")).toHaveLength(0);
    expect(h.taskRuns(ex.id, "step")[1].error).toEqual({ message: "bad 2" });
  });

  it("Dag starts a task once its dependencies succeeded", () => {
    const h = new ExecutorHarness();
    h.autoWork = false;
    const id = h.start(flowYaml("dag"));
    expect(h.pendingJobs.map((j) => j.task.id)).toEqual(["extract"]);
    h.completeJob(h.pendingJob("extract")!, { state: "SUCCESS", outputs: { value: "e" } });
    expect(h.pendingJobs.map((j) => j.task.id).sort()).toEqual(["audit", "transform"]);
    h.completeJob(h.pendingJob("transform")!, { state: "SUCCESS", outputs: { value: "t" } });
    expect(h.pendingJobs.map((j) => j.task.id)).toEqual(["audit"]);
    h.completeJob(h.pendingJob("audit")!, { state: "SUCCESS", outputs: { value: "a" } });
    const load = h.pendingJob("load")!;
    expect(load.vars.outputs).toEqual({ transform: { value: "t" }, audit: { value: "a" } });
    h.completeJob(load, { state: "SUCCESS" });
    expect(h.execution(id).state.current).toBe("SUCCESS");
  });

  it("AllowFailure, allowFailure and allowWarning turn failures into warnings", () => {
    const h = new ExecutorHarness();
    h.script("warned", { succeed: true, warning: true });
    const ex = h.runFlow(flowYaml("allow-failure"));
    expect(h.taskState(ex.id, "boom")).toBe("FAILED");
    expect(h.taskRuns(ex.id, "never")).toHaveLength(0);
    expect(h.taskState(ex.id, "tolerant")).toBe("WARNING");
    expect(h.taskState(ex.id, "soft")).toBe("FAILED");
    expect(h.taskState(ex.id, "warned")).toBe("WARNING");
    expect(h.taskState(ex.id, "last")).toBe("SUCCESS");
    expect(ex.state.current).toBe("WARNING");
  });

  it("allowWarning alone: a warning counts as success", () => {
    const h = new ExecutorHarness();
    h.script("warned", { succeed: true, warning: true });
    h.script("boom", { succeed: true });
    h.script("soft", { succeed: true });
    const ex = h.runFlow(flowYaml("allow-failure"));
    expect(h.taskState(ex.id, "warned")).toBe("WARNING");
    expect(ex.state.current).toBe("SUCCESS");
  });

  it("WorkingDirectory is one job; its children come back as task runs", () => {
    const h = new ExecutorHarness();
    const ex = h.runFlow(flowYaml("working-directory"));
    expect(ex.state.current).toBe("SUCCESS");
    expect(h.dispatched.map((j) => j.task.id)).toEqual(["wd", "after"]);
    expect(ex.taskRunList.map((t) => t.taskId)).toEqual(["wd", "write", "read", "after"]);
    expect(h.taskRuns(ex.id, "read")[0].parentTaskRunId).toBe(h.taskRuns(ex.id, "wd")[0].id);
    expect(outputsOf(h, ex.id, "after")).toEqual([{ value: "read written" }]);
  });

  it("WorkingDirectory fails when a child failed on the worker", () => {
    const h = new ExecutorHarness();
    h.script("read", { fail: 99, message: "disk full" });
    const ex = h.runFlow(flowYaml("working-directory"));
    expect(ex.state.current).toBe("FAILED");
    expect(h.taskState(ex.id, "read")).toBe("FAILED");
    expect(h.taskState(ex.id, "wd")).toBe("FAILED");
  });

  it("WaitFor loops with its interval until the condition holds", () => {
    const h = new ExecutorHarness();
    const start = h.now;
    const ex = h.runFlow(flowYaml("wait-for"));
    expect(ex.state.current).toBe("SUCCESS");
    const probes = h.taskRuns(ex.id, "probe");
    expect(probes.map((t) => t.iteration)).toEqual([0, 1, 2]);
    expect(probes.map((t) => t.outputs?.value)).toEqual(["1", "2", "3"]);
    expect(h.now - start).toBe(4000);
    expect(h.events(ex.id).filter((e) => e.type === "TimerScheduled").map((e) => e.type === "TimerScheduled" && e.timer.at - start)).toEqual([2000, 4000]);
  });

  it("WaitFor fails when maxIterations is reached with failOnMaxReached", () => {
    const h = new ExecutorHarness();
    const ex = h.runFlow(flowYaml("wait-for-max"));
    expect(ex.state.current).toBe("FAILED");
    expect(h.taskRuns(ex.id, "probe")).toHaveLength(3);
  });

  it("runIf false skips, disabled tasks are left out", () => {
    const h = new ExecutorHarness();
    const ex = h.runFlow(flowYaml("runif-disabled"), { go: false });
    expect(ex.state.current).toBe("SUCCESS");
    expect(h.taskState(ex.id, "maybe")).toBe("SKIPPED");
    expect(h.taskRuns(ex.id, "off")).toHaveLength(0);
    expect(h.dispatched.map((j) => j.task.id)).toEqual(["always"]);
    const ran = h.runFlow(flowYaml("runif-disabled"), { go: true });
    expect(h.taskState(ran.id, "maybe")).toBe("SUCCESS");
  });
});

describe("loop and pause limits", () => {
  it("WaitFor without failOnMaxReached ends as its last turn when maxDuration runs out", () => {
    const h = new ExecutorHarness();
    const start = h.now;
    const ex = h.runFlow(flowYaml("wait-for-duration"));
    // turns at 0s, 10s, 20s, 30s; a fifth at 40s would pass PT35S
    expect(h.taskRuns(ex.id, "probe")).toHaveLength(4);
    expect(h.now - start).toBe(30_000);
    expect(ex.state.current).toBe("SUCCESS");
  });

  it("a Pause timing out with behavior WARN ends WARNING and the flow goes on", () => {
    const h = new ExecutorHarness();
    const start = h.now;
    const ex = h.runFlow(flowYaml("pause-warn"));
    expect(h.now - start).toBe(600_000);
    expect(h.taskState(ex.id, "approve")).toBe("WARNING");
    expect(h.taskState(ex.id, "after")).toBe("SUCCESS");
    expect(ex.state.current).toBe("WARNING");
  });
});
