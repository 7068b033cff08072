import { describe, expect, it } from "vitest";
import { ExecutorHarness } from "../../harness/executor-harness.js";
import { flowYaml } from "../../harness/fixtures.js";
import { referencedOutputs } from "../../../processors/executor/index.js";

describe("expression variables", () => {
  it("jobs see execution, labels, envs (from the context), trigger, taskrun and flow", () => {
    const h = new ExecutorHarness();
    h.envs = { region: "eu" };
    const id = h.start(flowYaml("variables"), {}, { executionId: "execVars", trigger: { source: "api" } });
    h.runTimersUntil(() => h.isDone(id));
    expect(h.taskRuns(id, "show")[0].outputs).toEqual({ value: "execVars|ops|eu|api|1|1|RUNNING" });
    const job = h.dispatched[0];
    expect(job.vars.outputs).toEqual({});
    expect(job.vars.taskrun).toMatchObject({ id: job.taskRunId, attemptsCount: 1, startDate: "2026-01-01T00:00:00.000Z" });
  });

  it("ForEachItem sends its split to a worker and fails clearly when the split reports no batches", () => {
    const h = new ExecutorHarness();
    h.envs = { region: "eu" };
    const ex = h.execution(h.start(flowYaml("variables"), {}, { trigger: { source: "api" } }));
    expect(ex.state.current).toBe("FAILED");
    expect(h.dispatched.map((j) => j.task.id)).toEqual(["show", "unsupported_split"]);
    const items = h.taskRuns(ex.id, "unsupported_items")[0];
    expect(items.error).toEqual({ message: "unsupported: the split task reported no outputs", code: "FOREACHITEM_BATCHES_INVALID" });
    expect(h.taskRuns(ex.id, "unsupported")[0].state.current).toBe("FAILED");
  });

  it("only the outputs a task's templates reference are copied into its job", () => {
    expect(referencedOutputs({ format: "{{ outputs.a.value }} {{ outputs['b-c'].x }}" })).toEqual(["a", "b-c"]);
    expect(referencedOutputs({ message: "{{ outputs | json }}" })).toBe("all");
    expect(referencedOutputs({ message: "plain outputs word without template" })).toEqual([]);
    expect(referencedOutputs({ nested: [{ deep: { v: "{{ outputs.z }}" } }] })).toEqual(["z"]);
  });
});
