import { describe, expect, it } from "vitest";
import { ExecutorHarness } from "../../harness/executor-harness.js";
import { flowYaml } from "../../harness/fixtures.js";
import { cloneState, reduceConcurrency, type ConcurrencyState } from "../../../processors/executor/index.js";

describe("reduceConcurrency", () => {
  const acquire = (executionId: string) => ({ type: "AcquireConcurrencySlot" as const, flowKey: "t/ns/f", executionId, limit: 2, behavior: "QUEUE" as const });
  const release = (executionId: string) => ({ type: "ReleaseConcurrencySlot" as const, flowKey: "t/ns/f", executionId });

  it("grants up to the limit, queues the rest, and grants in FIFO order on release", () => {
    let s: ConcurrencyState | undefined;
    const answers: string[] = [];
    for (const input of [acquire("a"), acquire("b"), acquire("c"), acquire("d"), acquire("c"), release("a"), release("c"), release("b")]) {
      const r = reduceConcurrency(s, input);
      s = r.state;
      answers.push(...r.replies.map((x) => `${x.executionId}:${x.decision}`));
    }
    // c is granted when a leaves; releasing c (finished) lets d in; b's release frees a slot nobody waits for
    expect(answers).toEqual(["a:granted", "b:granted", "c:queued", "d:queued", "c:queued", "c:granted", "d:granted"]);
    expect(s).toEqual({ flowKey: "t/ns/f", running: ["d"], queue: [], limit: 2 });
  });

  it("a killed queued execution leaves the queue", () => {
    const h = new ExecutorHarness();
    h.autoWork = false;
    const flow = h.addFlow(flowYaml("concurrency-queue"));
    h.start(flow);
    const b = h.start(flow);
    h.send({ type: "Kill", executionId: b });
    expect(h.execution(b).state.current).toBe("KILLED");
    expect(h.concurrency.get("main/company.team/concurrency_queue")?.queue).toEqual([]);
  });
});

describe("replay inside a ForEach", () => {
  it("keeps the groups before the chosen task run and reruns from it", () => {
    const h = new ExecutorHarness();
    h.script("step", (job) => ((job.vars.taskrun as { value: string }).value === "2" && job.executionId !== "again" ? { state: "FAILED" } : { state: "SUCCESS", outputs: { v: (job.vars.taskrun as { value: string }).value } }));
    const src = h.runFlow(flowYaml("foreach-fail"));
    expect(src.state.current).toBe("FAILED");
    const from = h.taskRuns(src.id, "step")[1];
    h.send({ type: "CreateExecution", executionId: "again", flow: h.state(src.id).flow, inputs: {}, replay: { source: cloneState(h.state(src.id)), fromTaskRunId: from.id } });
    const ex = h.execution("again");
    expect(ex.state.current).toBe("SUCCESS");
    expect(h.taskRuns("again", "step").map((t) => [t.value, t.state.current])).toEqual([["1", "SUCCESS"], ["2", "SUCCESS"], ["3", "SUCCESS"]]);
    expect(h.dispatched.filter((j) => j.executionId === "again").map((j) => `${j.task.id}:${(j.vars.taskrun as { value?: string }).value ?? ""}`)).toEqual(["step:2", "step:3", "after:"]);
    expect(h.replayed("again")).toEqual(h.state("again"));
  });
});
