import { ExecutorHarness } from "./executor-harness.js";
import { flowYaml } from "./fixtures.js";
import type { ExecutionEvent, ExecutionState } from "../../processors/executor/index.js";

/** The recorded scenarios: a fixture flow, its inputs, and how the worker behaves. */
export const GOLDEN_SCENARIOS: Record<string, { flow: string; inputs: Record<string, unknown>; setup?: (h: ExecutorHarness) => void }> = {
  sequential: { flow: "sequential", inputs: { name: "golden" } },
  "foreach-nested": { flow: "foreach-nested", inputs: {} },
  "retry-constant": { flow: "retry-constant", inputs: {}, setup: (h) => h.script("flaky", { fail: 1 }) },
  "errors-finally": { flow: "errors-finally", inputs: {} },
};

/** What a golden file pins down about the final state. */
export function summary(state: ExecutionState) {
  return {
    state: state.execution.state.current,
    outputs: state.execution.outputs ?? null,
    taskRuns: state.order.map((id) => {
      const tr = state.taskRuns[id];
      return { id, taskId: tr.taskId, value: tr.value ?? null, state: tr.state.current, attempts: tr.attempts.length, outputs: tr.outputs ?? null };
    }),
  };
}

/** Runs a scenario and returns its history and final summary. */
export function runScenario(name: string): { events: ExecutionEvent[]; final: ReturnType<typeof summary> } {
  const sc = GOLDEN_SCENARIOS[name];
  const h = new ExecutorHarness();
  sc.setup?.(h);
  const ex = h.runFlow(flowYaml(sc.flow), sc.inputs);
  return { events: h.events(ex.id), final: summary(h.state(ex.id)) };
}
