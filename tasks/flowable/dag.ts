import { z } from "zod";
import { nonNegativeInt, show } from "../../schemas/primitives.js";
import type { TaskDefinition } from "../types.js";
import { flowableNames } from "./names.js";

const dagEntry = z.strictObject({
  task: z.record(z.string(), z.unknown(), { error: (iss) => `expected a task (a map with id and type), got ${show(iss.input)}` }),
  dependsOn: z.array(z.string(), { error: (iss) => `expected a list of task ids, got ${show(iss.input)}` }).optional(),
});

/** Finds one dependency cycle (as a list of ids ending where it began), or undefined. */
export function findCycle(deps: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 1 | 2>(); // 1 = on the current path, 2 = done
  const path: string[] = [];
  // Iterative DFS: a deep chain of dependencies must not overflow the stack.
  for (const start of deps.keys()) {
    if (state.has(start)) continue;
    const stack: Array<{ id: string; next: number }> = [{ id: start, next: 0 }];
    state.set(start, 1);
    path.push(start);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const outs = deps.get(top.id) ?? [];
      if (top.next < outs.length) {
        const dep = outs[top.next++];
        const s = state.get(dep);
        if (s === 1) return [...path.slice(path.indexOf(dep)), dep];
        if (s === undefined && deps.has(dep)) {
          state.set(dep, 1);
          path.push(dep);
          stack.push({ id: dep, next: 0 });
        }
      } else {
        state.set(top.id, 2);
        path.pop();
        stack.pop();
      }
    }
  }
  return undefined;
}

/**
 * Runs tasks as a graph: each `{task, dependsOn}` starts when the tasks it depends on have
 * succeeded; `concurrent` caps how many run at once (0 = no cap).
 */
export const dagTask: TaskDefinition = {
  types: flowableNames("Dag"),
  kind: "flowable",
  properties: z.strictObject({
    tasks: z.array(dagEntry, { error: (iss) => `expected a list of {task, dependsOn}, got ${show(iss.input)}` })
      .min(1, { error: "expected at least one task" }),
    concurrent: nonNegativeInt.default(0),
  }).superRefine((p, ctx) => {
    const ids = new Set(p.tasks.map((t) => t.task.id).filter((id): id is string => typeof id === "string"));
    const deps = new Map<string, string[]>();
    p.tasks.forEach((t, i) => {
      const id = t.task.id;
      (t.dependsOn ?? []).forEach((dep, j) => {
        if (!ids.has(dep)) {
          ctx.addIssue({ code: "custom", path: ["tasks", i, "dependsOn", j], message: `depends on '${dep}', which is not a task of this Dag (tasks: ${[...ids].join(", ")})` });
        }
      });
      if (typeof id === "string") deps.set(id, (t.dependsOn ?? []).filter((d) => ids.has(d)));
    });
    const cycle = findCycle(deps);
    if (cycle) ctx.addIssue({ code: "custom", path: ["tasks"], message: `the dependencies form a cycle: ${cycle.join(" → ")}` });
  }),
  childTaskLists: ["tasks"],
};
