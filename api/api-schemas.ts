/**
 * The zod schemas of the API's parameters and bodies: one source for request validation, the
 * TypeScript types and the OpenAPI document. Flow ids and namespaces use the flow model's own
 * patterns (`schemas/primitives`), so the API accepts exactly what a flow may declare.
 */
import { z } from "zod";
import { STATES } from "../processors/executor/model.js";
import { LOG_LEVELS } from "../projections/repository.js";
import { FLOW_ID_RE, NAMESPACE_RE } from "../schemas/primitives.js";

/** Execution ids: 22-character base62 for ours, any id of letters, digits, `.`, `_` and `-` up to 100. */
export const ExecutionIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, "an execution id");
export const NamespaceSchema = z.string().max(150).regex(NAMESPACE_RE, "a namespace (lower-case letters, digits, ., _ and -)");
export const FlowIdSchema = z.string().max(100).regex(FLOW_ID_RE, "a flow id");
export const TenantIdSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "a tenant id (lower-case letters, digits, - and _)");
export const TaskRunIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, "a task run id");

export const ExecutionParams = z.object({ executionId: ExecutionIdSchema });
export const FlowParams = z.object({ namespace: NamespaceSchema, id: FlowIdSchema });
export const NamespaceParams = z.object({ namespace: NamespaceSchema });

const StateSchema = z.string().transform((s) => s.toUpperCase()).pipe(z.enum(STATES));
const listOf = <T extends z.ZodType>(item: T) => z.union([item, z.array(item)]).transform((v) => (Array.isArray(v) ? v : [v]) as Array<z.infer<T>>);
const intString = (min: number, max: number) => z.string().regex(/^\d+$/, "an integer").transform(Number).pipe(z.number().int().min(min).max(max));
const dateString = z.string().refine((v) => !Number.isNaN(Date.parse(v)), "an ISO-8601 date-time");
const LabelString = z.string().regex(/^[^:]+:.*$/, "key:value");

/** Filters of execution search and bulk actions by query. */
export const ExecutionSearchQuery = z.object({
  namespace: NamespaceSchema.optional(),
  flowId: FlowIdSchema.optional(),
  state: listOf(StateSchema).optional(),
  labels: listOf(LabelString).optional(),
  /** Free text over id, flow id and labels. */
  q: z.string().max(200).optional(),
  /** `field:order`, e.g. `startDate:desc` (Kestra's form). */
  sort: z.string().regex(/^(startDate|namespace|flowId)(:(asc|desc))?$/, "startDate|namespace|flowId, optionally :asc or :desc").optional(),
  cursor: z.string().max(2000).optional(),
  page: intString(1, 1_000_000).optional(),
  size: intString(1, 500).optional(),
  startDate: dateString.optional(),
  endDate: dateString.optional(),
}).strict();

/** Filters of log search. */
export const LogSearchQuery = z.object({
  namespace: NamespaceSchema.optional(),
  flowId: FlowIdSchema.optional(),
  executionId: ExecutionIdSchema.optional(),
  taskRunId: TaskRunIdSchema.optional(),
  minLevel: z.string().transform((s) => s.toUpperCase()).pipe(z.enum(LOG_LEVELS)).optional(),
  q: z.string().max(500).optional(),
  startDate: dateString.optional(),
  endDate: dateString.optional(),
  order: z.enum(["asc", "desc"]).optional(),
  cursor: z.string().max(2000).optional(),
  size: intString(1, 500).optional(),
}).strict();

export const LabelSchema = z.object({ key: z.string().min(1).max(200), value: z.string().max(1000) }).strict();
export const LabelsBody = z.array(LabelSchema).max(100);
export const IdsBody = z.array(ExecutionIdSchema).min(1).max(1000);

/** `?asOf=<offset>`: the execution as it was after the event at that offset of the `executions` topic. */
export const AsOfQuery = z.object({ asOf: z.string().regex(/^\d{1,19}$/, "an event offset").transform((v) => BigInt(v)).optional() }).strict();
export const KillQuery = z.object({ isOnKillCascade: z.enum(["true", "false"]).optional() }).strict();
export const ReplayQuery = z.object({ taskRunId: TaskRunIdSchema.optional(), revision: intString(1, 1_000_000).optional() }).strict();
export const DeleteExecutionQuery = z.object({ deleteLogs: z.enum(["true", "false"]).optional(), deleteStorage: z.enum(["true", "false"]).optional() }).strict();
export const FileQuery = z.object({ path: z.string().min(1).max(2000) }).strict();

export const LogQuerySchema = z.object({
  minLevel: z.string().transform((s) => s.toUpperCase()).pipe(z.enum(LOG_LEVELS)).optional(),
  taskRunId: TaskRunIdSchema.optional(),
  taskId: z.string().max(200).optional(),
}).strict();

export const FlowSearchQuery = z.object({
  namespace: NamespaceSchema.optional(),
  q: z.string().max(200).optional(),
  page: intString(1, 1_000_000).optional(),
  size: intString(1, 500).optional(),
}).strict();

export const StatsQuery = z.object({
  namespace: NamespaceSchema.optional(),
  flowId: FlowIdSchema.optional(),
  startDate: dateString.optional(),
  endDate: dateString.optional(),
}).strict();

export const TenantBody = z.object({ id: TenantIdSchema, name: z.string().min(1).max(200).optional() }).strict();
export const TokenBody = z.object({
  name: z.string().min(1).max(200),
  tenants: z.union([z.literal("*"), z.array(TenantIdSchema).min(1)]).default("*"),
  admin: z.boolean().default(false),
}).strict();
export const UserBody = z.object({
  username: z.string().min(1).max(200).regex(/^[^:\s]+$/, "no colon or space"),
  password: z.string().min(8).max(1000),
  tenants: z.union([z.literal("*"), z.array(TenantIdSchema).min(1)]).default("*"),
  admin: z.boolean().default(false),
}).strict();

/** The error body of every refusal. */
export const ErrorBody = z.object({
  message: z.string(),
  code: z.string(),
  errors: z.array(z.object({ path: z.string(), message: z.string(), line: z.number().optional(), column: z.number().optional() })).optional(),
});
