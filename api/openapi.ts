/**
 * The OpenAPI document: `@fastify/swagger` collects every route; this module attaches to each known
 * route its summary, tag and the JSON Schema of its parameters, query and body, generated from the
 * same zod schemas the handlers validate with (`api-schemas.ts`).
 */
import type { FastifyDynamicSwaggerOptions } from "@fastify/swagger";
import type { RouteOptions } from "fastify";
import { z } from "zod";
import {
  AsOfQuery, DeleteExecutionQuery, ErrorBody, ExecutionParams, ExecutionSearchQuery, FileQuery, FlowParams, FlowSearchQuery, IdsBody, KillQuery,
  LabelsBody, LogQuerySchema, LogSearchQuery, NamespaceParams, ReplayQuery, StatsQuery, TenantBody, TokenBody, UserBody,
} from "./api-schemas.js";
import { KvBulkDeleteBody, KvParams } from "./routes/kv.js";

export const OPENAPI_INFO: FastifyDynamicSwaggerOptions["openapi"] = {
  openapi: "3.0.3",
  info: { title: "Lanner API", version: "1", description: "Kestra-compatible REST API of Lanner: flows, executions, logs, live follow, tenants and tokens." },
  components: { securitySchemes: { basic: { type: "http", scheme: "basic" }, bearer: { type: "http", scheme: "bearer" } } },
  security: [{ basic: [] }, { bearer: [] }],
};

interface RouteDoc {
  summary: string;
  tag: string;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** Body documented as text (YAML). */
  yamlBody?: boolean;
}

/** Docs by `METHOD path` relative to the API prefix (`/api/v1` or `/api/v1/{tenant}`), or absolute for global routes. */
const DOCS: Record<string, RouteDoc> = {
  "POST /flows": { summary: "Create or update a flow from its YAML source", tag: "Flows", yamlBody: true },
  "POST /flows/validate": { summary: "Validate flows (multi-document YAML) without saving; errors with line:column", tag: "Flows", yamlBody: true },
  "POST /flows/import": { summary: "Import every flow of a multi-document YAML text or a zip of .yml files (all or nothing)", tag: "Flows", yamlBody: true },
  "GET /flows/export/by-query": { summary: "Export the flows of a namespace as multi-document YAML, or as a zip of <namespace>.<id>.yml files with Accept: application/zip", tag: "Flows", query: FlowSearchQuery },
  "GET /flows/search": { summary: "Search flows", tag: "Flows", query: FlowSearchQuery },
  "GET /flows/:namespace": { summary: "List the flows of a namespace", tag: "Flows", params: NamespaceParams },
  "GET /flows/:namespace/:id": { summary: "Get a flow (JSON, or its YAML source with Accept: application/x-yaml)", tag: "Flows", params: FlowParams },
  "PUT /flows/:namespace/:id": { summary: "Update a flow from its YAML source", tag: "Flows", params: FlowParams, yamlBody: true },
  "DELETE /flows/:namespace/:id": { summary: "Delete a flow", tag: "Flows", params: FlowParams },
  "GET /flows/:namespace/:id/revisions": { summary: "List a flow's revisions", tag: "Flows", params: FlowParams },
  "GET /flows/:namespace/:id/graph": { summary: "Nodes and edges of a flow's task tree", tag: "Flows", params: FlowParams },
  "POST /executions/:namespace/:id": { summary: "Create an execution (JSON or multipart inputs, labels, wait)", tag: "Executions", params: FlowParams },
  "GET /executions/search": { summary: "Search executions", tag: "Executions", query: ExecutionSearchQuery },
  "GET /executions/:executionId": { summary: "Get an execution (asOf=<offset>: as it was after that event)", tag: "Executions", params: ExecutionParams, query: AsOfQuery },
  "GET /executions/:executionId/events": { summary: "The execution's audit trail: every event with its offset, time, type, cause and actor", tag: "Executions", params: ExecutionParams },
  "DELETE /executions/:executionId": { summary: "Delete an ended execution", tag: "Executions", params: ExecutionParams, query: DeleteExecutionQuery },
  "GET /executions/:executionId/follow": { summary: "Follow an execution (Server-Sent Events; resumes from Last-Event-ID)", tag: "Executions", params: ExecutionParams },
  "DELETE /executions/:executionId/kill": { summary: "Kill an execution (cascading to subflows unless isOnKillCascade=false)", tag: "Executions", params: ExecutionParams, query: KillQuery },
  "POST /executions/:executionId/restart": { summary: "Restart a FAILED or KILLED execution from its failed task runs", tag: "Executions", params: ExecutionParams },
  "POST /executions/:executionId/replay": { summary: "Replay an ended execution as a new one, from a task run", tag: "Executions", params: ExecutionParams, query: ReplayQuery },
  "POST /executions/:executionId/pause": { summary: "Pause a RUNNING execution", tag: "Executions", params: ExecutionParams },
  "POST /executions/:executionId/resume": { summary: "Resume a PAUSED execution, with inputs", tag: "Executions", params: ExecutionParams },
  "POST /executions/:executionId/labels": { summary: "Set an execution's labels", tag: "Executions", params: ExecutionParams, body: LabelsBody },
  "GET /executions/:executionId/file": { summary: "Download an output file of the execution", tag: "Executions", params: ExecutionParams, query: FileQuery },
  "DELETE /executions/kill/by-ids": { summary: "Kill executions by id", tag: "Executions", body: IdsBody },
  "DELETE /executions/kill/by-query": { summary: "Kill the executions matching a query", tag: "Executions", query: ExecutionSearchQuery },
  "POST /executions/restart/by-ids": { summary: "Restart executions by id", tag: "Executions", body: IdsBody },
  "POST /executions/restart/by-query": { summary: "Restart the executions matching a query", tag: "Executions", query: ExecutionSearchQuery },
  "DELETE /executions/by-ids": { summary: "Delete executions by id", tag: "Executions", body: IdsBody },
  "DELETE /executions/by-query": { summary: "Delete the executions matching a query", tag: "Executions", query: ExecutionSearchQuery },
  "GET /logs/search": { summary: "Search log lines (full text, level, namespace, flow, execution)", tag: "Logs", query: LogSearchQuery },
  "GET /logs/:executionId": { summary: "Log lines of an execution", tag: "Logs", params: ExecutionParams, query: LogQuerySchema },
  "GET /logs/:executionId/download": { summary: "Log lines of an execution as text", tag: "Logs", params: ExecutionParams, query: LogQuerySchema },
  "GET /logs/:executionId/follow": { summary: "Follow the log lines of an execution (Server-Sent Events)", tag: "Logs", params: ExecutionParams, query: LogQuerySchema },
  "GET /triggers/search": { summary: "Search triggers and their state", tag: "Triggers" },
  "PUT /triggers/backfill/start": { summary: "Start a backfill of a schedule trigger", tag: "Triggers" },
  "PUT /triggers/backfill/pause": { summary: "Pause a backfill", tag: "Triggers" },
  "PUT /triggers/backfill/unpause": { summary: "Resume a paused backfill", tag: "Triggers" },
  "PUT /triggers/backfill/delete": { summary: "Cancel a backfill", tag: "Triggers" },
  "POST /triggers/:namespace/:flowId/:triggerId/enable": { summary: "Enable a trigger", tag: "Triggers" },
  "POST /triggers/:namespace/:flowId/:triggerId/disable": { summary: "Disable a trigger", tag: "Triggers" },
  "GET /executions/webhook/:namespace/:flowId/:key": { summary: "Start an execution from a webhook trigger (authorised by its key)", tag: "Executions" },
  "POST /executions/webhook/:namespace/:flowId/:key": { summary: "Start an execution from a webhook trigger (authorised by its key)", tag: "Executions" },
  "PUT /executions/webhook/:namespace/:flowId/:key": { summary: "Start an execution from a webhook trigger (authorised by its key)", tag: "Executions" },
  "GET /api/v1/openapi.json": { summary: "This OpenAPI document", tag: "Health" },
  "GET /namespaces": { summary: "Namespaces with their flow and execution counts", tag: "Namespaces" },
  "GET /namespaces/:namespace": { summary: "One namespace with its counts", tag: "Namespaces", params: NamespaceParams },
  "GET /namespaces/:namespace/kv": { summary: "List the namespace's KV keys (key, description, creationDate, updateDate, expirationDate)", tag: "KV", params: NamespaceParams },
  "DELETE /namespaces/:namespace/kv": { summary: "Delete several KV keys; answers the keys deleted", tag: "KV", params: NamespaceParams, body: KvBulkDeleteBody },
  "GET /namespaces/:namespace/kv/:key": { summary: "Get a KV value with its type ({type, value})", tag: "KV", params: KvParams },
  "PUT /namespaces/:namespace/kv/:key": { summary: "Store a KV value: JSON or plain text body, type inferred; optional ttl (ISO-8601 duration) and description headers", tag: "KV", params: KvParams },
  "DELETE /namespaces/:namespace/kv/:key": { summary: "Delete a KV key; answers true when it existed", tag: "KV", params: KvParams },
  "GET /stats/executions/daily": { summary: "Executions per day by state", tag: "Stats", query: StatsQuery },
  "GET /api/v1/health": { summary: "Liveness", tag: "Health" },
  "GET /api/v1/health/liveness": { summary: "Liveness", tag: "Health" },
  "GET /api/v1/health/readiness": { summary: "Readiness: log, read side, indexer lag", tag: "Health" },
  "GET /metrics": { summary: "Prometheus metrics", tag: "Health" },
  "GET /api/v1/metrics": { summary: "Prometheus metrics", tag: "Health" },
  "GET /api/v1/tenants": { summary: "List tenants (admin)", tag: "Administration" },
  "POST /api/v1/tenants": { summary: "Create a tenant (admin)", tag: "Administration", body: TenantBody },
  "DELETE /api/v1/tenants/:tenant": { summary: "Delete a tenant (admin)", tag: "Administration" },
  "GET /api/v1/auth/tokens": { summary: "List API tokens (admin)", tag: "Administration" },
  "POST /api/v1/auth/tokens": { summary: "Create an API token, shown once (admin)", tag: "Administration", body: TokenBody },
  "DELETE /api/v1/auth/tokens/:id": { summary: "Revoke an API token (admin)", tag: "Administration" },
  "PUT /api/v1/auth/users": { summary: "Create or replace a basic-auth user (admin)", tag: "Administration", body: UserBody },
  "DELETE /api/v1/auth/users/:username": { summary: "Delete a basic-auth user (admin)", tag: "Administration" },
};

const jsonSchema = (s: z.ZodType): Record<string, unknown> => {
  const out = z.toJSONSchema(s, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  delete out.$schema;
  return out;
};

const ERROR_NOTE = `Refusals answer ${JSON.stringify(jsonSchema(ErrorBody))}.`;

/** An `onRoute` hook that documents the routes of `DOCS` (unknown routes are still listed, undocumented). */
export function documentRoute(tenancy: boolean): (route: RouteOptions) => void {
  return (route) => {
    if (route.url.startsWith("/api/docs")) {
      route.schema = { ...route.schema, hide: true } as RouteOptions["schema"];
      return;
    }
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const relative = route.url.replace(tenancy ? /^\/api\/v1\/:tenant/ : /^\/api\/v1(?=\/(flows|executions|logs|namespaces|stats|triggers))/, "");
    for (const m of methods) {
      const doc = DOCS[`${m} ${relative}`] ?? DOCS[`${m} ${route.url}`];
      if (!doc) continue;
      // No response schemas: Fastify would serialise through them and drop fields they do not list.
      const schema: Record<string, unknown> = { summary: doc.summary, tags: [doc.tag], description: ERROR_NOTE };
      const params = doc.params ? jsonSchema(doc.params) : undefined;
      if (tenancy && route.url.startsWith("/api/v1/:tenant")) {
        const props = (params?.properties as Record<string, unknown> | undefined) ?? {};
        schema.params = { type: "object", properties: { tenant: { type: "string" }, ...props }, required: ["tenant", ...((params?.required as string[] | undefined) ?? [])] };
      } else if (params) schema.params = params;
      if (doc.query) schema.querystring = jsonSchema(doc.query);
      if (doc.body) schema.body = jsonSchema(doc.body);
      if (doc.yamlBody) schema.consumes = ["application/x-yaml"];
      route.schema = { ...schema, ...route.schema } as RouteOptions["schema"];
      return;
    }
  };
}
