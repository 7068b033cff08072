import type { Task } from "../../../schemas/flow-types.js";
import { canCreate, FlowableFailure, sequentialBlock, type Decider } from "../decider.js";
import { FLOWABLE } from "../flow-index.js";
import type { IterationProgress, TaskRun } from "../model.js";
import type { FlowableLogic } from "./types.js";

/** A loop item as `taskrun.value` shows it: strings as they are, anything else as JSON. */
function asValue(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** `values`: a list (items rendered) or a template rendering to a list / a JSON list. */
function resolveValues(d: Decider, tr: TaskRun, task: Task): string[] {
  const vars = d.vars(tr, task);
  let raw: unknown = task.values;
  if (typeof raw === "string") {
    raw = d.render.typed(raw, vars);
    if (typeof raw === "string") {
      try {
        raw = JSON.parse(raw);
      } catch {
        throw new FlowableFailure(`values must render to a JSON list, got ${JSON.stringify(raw).slice(0, 200)}`);
      }
    }
  } else if (Array.isArray(raw)) {
    raw = raw.map((item) => (typeof item === "string" ? d.render.string(item, vars) : item));
  }
  if (!Array.isArray(raw)) throw new FlowableFailure(`values must be a list, got ${typeof raw}`);
  return raw.map(asValue);
}

function limitOf(task: Task): number {
  if (task.type === FLOWABLE.EachParallel) return Number(task.concurrent ?? 0);
  if (task.type === FLOWABLE.EachSequential) return 1;
  return Number(task.concurrencyLimit ?? 1);
}

function groupPlace(tr: TaskRun, it: IterationProgress, g: number) {
  const value = it.values[g];
  return { value, valuePath: [...tr.valuePath, value], slot: g };
}

/**
 * ForEach: one group of the child tasks per value (run in sequence inside the group), at most
 * `concurrencyLimit` groups at once (0: all). Only the groups named by `hints` are looked at, and
 * counters say how many started and ended, so each step is O(children of one group).
 */
export const forEach: FlowableLogic = {
  next(d, tr, task, hints) {
    const tasks = task.tasks as Task[];
    if (!tr.iter) d.emit({ type: "IterationPlanned", taskRunId: tr.id, values: resolveValues(d, tr, task) });
    const it = tr.iter as IterationProgress;
    const check = (g: number) => {
      if (g >= it.started || it.endedSlots[g] !== undefined) return;
      const r = sequentialBlock(d, tr, tasks, groupPlace(tr, it, g));
      if (r !== undefined) d.emit({ type: "IterationEnded", taskRunId: tr.id, index: g, state: r });
    };
    if (hints === "all") for (let g = 0; g < it.started; g++) check(g);
    else if (hints) for (const g of hints) check(g);
    const limit = limitOf(task);
    while (it.failed + it.killed === 0 && it.started < it.values.length && (limit <= 0 || it.started - it.ended < limit)) {
      if (!canCreate(d)) break;
      const g = it.started;
      d.emit({ type: "IterationStarted", taskRunId: tr.id, index: g });
      const r = sequentialBlock(d, tr, tasks, groupPlace(tr, it, g));
      if (r !== undefined) d.emit({ type: "IterationEnded", taskRunId: tr.id, index: g, state: r });
    }
    if (it.ended < it.started) return undefined;
    if (it.killed > 0) return "KILLED";
    if (it.failed > 0) return "FAILED";
    if (it.started < it.values.length) return undefined;
    return it.warned > 0 ? "WARNING" : "SUCCESS";
  },
};
