import { z } from "zod";
import type { Flow } from "./flow-types.js";
import { InputSchema, inputTypeSchema } from "./input-schema.js";
import {
  booleanSchema, durationSchema, FLOW_ID_RE, labelsSchema, NAMESPACE_RE, optionalTaskListSchema, positiveInt, show,
  stringOrExpression, taskIdSchema, valuesMap,
} from "./primitives.js";
import { RetrySchema } from "./retry-schema.js";
import { TriggerSchema } from "./trigger-schema.js";

export { InputSchema } from "./input-schema.js";
export { RetrySchema } from "./retry-schema.js";
export { TriggerSchema, ScheduleTriggerSchema, FlowTriggerSchema, WebhookTriggerSchema } from "./trigger-schema.js";

export const LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] as const;

/** The fields every task has, whatever its type (each type adds its own, checked by its definition). */
export const TASK_COMMON_FIELDS = {
  id: taskIdSchema,
  type: z.string({ error: (iss) => `expected a task type such as io.kestra.plugin.core.log.Log, got ${show(iss.input)}` }),
  description: z.string({ error: (iss) => `expected a string, got ${show(iss.input)}` }).optional(),
  retry: RetrySchema.optional(),
  timeout: durationSchema.optional(),
  disabled: booleanSchema.optional(),
  workerGroup: z.strictObject({
    key: z.string({ error: (iss) => `expected a worker group key, got ${show(iss.input)}` }),
    fallback: z.enum(["FAIL", "WAIT", "CANCEL"], { error: (iss) => `expected FAIL, WAIT or CANCEL, got ${show(iss.input)}` }).optional(),
  }).optional(),
  logLevel: z.enum(LEVELS, { error: (iss) => `expected a log level (${LEVELS.join(", ")}), got ${show(iss.input)}` }).optional(),
  logToFile: booleanSchema.optional(),
  allowFailure: booleanSchema.optional(),
  allowWarning: booleanSchema.optional(),
  // Kestra stores runIf as a string expression; a YAML boolean means the same thing.
  runIf: z.union([z.string(), z.boolean()], { error: (iss) => `expected an expression such as "{{ inputs.run }}", got ${show(iss.input)}` })
    .transform(String).optional(),
} as const;

/** Names of the common task fields (not passed to the type's own property schema). */
export const TASK_COMMON_KEYS: ReadonlySet<string> = new Set(Object.keys(TASK_COMMON_FIELDS));

/** Extra task fields every flowable accepts: its own error and finally branches. */
export const FLOWABLE_BRANCH_KEYS: ReadonlySet<string> = new Set(["errors", "finally"]);

/**
 * A task's common fields; its own properties pass through here and are checked by the flow
 * parser against the schema of its type.
 */
export const TaskSchema = z.looseObject(TASK_COMMON_FIELDS);

export const FlowOutputSchema = z.strictObject({
  id: taskIdSchema,
  type: inputTypeSchema,
  value: z.unknown().refine((v) => v !== undefined, { error: "a flow output needs a value" }),
  description: z.string().optional(),
  displayName: z.string().optional(),
  required: booleanSchema.optional(),
});

export const ConcurrencySchema = z.strictObject({
  limit: positiveInt,
  behavior: z.enum(["QUEUE", "CANCEL", "FAIL"], { error: (iss) => `expected QUEUE, CANCEL or FAIL, got ${show(iss.input)}` }).default("QUEUE"),
});

export const PluginDefaultSchema = z.strictObject({
  type: z.string({ error: (iss) => `expected a task type (or a type prefix such as io.kestra.plugin.core), got ${show(iss.input)}` }).min(1),
  forced: booleanSchema.default(false),
  values: valuesMap,
});

const taskList = z.array(TaskSchema, { error: (iss) => `expected a list of tasks, got ${show(iss.input)}` });

/** The whole flow (tasks checked here for their common fields only; see `flow-parser.ts`). */
export const FlowSchema = z.strictObject({
  id: z.string({ error: (iss) => `expected a flow id such as my-flow, got ${show(iss.input)}` })
    .min(1, { error: "a flow id cannot be empty" })
    .max(100, { error: (iss) => `a flow id is at most 100 characters, got ${String(iss.input).length}` })
    .regex(FLOW_ID_RE, { error: (iss) => `expected a flow id made of letters, digits, '.', '_' and '-', starting with a letter or digit, got ${show(iss.input)}` }),
  namespace: z.string({ error: (iss) => `expected a namespace such as company.team, got ${show(iss.input)}` })
    .min(1, { error: "a namespace cannot be empty" })
    .max(150, { error: (iss) => `a namespace is at most 150 characters, got ${String(iss.input).length}` })
    .regex(NAMESPACE_RE, { error: (iss) => `expected a namespace in lower case made of letters, digits, '.', '_' and '-' (such as company.team), got ${show(iss.input)}` }),
  revision: positiveInt.optional(),
  tenantId: z.string().optional(),
  description: z.string({ error: (iss) => `expected a string, got ${show(iss.input)}` }).optional(),
  labels: labelsSchema.default([]),
  inputs: z.array(InputSchema, { error: (iss) => `expected a list of inputs, got ${show(iss.input)}` }).default([]),
  variables: valuesMap.default({}),
  tasks: taskList.min(1, { error: "a flow needs at least one task" }),
  errors: taskList.default([]),
  finally: taskList.default([]),
  afterExecution: taskList.default([]),
  triggers: z.array(TriggerSchema, { error: (iss) => `expected a list of triggers, got ${show(iss.input)}` }).default([]),
  concurrency: ConcurrencySchema.optional(),
  outputs: z.array(FlowOutputSchema, { error: (iss) => `expected a list of outputs, got ${show(iss.input)}` }).default([]),
  retry: RetrySchema.optional(),
  disabled: booleanSchema.default(false),
  deleted: booleanSchema.optional(),
  pluginDefaults: z.array(PluginDefaultSchema, { error: (iss) => `expected a list of plugin defaults, got ${show(iss.input)}` }).default([]),
});

/** Flowable-branch lists (`errors`, `finally` on a flowable task) share the task list shape. */
export const branchTaskListSchema = optionalTaskListSchema;
export { stringOrExpression };

// Compile-time check: what the schema produces is a Flow (the shared contract).
type Assert<T extends true> = T;
export type _FlowSchemaMatchesFlow = Assert<z.output<typeof FlowSchema> extends Flow ? true : false>;
