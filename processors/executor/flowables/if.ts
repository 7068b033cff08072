import type { Task } from "../../../schemas/flow-types.js";
import { sequentialBlock } from "../decider.js";
import { chosenBranch } from "./branch.js";
import type { FlowableLogic } from "./types.js";

/** If: `condition` rendered once (Pebble truthiness) picks `then` or `else`. */
export const ifTask: FlowableLogic = {
  next(d, tr, task) {
    const then = (task.then ?? []) as Task[];
    const otherwise = (task.else ?? []) as Task[];
    let branch = chosenBranch(d, tr, [["then", then], ["else", otherwise]]);
    branch ??= d.render.condition(task.condition, d.vars(tr, task)) ? "then" : "else";
    return sequentialBlock(d, tr, branch === "then" ? then : otherwise);
  },
};
