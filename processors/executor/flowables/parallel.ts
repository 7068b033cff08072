import type { Task } from "../../../schemas/flow-types.js";
import { parallelBlock } from "../decider.js";
import type { FlowableLogic } from "./types.js";

/** Parallel: children side by side, `concurrent` at most (0 or absent: all at once). */
export const parallel: FlowableLogic = {
  next: (d, tr, task) => parallelBlock(d, tr, task.tasks as Task[], Number(task.concurrent ?? 0)),
};
