import { describe, expect, it } from "vitest";
import { ExecutorHarness } from "../../harness/executor-harness.js";
import { flowYaml } from "../../harness/fixtures.js";

describe("Sequential", () => {
  it("runs tasks in order, nested Sequential included, and renders flow outputs", () => {
    const h = new ExecutorHarness();
    const ex = h.runFlow(flowYaml("sequential"), { name: "lanner" });
    expect(ex.state.current).toBe("SUCCESS");
    expect(ex.taskRunList.map((t) => t.taskId)).toEqual(["first", "seq", "second", "log", "third"]);
    expect(ex.taskRunList.every((t) => t.state.current === "SUCCESS")).toBe(true);
    expect(ex.taskRunList.find((t) => t.taskId === "second")?.outputs).toEqual({ value: "hello lanner!" });
    expect(ex.taskRunList.find((t) => t.taskId === "third")?.outputs).toEqual({ value: "company.team.sequential third" });
    expect(ex.outputs).toEqual({ final: "hello lanner!" });
    const types = h.events(ex.id).map((e) => e.type);
    expect(types[0]).toBe("ExecutionCreated");
    expect(types.at(-1)).toBe("ExecutionStateChanged");
    expect(h.events(ex.id).map((e) => e.seq)).toEqual(types.map((_, i) => i + 1));
    expect(h.replayed(ex.id)).toEqual(h.state(ex.id));
  });
});
