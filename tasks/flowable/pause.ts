import { z } from "zod";
import { InputSchema } from "../../schemas/input-schema.js";
import { durationSchema, show } from "../../schemas/primitives.js";
import type { TaskDefinition } from "../types.js";
import { flowableNames } from "./names.js";

/**
 * Pauses the execution: resumes by itself after `delay` when given, otherwise waits for a resume
 * (with `onResume` inputs) until `timeout`, then ends as `behavior` says. Newer Kestra spells
 * `delay` as `pauseDuration`; both are accepted and `delay` is kept.
 */
export const pauseTask: TaskDefinition = {
  types: flowableNames("Pause"),
  kind: "flowable",
  properties: z.strictObject({
    delay: durationSchema.optional(),
    timeout: durationSchema.optional(),
    onResume: z.array(InputSchema, { error: (iss) => `expected a list of inputs, got ${show(iss.input)}` }).optional(),
    behavior: z.enum(["RESUME", "WARN", "FAIL", "CANCEL"], { error: (iss) => `expected RESUME, WARN, FAIL or CANCEL, got ${show(iss.input)}` }).optional(),
    tasks: z.array(z.record(z.string(), z.unknown())).optional(),
  }),
  childTaskLists: ["tasks"],
  normalize(props) {
    if (props.pauseDuration === undefined) return props;
    const { pauseDuration, ...rest } = props;
    return rest.delay === undefined ? { ...rest, delay: pauseDuration } : props;
  },
};
