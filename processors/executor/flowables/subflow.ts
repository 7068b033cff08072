import type { Label, Task } from "../../../schemas/flow-types.js";
import { Decider } from "../decider.js";
import { childExecutionId } from "../ids.js";
import type { State, TaskRun } from "../model.js";
import type { FlowableLogic } from "./types.js";

/** A subflow task's `labels` (a map or a list), values rendered against `vars`. */
export function renderLabels(d: Decider, raw: unknown, vars: Record<string, unknown>): Label[] {
  if (!raw) return [];
  const list: Label[] = Array.isArray(raw)
    ? (raw as Label[])
    : Object.entries(raw as Record<string, unknown>).map(([key, value]) => ({ key, value: String(value) }));
  return list.map((l) => ({ key: l.key, value: String(d.render.typed(l.value, vars)) }));
}

/**
 * Subflow: asks the shell to create the child execution (id derived from this task run, so a
 * redelivered action is a duplicate create, a no-op). With `wait` (the default) the task run
 * ends when the child does; without, it ends SUCCESS at once.
 */
export const subflow: FlowableLogic = {
  start(d, tr, task) {
    const vars = d.vars(tr, task);
    const e = d.s.execution;
    const restarts = tr.state.histories.filter((h) => h.state === "RESTARTED").length;
    const childId = childExecutionId(e.id, restarts === 0 ? tr.id : `${tr.id}/${restarts}`);
    const namespace = String(d.render.typed(task.namespace, vars));
    const flowId = String(d.render.typed(task.flowId, vars));
    const inputs = (d.render.deep(task.inputs ?? {}, vars) ?? {}) as Record<string, unknown>;
    let labels = renderLabels(d, task.labels, vars);
    if (task.inheritLabels) labels = Decider.mergeLabels(e.labels, labels);
    d.emit({ type: "SubflowLinked", taskRunId: tr.id, childExecutionId: childId });
    d.setState(tr, "RUNNING", "subflow execution requested");
    d.act({
      type: "CreateExecution", executionId: childId, tenantId: e.tenantId, namespace, flowId,
      ...(task.revision !== undefined ? { revision: Number(task.revision) } : {}),
      inputs, labels, parent: { executionId: e.id, taskRunId: tr.id, namespace: e.namespace, flowId: e.flowId },
    });
    if (task.wait === false) {
      d.emit({ type: "TaskRunOutputs", taskRunId: tr.id, outputs: { executionId: childId } });
      d.endTaskRun(tr, "SUCCESS", "subflow started without waiting");
    }
    return true;
  },
};

/** The child execution ended: outputs {executionId, state, outputs}; FAILED/KILLED pass up only with transmitFailed. */
export function subflowEnded(d: Decider, tr: TaskRun, task: Task, state: State, outputs: Record<string, unknown> | undefined): void {
  d.emit({
    type: "TaskRunOutputs", taskRunId: tr.id,
    outputs: { executionId: tr.childExecutionId, state, outputs: outputs ?? {} },
  });
  let end: State = "SUCCESS";
  if (state === "WARNING") end = "WARNING";
  else if (state === "FAILED" || state === "KILLED" || state === "CANCELLED" || state === "RETRIED") {
    end = task.transmitFailed ? (state === "KILLED" ? "KILLED" : "FAILED") : "SUCCESS";
  }
  d.endTaskRun(tr, end, `subflow execution ended ${state}`,
    end === "FAILED" ? { message: `subflow execution ${tr.childExecutionId} ended ${state}` } : undefined);
}
