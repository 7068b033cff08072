import { Cron } from "croner";
import { z } from "zod";
import { conditionIssue } from "../processors/scheduler/schedule-conditions.js";
import {
  booleanSchema, durationSchema, labelsSchema, show, stateSchema, stringOrExpression, TASK_ID_RE, valuesMap,
} from "./primitives.js";

/** Canonical trigger type names, then the older names Kestra accepted for them. */
export const TRIGGER_TYPES = {
  schedule: ["io.kestra.plugin.core.trigger.Schedule", "io.kestra.core.models.triggers.types.Schedule", "Schedule"],
  flow: ["io.kestra.plugin.core.trigger.Flow", "io.kestra.core.models.triggers.types.Flow", "Flow"],
  webhook: ["io.kestra.plugin.core.trigger.Webhook", "io.kestra.core.models.triggers.types.Webhook", "Webhook"],
  http: ["io.kestra.plugin.core.http.Trigger", "io.kestra.plugin.fs.http.Trigger"],
  kafkaRealtime: ["io.kestra.plugin.kafka.RealtimeTrigger"],
} as const;

/** Every accepted trigger type name → its canonical name. */
export const TRIGGER_CANONICAL: ReadonlyMap<string, string> = new Map(
  Object.values(TRIGGER_TYPES).flatMap((names) => names.map((n) => [n, names[0]] as [string, string])),
);

const NICKNAMES = new Set(["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"]);

/** Checks a cron pattern the way the scheduler will read it; returns a message or undefined. */
export function cronProblem(cron: string, withSeconds: boolean): string | undefined {
  const trimmed = cron.trim();
  if (NICKNAMES.has(trimmed.toLowerCase())) return undefined;
  const fields = trimmed.split(/\s+/).length;
  const want = withSeconds ? 6 : 5;
  if (fields !== want) {
    return withSeconds
      ? `expected a cron expression with 6 fields (seconds first, as withSeconds is true), got ${show(cron)} with ${fields}`
      : `expected a cron expression with 5 fields such as '0 9 * * MON-FRI'${fields === 6 ? " (set withSeconds: true for 6 fields)" : ""}, got ${show(cron)}`;
  }
  try {
    new Cron(trimmed, { paused: true, mode: withSeconds ? "6-part" : "5-part" });
    return undefined;
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^CronPattern: /, "") : String(err);
    return `expected a valid cron expression, got ${show(cron)} (${why})`;
  }
}

/** True when `tz` is an IANA time zone name the runtime knows. */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const common = {
  id: z.string({ error: (iss) => `expected a trigger id such as nightly, got ${show(iss.input)}` })
    .regex(TASK_ID_RE, { error: (iss) => `expected an id made of letters, digits, '_' and '-', got ${show(iss.input)}` }),
  type: z.string(),
  description: z.string().optional(),
  disabled: booleanSchema.optional(),
  conditions: z.array(z.looseObject({ type: z.string({ error: "a condition needs a type" }) }), {
    error: (iss) => `expected a list of conditions, got ${show(iss.input)}`,
  }).optional(),
  stopAfter: z.array(stateSchema).optional(),
  labels: labelsSchema.optional(),
  logLevel: z.enum(["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]).optional(),
  logToFile: booleanSchema.optional(),
  failOnTriggerError: booleanSchema.optional(),
  allowConcurrent: booleanSchema.optional(),
  workerGroup: z.strictObject({ key: z.string(), fallback: z.enum(["FAIL", "WAIT", "CANCEL"]).optional() }).optional(),
};

export const ScheduleTriggerSchema = z.strictObject({
  ...common,
  cron: z.string({ error: (iss) => `expected a cron expression such as '0 9 * * *', got ${show(iss.input)}` }),
  withSeconds: booleanSchema.default(false),
  timezone: z.string().refine(isTimeZone, { error: (iss) => `expected an IANA time zone such as Europe/Paris, got ${show(iss.input)}` }).optional(),
  inputs: valuesMap.optional(),
  lateMaximumDelay: durationSchema.optional(),
  recoverMissedSchedules: z.enum(["ALL", "LAST", "NONE"], { error: (iss) => `expected ALL, LAST or NONE, got ${show(iss.input)}` }).optional(),
  backfill: z.looseObject({ start: z.string().optional(), end: z.string().optional() }).optional(),
  scheduleConditions: z.array(z.looseObject({ type: z.string() })).optional(),
}).superRefine((t, ctx) => {
  const problem = cronProblem(t.cron, t.withSeconds);
  if (problem) ctx.addIssue({ code: "custom", path: ["cron"], message: problem });
  // conditions the scheduler cannot evaluate are refused at deploy time, not discovered at run time
  for (const field of ["conditions", "scheduleConditions"] as const) {
    (t[field] ?? []).forEach((c, i) => {
      const issue = conditionIssue(c);
      if (issue) ctx.addIssue({ code: "custom", path: [field, i, ...issue.path], message: issue.message });
    });
  }
});

const WINDOW_TYPES = ["DURATION_WINDOW", "SLIDING_WINDOW", "DAILY_TIME_DEADLINE", "DAILY_TIME_WINDOW"] as const;
const timeOfDay = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?([+-]\d{2}:\d{2}|Z)?$/, {
  error: (iss) => `expected a time of day such as 09:00:00, got ${show(iss.input)}`,
});

export const FlowTriggerSchema = z.strictObject({
  ...common,
  states: z.array(stateSchema).optional(),
  inputs: valuesMap.optional(),
  preconditions: z.strictObject({
    id: z.string().optional(),
    flows: z.array(z.strictObject({
      namespace: z.string({ error: "a precondition flow needs a namespace" }),
      flowId: z.string().optional(),
      states: z.array(stateSchema).optional(),
      labels: labelsSchema.optional(),
    })).optional(),
    where: z.array(z.looseObject({})).optional(),
    timeWindow: z.strictObject({
      type: z.enum(WINDOW_TYPES, { error: (iss) => `expected a window type (${WINDOW_TYPES.join(", ")}), got ${show(iss.input)}` }).default("DURATION_WINDOW"),
      window: durationSchema.optional(),
      windowAdvance: durationSchema.optional(),
      deadline: timeOfDay.optional(),
      startTime: timeOfDay.optional(),
      endTime: timeOfDay.optional(),
    }).superRefine((w, ctx) => {
      if (w.type === "DAILY_TIME_DEADLINE" && w.deadline === undefined) ctx.addIssue({ code: "custom", path: ["deadline"], message: "a DAILY_TIME_DEADLINE window needs a deadline such as 09:00:00" });
      if (w.type === "DAILY_TIME_WINDOW" && (w.startTime === undefined || w.endTime === undefined)) ctx.addIssue({ code: "custom", message: "a DAILY_TIME_WINDOW window needs startTime and endTime" });
    }).optional(),
    resetOnSuccess: booleanSchema.optional(),
  }).optional(),
});

export const WebhookTriggerSchema = z.strictObject({
  ...common,
  key: stringOrExpression.min(1, { error: "a webhook key cannot be empty" }).max(256, { error: "a webhook key is at most 256 characters" }),
  wait: booleanSchema.optional(),
  returnOutputs: booleanSchema.optional(),
  inputs: valuesMap.optional(),
});

/**
 * The HTTP polling trigger: every `interval` a worker sends the request; the flow starts when
 * `responseCondition` holds. `timeout` (Lanner) time-boxes one evaluation (default: the interval,
 * at most PT60S); a poll still running then is cancelled and reported.
 */
export const HttpTriggerSchema = z.strictObject({
  ...common,
  uri: stringOrExpression.min(1, { error: "an HTTP trigger needs a uri" }),
  method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"], { error: (iss) => `expected an HTTP method such as GET, got ${show(iss.input)}` }).default("GET"),
  body: stringOrExpression.optional(),
  contentType: z.string().optional(),
  headers: z.record(z.string(), z.string(), { error: (iss) => `expected headers as a map of name: value, got ${show(iss.input)}` }).optional(),
  responseCondition: stringOrExpression.default("{{ response.statusCode < 400 }}"),
  interval: durationSchema.default("PT60S"),
  timeout: durationSchema.optional(),
  inputs: valuesMap.optional(),
  options: z.looseObject({}).optional(),
});

/** How the Kafka trigger reads a record's key or value. */
export const KAFKA_DESERIALIZERS = ["STRING", "JSON", "AVRO"] as const;

/**
 * The realtime Kafka trigger: one execution per record of `topic` (one name or a list), read by
 * consumer group `groupId` from the brokers in `properties["bootstrap.servers"]`; keys and values
 * as STRING, JSON or AVRO (through `serdeProperties["schema.registry.url"]`). Expressions see
 * `trigger.key`, `trigger.value`, `trigger.headers`, `trigger.topic`, `trigger.partition`,
 * `trigger.offset`, `trigger.timestamp`.
 */
export const KafkaRealtimeTriggerSchema = z.strictObject({
  ...common,
  topic: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], { error: (iss) => `expected a topic name or a list of topic names, got ${show(iss.input)}` }),
  groupId: z.string({ error: (iss) => `expected a consumer group id, got ${show(iss.input)}` }).min(1),
  properties: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String))
    .refine((p) => typeof p["bootstrap.servers"] === "string" && p["bootstrap.servers"].trim() !== "", { message: "properties needs bootstrap.servers (host:port, comma-separated)" }),
  keyDeserializer: z.enum(KAFKA_DESERIALIZERS, { error: (iss) => `expected a key deserializer (${KAFKA_DESERIALIZERS.join(", ")}), got ${show(iss.input)}` }).default("STRING"),
  valueDeserializer: z.enum(KAFKA_DESERIALIZERS, { error: (iss) => `expected a value deserializer (${KAFKA_DESERIALIZERS.join(", ")}), got ${show(iss.input)}` }).default("STRING"),
  serdeProperties: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).optional(),
  inputs: valuesMap.optional(),
}).superRefine((t, ctx) => {
  const avro = t.keyDeserializer === "AVRO" || t.valueDeserializer === "AVRO";
  if (avro && !t.serdeProperties?.["schema.registry.url"]) {
    ctx.addIssue({ code: "custom", path: ["serdeProperties"], message: "an AVRO deserializer needs serdeProperties.schema.registry.url" });
  }
});

/** The schema for a trigger of a canonical type. */
export const TRIGGER_SCHEMAS: Record<string, z.ZodType> = {
  [TRIGGER_TYPES.schedule[0]]: ScheduleTriggerSchema,
  [TRIGGER_TYPES.flow[0]]: FlowTriggerSchema,
  [TRIGGER_TYPES.webhook[0]]: WebhookTriggerSchema,
  [TRIGGER_TYPES.http[0]]: HttpTriggerSchema,
  [TRIGGER_TYPES.kafkaRealtime[0]]: KafkaRealtimeTriggerSchema,
};

/**
 * A trigger's common shape only (id and type); the flow parser then checks it against the schema
 * of its type from TRIGGER_SCHEMAS, rejecting unknown types.
 */
export const TriggerSchema = z.looseObject({
  id: common.id,
  type: z.string({ error: (iss) => `expected a trigger type such as io.kestra.plugin.core.trigger.Schedule, got ${show(iss.input)}` }),
});
