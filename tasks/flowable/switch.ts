import { z } from "zod";
import { show, taskListSchema } from "../../schemas/primitives.js";
import type { TaskDefinition } from "../types.js";
import { flowableNames } from "./names.js";

/**
 * Renders `value` and runs the list under the matching key of `cases` (a map of task lists), or
 * `defaults` when no key matches.
 */
export const switchTask: TaskDefinition = {
  types: flowableNames("Switch"),
  kind: "flowable",
  properties: z.strictObject({
    value: z.union([z.string(), z.number(), z.boolean()], {
      error: (iss) => `expected a value expression such as "{{ inputs.kind }}", got ${show(iss.input)}`,
    }).transform(String),
    cases: z.record(z.string(), taskListSchema, { error: (iss) => `expected a map of case value → list of tasks, got ${show(iss.input)}` }).optional(),
    defaults: taskListSchema.optional(),
  }).superRefine((p, ctx) => {
    if ((p.cases === undefined || Object.keys(p.cases).length === 0) && p.defaults === undefined) {
      ctx.addIssue({ code: "custom", message: "a Switch needs cases (a map of value → tasks) or defaults" });
    }
  }),
  childTaskLists: ["cases", "defaults"],
};
