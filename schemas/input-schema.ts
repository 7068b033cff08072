import { z } from "zod";
import type { InputType } from "./flow-types.js";
import { coerceInputValue } from "./inputs.js";
import { booleanSchema, durationSchema, show, stringOrExpression } from "./primitives.js";

export const INPUT_TYPES = [
  "STRING", "INT", "FLOAT", "BOOLEAN", "DATETIME", "DATE", "TIME", "DURATION", "FILE", "JSON", "YAML",
  "URI", "SECRET", "ARRAY", "SELECT", "MULTISELECT", "EMAIL",
] as const satisfies readonly InputType[];

const INPUT_ID_RE = /^[a-zA-Z0-9][.a-zA-Z0-9_-]*$/;

// Older Kestra names for the same types.
const TYPE_ALIASES: Record<string, InputType> = { BOOL: "BOOLEAN", ENUM: "SELECT" };

export const inputTypeSchema = z.enum(INPUT_TYPES, {
  error: (iss) => `expected an input type (${INPUT_TYPES.join(", ")}), got ${show(iss.input)}`,
});

const common = {
  id: z.string({ error: (iss) => `expected an input id such as my_input, got ${show(iss.input)}` })
    .max(256, { error: "an input id is at most 256 characters" })
    .regex(INPUT_ID_RE, { error: (iss) => `expected an id made of letters, digits, '.', '_' and '-', got ${show(iss.input)}` }),
  description: z.string().optional(),
  displayName: z.string().optional(),
  required: booleanSchema.default(true),
  defaults: z.unknown().optional(),
  prefill: z.unknown().optional(),
  dependsOn: z.strictObject({
    inputs: z.array(z.string()).min(1, { error: "expected at least one input id" }),
    condition: stringOrExpression.optional(),
  }).optional(),
};

const num = z.number({ error: (iss) => `expected a number, got ${show(iss.input)}` });
const dateTimeBound = z.string({ error: (iss) => `expected a date-time such as 2024-01-15T10:00:00Z, got ${show(iss.input)}` });
const stringList = z.array(z.union([z.string(), z.number(), z.boolean()]).transform(String), {
  error: (iss) => `expected a list of values, got ${show(iss.input)}`,
});

const variants = [
  z.strictObject({ ...common, type: z.literal("STRING"), validator: z.string().optional() }),
  z.strictObject({ ...common, type: z.literal("SECRET"), validator: z.string().optional() }),
  z.strictObject({ ...common, type: z.literal("INT"), min: num.optional(), max: num.optional() }),
  z.strictObject({ ...common, type: z.literal("FLOAT"), min: num.optional(), max: num.optional() }),
  z.strictObject({ ...common, type: z.literal("BOOLEAN") }),
  z.strictObject({ ...common, type: z.literal("DATETIME"), after: dateTimeBound.optional(), before: dateTimeBound.optional() }),
  z.strictObject({ ...common, type: z.literal("DATE"), after: z.string().optional(), before: z.string().optional() }),
  z.strictObject({ ...common, type: z.literal("TIME"), after: z.string().optional(), before: z.string().optional() }),
  z.strictObject({ ...common, type: z.literal("DURATION"), min: durationSchema.optional(), max: durationSchema.optional() }),
  z.strictObject({ ...common, type: z.literal("FILE"), extension: z.string().optional(), allowedFileExtensions: z.array(z.string()).optional() }),
  z.strictObject({ ...common, type: z.literal("JSON") }),
  z.strictObject({ ...common, type: z.literal("YAML") }),
  z.strictObject({ ...common, type: z.literal("URI") }),
  z.strictObject({ ...common, type: z.literal("EMAIL") }),
  z.strictObject({ ...common, type: z.literal("ARRAY"), itemType: inputTypeSchema.refine((t) => t !== "ARRAY" && t !== "FILE" && t !== "MULTISELECT", { error: "itemType cannot be ARRAY, FILE or MULTISELECT" }) }),
  z.strictObject({ ...common, type: z.literal("SELECT"), values: stringList.optional(), expression: z.string().optional(), allowCustomValue: booleanSchema.default(false), autoSelectFirst: booleanSchema.optional(), isRadio: booleanSchema.optional() }),
  z.strictObject({ ...common, type: z.literal("MULTISELECT"), values: stringList.optional(), expression: z.string().optional(), allowCustomValue: booleanSchema.default(false), autoSelectFirst: booleanSchema.optional() }),
] as const;

function isExpression(v: unknown): boolean {
  return typeof v === "string" && (v.includes("{{") || v.includes("{%"));
}

/** Rewrites older spellings (`name`, `BOOL`, `ENUM`, `options`) into the current ones. */
function normalizeInput(raw: unknown): unknown {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return raw;
  const o: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  if (o.id === undefined && typeof o.name === "string") {
    o.id = o.name;
    delete o.name;
  }
  if (typeof o.type === "string" && TYPE_ALIASES[o.type]) o.type = TYPE_ALIASES[o.type];
  if ((o.type === "SELECT" || o.type === "MULTISELECT") && o.values === undefined && o.options !== undefined) {
    o.values = o.options;
    delete o.options;
  }
  return o;
}

/** One declared flow input (every Kestra input type, with its own fields). */
export const InputSchema = z.preprocess(
  normalizeInput,
  z.discriminatedUnion("type", [...variants], {
    error: (iss) => {
      const t = (iss.input as { type?: unknown } | undefined)?.type;
      return t === undefined
        ? `an input needs a type (${INPUT_TYPES.join(", ")})`
        : `expected an input type (${INPUT_TYPES.join(", ")}), got ${show(t)}`;
    },
  }),
).superRefine((input, ctx) => {
  if ((input.type === "SELECT" || input.type === "MULTISELECT") && (input.values === undefined || input.values.length === 0) && input.expression === undefined) {
    ctx.addIssue({ code: "custom", path: ["values"], message: `a ${input.type} input needs a non-empty list of values` });
  }
  if (input.type === "STRING" || input.type === "SECRET") {
    if (input.validator !== undefined) {
      try {
        new RegExp(input.validator, "u");
      } catch {
        ctx.addIssue({ code: "custom", path: ["validator"], message: `expected a regular expression, got ${show(input.validator)}` });
      }
    }
  }
  // A default written as a literal must itself be a valid value; expressions are checked at run time.
  if (input.defaults !== undefined && input.defaults !== null && !isExpression(input.defaults) && input.type !== "FILE") {
    const r = coerceInputValue(input, input.defaults);
    if (!r.ok) ctx.addIssue({ code: "custom", path: ["defaults"], message: `the default does not fit type ${input.type}: ${r.message}` });
  }
});

export type ParsedInput = z.output<typeof InputSchema>;
