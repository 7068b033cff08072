import { z } from "zod";
import { taskListSchema } from "../../schemas/primitives.js";
import type { TaskDefinition } from "../types.js";
import { flowableNames } from "./names.js";

/** Runs its child tasks in sequence; a failure among them ends this task in WARNING, not FAILED. */
export const allowFailureTask: TaskDefinition = {
  types: flowableNames("AllowFailure"),
  kind: "flowable",
  properties: z.strictObject({ tasks: taskListSchema }),
  childTaskLists: ["tasks"],
};
