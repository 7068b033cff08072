import { z } from "zod";
import { nonNegativeInt, taskListSchema } from "../../schemas/primitives.js";
import type { TaskDefinition } from "../types.js";
import { flowableNames } from "./names.js";

/** Runs its child tasks at the same time; `concurrent` caps how many (0 = no cap). */
export const parallelTask: TaskDefinition = {
  types: flowableNames("Parallel"),
  kind: "flowable",
  properties: z.strictObject({ tasks: taskListSchema, concurrent: nonNegativeInt.default(0) }),
  childTaskLists: ["tasks"],
};
