import type { Task } from "../../../schemas/flow-types.js";
import { effective, worse, type Decider } from "../decider.js";
import { STATES, type State, type TaskRun } from "../model.js";

interface ChildReport { taskId: string; state: State; outputs?: Record<string, unknown> }

function reports(raw: unknown): ChildReport[] {
  if (!Array.isArray(raw)) return [];
  return raw.filter((r): r is ChildReport => !!r && typeof r === "object" && typeof (r as ChildReport).taskId === "string"
    && (STATES as readonly string[]).includes((r as ChildReport).state));
}

/**
 * WorkingDirectory runs on ONE worker as one job; its completed result lists the children it ran
 * (`outputs.taskRuns: [{taskId, state, outputs}]`, in order). Creates those task runs as they
 * ended (under this attempt's slot, so a retry gets fresh ones) and returns the state the
 * directory ends in: the worst of its children and the worker's own verdict.
 */
export function workingDirectoryResult(d: Decider, tr: TaskRun, task: Task, workerState: State, outputs: Record<string, unknown> | undefined): { state: State; outputs?: Record<string, unknown> } {
  const children = (task.tasks ?? []) as Task[];
  const byId = new Map(children.map((t) => [t.id, t]));
  let st: State = "SUCCESS";
  const attempt = tr.attempts.length;
  for (const r of reports(outputs?.taskRuns)) {
    const t = byId.get(r.taskId);
    if (!t) continue;
    const id = d.childId(tr, t.id, attempt);
    if (d.s.taskRuns[id]) continue;
    d.emit({ type: "TaskRunCreated", taskRunId: id, taskId: t.id, parentTaskRunId: tr.id, valuePath: tr.valuePath, slot: attempt,
      ...(tr.value !== undefined ? { value: tr.value } : {}) });
    const child = d.s.taskRuns[id];
    if (r.state !== "CREATED") d.setState(child, r.state, "ran in the working directory");
    if (r.outputs) d.emit({ type: "TaskRunOutputs", taskRunId: id, outputs: r.outputs });
    st = worse(st, effective(child, t));
  }
  if (workerState === "FAILED" || workerState === "KILLED") st = worse(st, workerState);
  else if (workerState === "WARNING") st = worse(st, "WARNING");
  const rest = outputs ? Object.fromEntries(Object.entries(outputs).filter(([k]) => k !== "taskRuns")) : undefined;
  return { state: st, outputs: rest && Object.keys(rest).length > 0 ? rest : undefined };
}
