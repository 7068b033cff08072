import type { Task } from "../../../schemas/flow-types.js";
import { FlowableFailure, sequentialBlock } from "../decider.js";
import { chosenBranch } from "./branch.js";
import type { FlowableLogic } from "./types.js";

/** Switch: `value` rendered once picks `cases[value]`, else `defaults`; no match and no defaults fails. */
export const switchTask: FlowableLogic = {
  next(d, tr, task) {
    const cases = (task.cases ?? {}) as Record<string, Task[]>;
    const defaults = task.defaults as Task[] | undefined;
    const lists: Array<readonly [string, Task[]]> = Object.entries(cases).map(([k, v]) => [`case:${k}`, v] as const);
    if (defaults) lists.push(["defaults", defaults]);
    let branch = chosenBranch(d, tr, lists);
    if (branch === undefined) {
      const rendered = d.render.typed(task.value, d.vars(tr, task));
      const key = typeof rendered === "string" ? rendered : JSON.stringify(rendered);
      if (Object.prototype.hasOwnProperty.call(cases, key)) branch = `case:${key}`;
      else if (defaults) branch = "defaults";
      else throw new FlowableFailure(`switch value ${JSON.stringify(key)} matches no case and there are no defaults`);
    }
    const tasks = branch === "defaults" ? defaults : cases[branch.slice("case:".length)];
    return sequentialBlock(d, tr, tasks);
  },
};
