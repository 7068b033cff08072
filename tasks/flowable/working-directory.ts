import { z } from "zod";
import { booleanSchema, durationSchema, show, taskListSchema } from "../../schemas/primitives.js";
import type { TaskDefinition } from "../types.js";
import { flowableNames } from "./names.js";

/** Runs its child tasks one after the other on one worker, sharing one working directory. */
export const workingDirectoryTask: TaskDefinition = {
  types: flowableNames("WorkingDirectory"),
  kind: "flowable",
  properties: z.strictObject({
    tasks: taskListSchema,
    inputFiles: z.union([z.record(z.string(), z.string()), z.string()], {
      error: (iss) => `expected a map of file name → content, or an expression, got ${show(iss.input)}`,
    }).optional(),
    outputFiles: z.array(z.string()).optional(),
    cache: z.strictObject({ patterns: z.array(z.string()), ttl: durationSchema.optional() }).optional(),
    namespaceFiles: z.strictObject({
      enabled: booleanSchema.default(true),
      include: z.array(z.string()).optional(),
      exclude: z.array(z.string()).optional(),
    }).optional(),
  }),
  childTaskLists: ["tasks"],
};
