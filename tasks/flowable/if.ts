import { z } from "zod";
import { optionalTaskListSchema, show, taskListSchema } from "../../schemas/primitives.js";
import type { TaskDefinition } from "../types.js";
import { flowableNames } from "./names.js";

/** Runs `then` when `condition` renders truthy, else `else` (which may be absent). */
export const ifTask: TaskDefinition = {
  types: flowableNames("If"),
  kind: "flowable",
  properties: z.strictObject({
    // An expression rendered at run time; a YAML boolean is the same as its text.
    condition: z.union([z.string(), z.boolean(), z.number()], {
      error: (iss) => `expected a condition expression such as "{{ inputs.enabled }}", got ${show(iss.input)}`,
    }).transform(String),
    then: taskListSchema,
    else: optionalTaskListSchema.optional(),
  }),
  childTaskLists: ["then", "else"],
};
