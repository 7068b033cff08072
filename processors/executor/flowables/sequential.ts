import type { Task } from "../../../schemas/flow-types.js";
import { sequentialBlock } from "../decider.js";
import type { FlowableLogic } from "./types.js";

/** Sequential: children one after the other; the first failure ends it. */
export const sequential: FlowableLogic = {
  next: (d, tr, task) => sequentialBlock(d, tr, task.tasks as Task[]),
};
