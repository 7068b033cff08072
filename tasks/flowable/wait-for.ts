import { z } from "zod";
import { booleanSchema, durationSchema, positiveInt, show, taskListSchema } from "../../schemas/primitives.js";
import type { TaskDefinition } from "../types.js";
import { flowableNames } from "./names.js";

/**
 * Runs `tasks` again and again until `condition` renders truthy, waiting `checkFrequency.interval`
 * between rounds, at most `maxIterations` rounds and `maxDuration` in all.
 */
export const waitForTask: TaskDefinition = {
  types: flowableNames("WaitFor"),
  kind: "flowable",
  properties: z.strictObject({
    condition: z.union([z.string(), z.boolean()], {
      error: (iss) => `expected a condition expression such as "{{ outputs.check.code == 200 }}", got ${show(iss.input)}`,
    }).transform(String),
    tasks: taskListSchema,
    checkFrequency: z.strictObject({
      interval: durationSchema.default("PT1S"),
      maxIterations: positiveInt.default(100),
      maxDuration: durationSchema.default("PT1H"),
    }).default({ interval: "PT1S", maxIterations: 100, maxDuration: "PT1H" }),
    failOnMaxReached: booleanSchema.default(false),
  }),
  childTaskLists: ["tasks"],
};
