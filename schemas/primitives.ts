import { z } from "zod";
import { isDuration } from "./duration.js";

/**
 * Small zod building blocks shared by the flow schema and the task definitions. Every refinement
 * carries a message that says what was expected, because these messages reach users as they are.
 */

export const FLOW_ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;
export const NAMESPACE_RE = /^[a-z0-9][a-z0-9._-]*$/;
export const TASK_ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_-]*$/;

/** Shows a user value in a message: strings quoted, long values cut. */
export function show(value: unknown): string {
  let s: string;
  if (typeof value === "string") s = `'${value}'`;
  else if (value === undefined) s = "nothing";
  else {
    try {
      s = JSON.stringify(value) ?? String(value);
    } catch {
      s = String(value);
    }
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** An ISO-8601 duration string, kept as written (the executor converts it with `parseDuration`). */
export const durationSchema = z.string({ error: (iss) => `expected an ISO-8601 duration such as PT30S, got ${show(iss.input)}` })
  .refine(isDuration, { error: (iss) => `expected an ISO-8601 duration such as PT30S, got ${show(iss.input)}` });

/** A task id: letters, digits, `_` and `-`, starting with a letter or digit. */
export const taskIdSchema = z.string({ error: (iss) => `expected a task id such as my_task, got ${show(iss.input)}` })
  .max(256, { error: "a task id is at most 256 characters" })
  .regex(TASK_ID_RE, { error: (iss) => `expected an id made of letters, digits, '_' and '-', starting with a letter or digit, got ${show(iss.input)}` });

/** An expression or a plain string (rendered at run time). */
export const stringOrExpression = z.string({ error: (iss) => `expected a string, got ${show(iss.input)}` });

/** A boolean, accepting YAML/JSON booleans only (no "yes"). */
export const booleanSchema = z.boolean({ error: (iss) => `expected true or false, got ${show(iss.input)}` });

/** A positive or zero integer. */
export const nonNegativeInt = z.int({ error: (iss) => `expected a whole number, got ${show(iss.input)}` })
  .min(0, { error: (iss) => `expected a number ≥ 0, got ${show(iss.input)}` });

/** A positive integer (≥ 1). */
export const positiveInt = z.int({ error: (iss) => `expected a whole number, got ${show(iss.input)}` })
  .min(1, { error: (iss) => `expected a number ≥ 1, got ${show(iss.input)}` });

/**
 * A list of child tasks inside a flowable. Each entry is only checked to be a map here: the flow
 * parser validates the children one by one (with their own type's schema and full paths).
 */
export const taskListSchema = z.array(z.record(z.string(), z.unknown(), { error: (iss) => `expected a task (a map with id and type), got ${show(iss.input)}` }), {
  error: (iss) => `expected a list of tasks, got ${show(iss.input)}`,
}).min(1, { error: "expected at least one task" });

/** Like `taskListSchema` but may be empty. */
export const optionalTaskListSchema = z.array(z.record(z.string(), z.unknown(), { error: (iss) => `expected a task (a map with id and type), got ${show(iss.input)}` }), {
  error: (iss) => `expected a list of tasks, got ${show(iss.input)}`,
});

/** Labels: a map `{key: value}` or a list of `{key, value}`; always normalized to the list. */
export const labelsSchema = z.union([
  z.array(z.strictObject({
    key: z.string().min(1, { error: "a label key cannot be empty" }),
    value: z.union([z.string(), z.number(), z.boolean()]).transform(String),
  })),
  z.record(z.string().min(1, { error: "a label key cannot be empty" }), z.union([z.string(), z.number(), z.boolean()]).transform(String)),
], { error: (iss) => `expected labels as a map of key: value or a list of {key, value}, got ${show(iss.input)}` })
  .transform((v) => (Array.isArray(v) ? v : Object.entries(v).map(([key, value]) => ({ key, value }))));

/** Execution states, as named in Kestra. */
export const STATES = [
  "CREATED", "QUEUED", "RUNNING", "PAUSED", "RESTARTED", "KILLING", "RETRYING", "SUCCESS", "WARNING",
  "FAILED", "KILLED", "CANCELLED", "RETRIED", "SKIPPED",
] as const;

export const stateSchema = z.enum(STATES, { error: (iss) => `expected an execution state (${STATES.join(", ")}), got ${show(iss.input)}` });

/** A map of arbitrary values (inputs passed to a subflow, variables…). */
export const valuesMap = z.record(z.string(), z.unknown(), { error: (iss) => `expected a map, got ${show(iss.input)}` });
