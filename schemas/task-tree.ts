import { registry as defaultRegistry, type TaskRegistry } from "../tasks/registry.js";
import type { Flow, Task } from "./flow-types.js";

/** One direct child of a flowable task, with where it sits. */
export interface ChildTask {
  /** The property holding it: one of the definition's `childTaskLists`, or `errors` / `finally`. */
  list: string;
  /** For map-shaped lists (Switch `cases`): the case key. */
  key?: string;
  /** Position in its list. */
  index: number;
  /** Dag entries: the ids the child waits for. */
  dependsOn?: string[];
  task: Task;
}

function asTask(v: unknown): Task | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) && typeof (v as Task).id === "string" ? (v as Task) : undefined;
}

/**
 * The direct children of a parsed task, in declaration order: its child task lists (Switch
 * `cases` per key, Dag `tasks` unwrapped from `{task, dependsOn}`), then its own `errors` and
 * `finally` branches. Runnable tasks have none.
 */
export function childTasks(task: Task, registry: TaskRegistry = defaultRegistry): ChildTask[] {
  const def = registry.resolve(task.type);
  if (!def || def.kind !== "flowable") return [];
  const out: ChildTask[] = [];
  const pushList = (list: string, value: unknown, key?: string): void => {
    if (!Array.isArray(value)) return;
    value.forEach((entry, index) => {
      const direct = asTask(entry);
      if (direct) {
        out.push({ list, key, index, task: direct });
        return;
      }
      const wrapped = asTask((entry as { task?: unknown } | null)?.task);
      if (wrapped) out.push({ list, key, index, task: wrapped, dependsOn: (entry as { dependsOn?: string[] }).dependsOn ?? [] });
    });
  };
  for (const list of [...(def.childTaskLists ?? []), "errors", "finally"]) {
    const value = task[list];
    if (Array.isArray(value)) pushList(list, value);
    else if (typeof value === "object" && value !== null) {
      for (const [key, tasks] of Object.entries(value)) pushList(list, tasks, key);
    }
  }
  return out;
}

/** A task found while walking a flow, with its parent task (undefined at the top level). */
export interface WalkedTask {
  task: Task;
  parent?: Task;
  /** The top-level list it belongs to: tasks, errors, finally or afterExecution. */
  section: "tasks" | "errors" | "finally" | "afterExecution";
}

/** Every task of a parsed flow, depth first, parents before children. */
export function* walkTasks(flow: Flow, registry: TaskRegistry = defaultRegistry): Generator<WalkedTask> {
  for (const section of ["tasks", "errors", "finally", "afterExecution"] as const) {
    const stack: WalkedTask[] = [...flow[section]].reverse().map((task) => ({ task, section }));
    while (stack.length) {
      const item = stack.pop() as WalkedTask;
      yield item;
      const children = childTasks(item.task, registry);
      for (let i = children.length - 1; i >= 0; i--) stack.push({ task: children[i].task, parent: item.task, section });
    }
  }
}
