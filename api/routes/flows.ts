import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LineCounter, parseDocument } from "yaml";
import { KIND } from "../../processors/executor/shell/records.js";
import type { FlowRevisionRecord } from "../../processors/executor/shell/flow-resolver.js";
import type { FlowRevision } from "../../projections/repository.js";
import { parseFlow } from "../../schemas/flow-parser.js";
import type { ApiContext } from "../context.js";
import { ApiError, type ApiIssue } from "../http-errors.js";

type FlowParams = { namespace: string; id: string };

/** The flow as the API answers it: the parsed flow with its revision, tenant and source. */
export function flowJson(rev: FlowRevision): Record<string, unknown> {
  return { ...rev.flow, tenantId: rev.tenantId, namespace: rev.namespace, id: rev.id, revision: rev.revision, deleted: rev.deleted, updated: rev.updated, source: rev.source };
}

function yamlBody(body: unknown): string {
  if (typeof body !== "string") {
    throw new ApiError(415, "FLOW_BODY_NOT_YAML", "expected the flow as YAML text (Content-Type: application/x-yaml)");
  }
  return body;
}

/** 1-based line:column of a top-level key's value in `source` (1:1 when absent). */
function positionOf(source: string, key: string): { line: number; column: number } {
  const lc = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lc });
  const node = doc.get(key, true) as { range?: [number, number, number] } | undefined;
  const offset = node?.range?.[0];
  if (offset === undefined) return { line: 1, column: 1 };
  const p = lc.linePos(offset);
  return { line: p.line, column: p.col };
}

/** Parses, checks the path (PUT) and saves a revision; appends it to the `flows` topic. */
async function deploy(ctx: ApiContext, body: unknown, expected?: FlowParams): Promise<FlowRevision> {
  const source = yamlBody(body);
  const parsed = parseFlow(source);
  if (!parsed.ok) {
    const errors: ApiIssue[] = parsed.errors.map((e) => ({ path: e.path, line: e.line, column: e.column, message: e.message, code: e.code }));
    throw new ApiError(422, "FLOW_INVALID", `the flow is not valid (${errors.length} problem${errors.length === 1 ? "" : "s"}): ${errors[0].line}:${errors[0].column}: ${errors[0].message}`, errors);
  }
  const flow = parsed.flow;
  if (expected) {
    const errors: ApiIssue[] = [];
    for (const field of ["namespace", "id"] as const) {
      if (flow[field] !== expected[field]) {
        errors.push({ path: field, ...positionOf(source, field), code: "INVALID_VALUE", message: `${field}: the flow says '${flow[field]}' but the URL says '${expected[field]}'; a flow's ${field} cannot be changed` });
      }
    }
    if (errors.length) throw new ApiError(422, "FLOW_INVALID", errors[0].message, errors);
  }
  const key = { tenantId: ctx.tenantId, namespace: flow.namespace, id: flow.id };
  const { revision } = await ctx.repository.saveFlow(key, source, { ...flow, tenantId: ctx.tenantId });
  // Appended on every deploy, also an unchanged one: a deploy repairs a record lost after a save.
  await appendFlowRecord(ctx, { ...key, revision: revision.revision, source, deleted: false });
  return revision;
}

async function appendFlowRecord(ctx: ApiContext, record: FlowRevisionRecord): Promise<void> {
  await ctx.log.append([{
    topic: ctx.topics.flows,
    key: `${record.tenantId}/${record.namespace}/${record.id}`,
    value: ctx.codec.encode(KIND.flow, record),
  }]);
}

function wantsYaml(req: FastifyRequest): boolean {
  const accept = req.headers.accept ?? "";
  return /application\/(x-)?yaml|text\/(x-)?yaml/i.test(accept);
}

function parseRevision(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new ApiError(422, "QUERY_INVALID", `revision must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

function notFound(p: FlowParams, revision?: number): ApiError {
  return new ApiError(404, "FLOW_NOT_FOUND", `flow ${p.namespace}.${p.id}${revision === undefined ? "" : ` revision ${revision}`} not found`);
}

/** Flow endpoints: deploy (POST, PUT), read (JSON or YAML), revisions, list by namespace, delete. */
export function registerFlowRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const yamlTypes = ["application/x-yaml", "application/yaml", "text/yaml", "text/x-yaml"];
  app.addContentTypeParser(yamlTypes, { parseAs: "string" }, (_req, body, done) => done(null, body));

  app.post("/api/v1/flows", async (req) => flowJson(await deploy(ctx, req.body)));

  app.put<{ Params: FlowParams }>("/api/v1/flows/:namespace/:id", async (req) => {
    const existing = await ctx.repository.getFlow({ tenantId: ctx.tenantId, ...req.params });
    if (!existing) throw notFound(req.params);
    return flowJson(await deploy(ctx, req.body, req.params));
  });

  app.get<{ Params: FlowParams; Querystring: { revision?: string } }>("/api/v1/flows/:namespace/:id", async (req, reply: FastifyReply) => {
    const revision = parseRevision(req.query.revision);
    const rev = await ctx.repository.getFlow({ tenantId: ctx.tenantId, ...req.params }, revision);
    if (!rev) throw notFound(req.params, revision);
    if (wantsYaml(req)) return reply.type("application/x-yaml").send(rev.source);
    return flowJson(rev);
  });

  app.get<{ Params: FlowParams }>("/api/v1/flows/:namespace/:id/revisions", async (req) => {
    const revisions = await ctx.repository.listFlowRevisions({ tenantId: ctx.tenantId, ...req.params });
    if (revisions.length === 0) throw notFound(req.params);
    return revisions.map(flowJson);
  });

  app.get<{ Params: { namespace: string } }>("/api/v1/flows/:namespace", async (req) =>
    (await ctx.repository.listFlows(ctx.tenantId, req.params.namespace)).map(flowJson));

  app.delete<{ Params: FlowParams }>("/api/v1/flows/:namespace/:id", async (req, reply) => {
    const key = { tenantId: ctx.tenantId, ...req.params };
    const latest = await ctx.repository.getFlow(key);
    if (!latest || !(await ctx.repository.deleteFlow(key))) throw notFound(req.params);
    await appendFlowRecord(ctx, { ...key, revision: latest.revision + 1, source: latest.source, deleted: true });
    return reply.status(204).send();
  });
}
