import { z } from "zod";
import { durationSchema, positiveInt, show, booleanSchema } from "./primitives.js";

const RETRY_TYPES = ["constant", "exponential", "random"] as const;

const common = {
  maxAttempt: positiveInt.optional(),
  maxDuration: durationSchema.optional(),
  warningOnRetry: booleanSchema.optional(),
  behavior: z.enum(["RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"], {
    error: (iss) => `expected RETRY_FAILED_TASK or CREATE_NEW_EXECUTION, got ${show(iss.input)}`,
  }).optional(),
};

// Kestra spells the attempt limit both `maxAttempt` and `maxAttempts` across versions.
function normalizeRetry(raw: unknown): unknown {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return raw;
  const o = { ...(raw as Record<string, unknown>) };
  if (o.maxAttempt === undefined && o.maxAttempts !== undefined) {
    o.maxAttempt = o.maxAttempts;
    delete o.maxAttempts;
  }
  if (typeof o.type === "string") o.type = o.type.toLowerCase();
  return o;
}

/** A retry policy (task or flow level): constant, exponential or random. */
export const RetrySchema = z.preprocess(normalizeRetry, z.discriminatedUnion("type", [
  z.strictObject({ ...common, type: z.literal("constant"), interval: durationSchema }),
  z.strictObject({
    ...common,
    type: z.literal("exponential"),
    interval: durationSchema,
    maxInterval: durationSchema.optional(),
    delayFactor: z.number({ error: (iss) => `expected a number, got ${show(iss.input)}` }).positive().optional(),
  }),
  z.strictObject({ ...common, type: z.literal("random"), minInterval: durationSchema, maxInterval: durationSchema }),
], {
  error: (iss) => {
    const t = (iss.input as { type?: unknown } | undefined)?.type;
    return t === undefined
      ? `a retry needs a type (${RETRY_TYPES.join(", ")})`
      : `expected a retry type (${RETRY_TYPES.join(", ")}), got ${show(t)}`;
  },
}));
