import type { Task } from "../../../schemas/flow-types.js";
import { effective, worse, type Outcome } from "../decider.js";
import { isTerminal, type State } from "../model.js";
import type { FlowableLogic } from "./types.js";

interface DagNode { task: Task; dependsOn?: string[] }

/** Dag: a task starts once every task it depends on ended without failing; `concurrent` bounds how many run. */
export const dag: FlowableLogic = {
  next(d, tr, task): Outcome {
    const nodes = ((task.tasks ?? []) as DagNode[]).filter((n) => !n.task.disabled);
    const limit = Number(task.concurrent ?? 0);
    const status = new Map<string, State | "RUNNING" | "NONE">();
    let running = 0;
    let failed = false;
    let worst: State = "SUCCESS";
    for (const n of nodes) {
      const c = d.s.taskRuns[d.childId(tr, n.task.id)];
      if (!c) status.set(n.task.id, "NONE");
      else if (!isTerminal(c.state.current)) {
        status.set(n.task.id, "RUNNING");
        running++;
      } else {
        const e = effective(c, n.task);
        status.set(n.task.id, e);
        if (e === "FAILED" || e === "KILLED") failed = true;
        worst = worse(worst, e);
      }
    }
    if (failed) return running > 0 ? undefined : worst;
    const ready = nodes.filter((n) => status.get(n.task.id) === "NONE" && (n.dependsOn ?? []).every((dep) => {
      const s = status.get(dep);
      return s === "SUCCESS" || s === "WARNING";
    }));
    const waiting = nodes.some((n) => status.get(n.task.id) === "NONE");
    if (!waiting && running === 0) return worst;
    const n = limit > 0 ? Math.max(0, limit - running) : ready.length;
    for (const node of ready.slice(0, n)) d.createChild(tr, node.task);
    return undefined;
  },
};
