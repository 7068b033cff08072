import type { Task } from "../../../schemas/flow-types.js";
import { sequentialBlock } from "../decider.js";
import type { FlowableLogic } from "./types.js";

/** AllowFailure: children in sequence; a failure among them ends the task in WARNING. */
export const allowFailure: FlowableLogic = {
  next: (d, tr, task) => sequentialBlock(d, tr, task.tasks as Task[]),
  finish: (state) => (state === "FAILED" ? "WARNING" : state),
};
