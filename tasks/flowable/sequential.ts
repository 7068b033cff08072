import { z } from "zod";
import { taskListSchema } from "../../schemas/primitives.js";
import type { TaskDefinition } from "../types.js";
import { flowableNames } from "./names.js";

/** Runs its child tasks one after the other. */
export const sequentialTask: TaskDefinition = {
  types: flowableNames("Sequential"),
  kind: "flowable",
  properties: z.strictObject({ tasks: taskListSchema }),
  childTaskLists: ["tasks"],
};
