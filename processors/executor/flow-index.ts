import type { Flow, Task } from "../../schemas/flow-types.js";
import { FOR_EACH_ITEM_EXECUTABLE, forEachItemChildren } from "../../tasks/flowable/for-each-item.js";

const FLOW = "io.kestra.plugin.core.flow.";

/** Canonical type names of the flowable tasks the executor drives itself. */
export const FLOWABLE = {
  Sequential: `${FLOW}Sequential`,
  Parallel: `${FLOW}Parallel`,
  If: `${FLOW}If`,
  Switch: `${FLOW}Switch`,
  ForEach: `${FLOW}ForEach`,
  EachSequential: `${FLOW}EachSequential`,
  EachParallel: `${FLOW}EachParallel`,
  Dag: `${FLOW}Dag`,
  AllowFailure: `${FLOW}AllowFailure`,
  Subflow: `${FLOW}Subflow`,
  Pause: `${FLOW}Pause`,
  WaitFor: `${FLOW}WaitFor`,
  WorkingDirectory: `${FLOW}WorkingDirectory`,
  ForEachItem: `${FLOW}ForEachItem`,
  /** ForEachItem's internal `<id>_items` child: starts one subflow execution per batch. */
  ForEachItemExecutable: FOR_EACH_ITEM_EXECUTABLE,
} as const;

/** Flowables the executor steps through (WorkingDirectory is dispatched to a worker as a unit). */
const EXECUTOR_FLOWABLES = new Set<string>(Object.values(FLOWABLE).filter((t) => t !== FLOWABLE.WorkingDirectory));

/** Where a task sits in the flow. */
export interface TaskPlace {
  task: Task;
  /** The flowable that holds it; undefined at the flow's top level. */
  parentTaskId?: string;
  /** The list that holds it: tasks, errors, finally, afterExecution, then, else, cases.X, defaults… */
  list: string;
}

export interface FlowIndex {
  byId: Map<string, TaskPlace>;
}

const cache = new WeakMap<Flow, FlowIndex>();

function asTasks(v: unknown): Task[] {
  return Array.isArray(v) ? (v as Task[]) : [];
}

/** The child task lists of a task, by list name (what a flowable's logic picks from). */
export function childLists(task: Task): Array<[string, Task[]]> {
  const out: Array<[string, Task[]]> = [];
  if (task.type === FLOWABLE.ForEachItem) {
    const c = forEachItemChildren(task);
    out.push(["tasks", [c.split, c.items, c.merge]]);
  } else if (task.type === FLOWABLE.Dag) {
    out.push(["tasks", asTasks(task.tasks).map((d) => (d as unknown as { task: Task }).task)]);
  } else if (task.type === FLOWABLE.Switch) {
    const cases = (task.cases ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(cases)) out.push([`cases.${k}`, asTasks(v)]);
    out.push(["defaults", asTasks(task.defaults)]);
  } else {
    for (const name of ["tasks", "then", "else"]) if (Array.isArray(task[name])) out.push([name, asTasks(task[name])]);
  }
  for (const name of ["errors", "finally"]) if (Array.isArray(task[name])) out.push([name, asTasks(task[name])]);
  return out;
}

/** Index of every task of a flow by id (cached per flow object). */
export function flowIndex(flow: Flow): FlowIndex {
  let idx = cache.get(flow);
  if (idx) return idx;
  const byId = new Map<string, TaskPlace>();
  const walk = (tasks: Task[], parentTaskId: string | undefined, list: string) => {
    for (const t of tasks) {
      byId.set(t.id, { task: t, parentTaskId, list });
      for (const [name, children] of childLists(t)) walk(children, t.id, name);
    }
  };
  walk(flow.tasks, undefined, "tasks");
  walk(flow.errors ?? [], undefined, "errors");
  walk(flow.finally ?? [], undefined, "finally");
  walk(flow.afterExecution ?? [], undefined, "afterExecution");
  idx = { byId };
  cache.set(flow, idx);
  return idx;
}

/** True for flowable types whose children the executor creates and steps itself. */
export function isExecutorFlowable(type: string): boolean {
  return EXECUTOR_FLOWABLES.has(type);
}

/** Enabled tasks of a list (disabled tasks are left out entirely). */
export function enabled(tasks: readonly Task[] | undefined): Task[] {
  if (!tasks) return [];
  let all = true;
  for (const t of tasks) if (t.disabled) { all = false; break; }
  return all ? (tasks as Task[]) : tasks.filter((t) => !t.disabled);
}
