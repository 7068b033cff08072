import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LineCounter, parseDocument } from "yaml";
import { KIND } from "../../processors/executor/shell/records.js";
import type { FlowRevisionRecord } from "../../processors/executor/shell/flow-resolver.js";
import type { FlowRevision } from "../../projections/repository.js";
import { parseFlow } from "../../schemas/flow-parser.js";
import type { ApiContext } from "../context.js";
import { drainMultipart, multipartParts } from "../multipart.js";
import { ApiError, type ApiIssue } from "../http-errors.js";
import { FlowParams as FlowParamsSchema, FlowSearchQuery, NamespaceParams } from "../api-schemas.js";
import { flowGraph } from "../flow-graph.js";
import { flowsZip, looksLikeZip, readFlowsZip } from "../flow-archive.js";
import { splitDocuments, validateDocuments } from "../flow-documents.js";
import { parseWith } from "../validation.js";

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
async function deploy(ctx: ApiContext, tenantId: string, body: unknown, expected?: FlowParams): Promise<FlowRevision> {
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
  const key = { tenantId, namespace: flow.namespace, id: flow.id };
  const { revision } = await ctx.repository.saveFlow(key, source, { ...flow, tenantId });
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
  if (!Number.isInteger(n) || n < 1) throw new ApiError(400, "QUERY_INVALID", `revision must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

function notFound(p: FlowParams, revision?: number): ApiError {
  return new ApiError(404, "FLOW_NOT_FOUND", `flow ${p.namespace}.${p.id}${revision === undefined ? "" : ` revision ${revision}`} not found`);
}

/** Flow endpoints: deploy (POST, PUT), read (JSON or YAML), revisions, list by namespace, delete, validate, search, graph, import/export. */
export function registerFlowRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const yamlTypes = ["application/x-yaml", "application/yaml", "text/yaml", "text/x-yaml"];
  app.addContentTypeParser(yamlTypes, { parseAs: "string" }, (_req, body, done) => done(null, body));
  app.addContentTypeParser(["application/zip", "application/x-zip-compressed"], { parseAs: "buffer" }, (_req, body, done) => done(null, body));

  app.post("/flows", async (req) => flowJson(await deploy(ctx, req.tenantId, req.body)));

  app.post("/flows/validate", async (req) => validateDocuments(await yamlText(req)));

  app.get("/flows/search", async (req) => {
    const q = parseWith(FlowSearchQuery, req.query, "query");
    const all = await ctx.repository.listFlows(req.tenantId, q.namespace);
    const needle = q.q?.toLowerCase();
    const hits = needle ? all.filter((f) => f.id.toLowerCase().includes(needle) || f.namespace.toLowerCase().includes(needle) || (typeof f.flow.description === "string" && f.flow.description.toLowerCase().includes(needle))) : all;
    const size = q.size ?? 25;
    const page = q.page ?? 1;
    return { results: hits.slice((page - 1) * size, page * size).map(flowJson), total: hits.length };
  });

  app.get("/flows/export/by-query", async (req, reply) => {
    const q = parseWith(FlowSearchQuery, req.query, "query");
    const flows = await ctx.repository.listFlows(req.tenantId, q.namespace);
    if (/application\/(x-)?zip/i.test(req.headers.accept ?? "")) {
      return reply.type("application/zip").header("content-disposition", 'attachment; filename="flows.zip"').send(Buffer.from(flowsZip(flows)));
    }
    const text = flows.map((f) => (f.source.endsWith("\n") ? f.source : `${f.source}\n`)).join("---\n");
    return reply.type("application/x-yaml").header("content-disposition", 'attachment; filename="flows.yaml"').send(text);
  });

  app.post("/flows/import", async (req) => {
    const sources = await importSources(req);
    const errors: ApiIssue[] = [];
    let bad = 0;
    let checkedCount = 0;
    for (const source of sources) {
      const checked = validateDocuments(source.text);
      checkedCount += checked.length;
      const prefix = source.name === undefined ? "" : `${source.name}:`;
      for (const d of checked.filter((x) => !x.valid)) {
        bad++;
        errors.push(...d.errors.map((e) => ({ ...e, path: `${prefix}documents[${d.index}].${e.path}` })));
      }
    }
    if (sources.length === 0) throw new ApiError(422, "FLOW_INVALID", "the archive holds no .yml or .yaml file", [{ path: "body", message: "no flow file" }]);
    if (bad > 0) {
      throw new ApiError(422, "FLOW_INVALID", `${bad} of ${checkedCount} flow document(s) are not valid; nothing was imported: ${errors[0].path} ${errors[0].line}:${errors[0].column}: ${errors[0].message}`, errors);
    }
    const imported: Record<string, unknown>[] = [];
    for (const source of sources) {
      for (const doc of splitDocuments(source.text)) imported.push(flowJson(await deploy(ctx, req.tenantId, doc.source)));
    }
    return { count: imported.length, flows: imported };
  });

  app.put("/flows/:namespace/:id", async (req) => {
    const params = parseWith(FlowParamsSchema, req.params, "path");
    const existing = await ctx.repository.getFlow({ tenantId: req.tenantId, ...params });
    if (!existing) throw notFound(params);
    return flowJson(await deploy(ctx, req.tenantId, req.body, params));
  });

  app.get<{ Querystring: { revision?: string } }>("/flows/:namespace/:id", async (req, reply: FastifyReply) => {
    const params = parseWith(FlowParamsSchema, req.params, "path");
    const revision = parseRevision(req.query.revision);
    const rev = await ctx.repository.getFlow({ tenantId: req.tenantId, ...params }, revision);
    if (!rev) throw notFound(params, revision);
    if (wantsYaml(req)) return reply.type("application/x-yaml").send(rev.source);
    return flowJson(rev);
  });

  app.get("/flows/:namespace/:id/graph", async (req) => {
    const params = parseWith(FlowParamsSchema, req.params, "path");
    const rev = await ctx.repository.getFlow({ tenantId: req.tenantId, ...params });
    if (!rev) throw notFound(params);
    return flowGraph(rev.flow);
  });

  app.get("/flows/:namespace/:id/revisions", async (req) => {
    const params = parseWith(FlowParamsSchema, req.params, "path");
    const revisions = await ctx.repository.listFlowRevisions({ tenantId: req.tenantId, ...params });
    if (revisions.length === 0) throw notFound(params);
    return revisions.map(flowJson);
  });

  app.get("/flows/:namespace", async (req) => {
    const { namespace } = parseWith(NamespaceParams, req.params, "path");
    return (await ctx.repository.listFlows(req.tenantId, namespace)).map(flowJson);
  });

  app.delete("/flows/:namespace/:id", async (req, reply) => {
    const params = parseWith(FlowParamsSchema, req.params, "path");
    const key = { tenantId: req.tenantId, ...params };
    const latest = await ctx.repository.getFlow(key);
    if (!latest || !(await ctx.repository.deleteFlow(key))) throw notFound(params);
    await appendFlowRecord(ctx, { ...key, revision: latest.revision + 1, source: latest.source, deleted: true });
    return reply.status(204).send();
  });
}

/** Most bytes the YAML files of an imported archive may inflate to. */
const MAX_ARCHIVE_BYTES = 64 * 1024 * 1024;

/**
 * What an import brings: a zip archive (body `application/zip`, or a multipart file that is a
 * zip) gives its YAML files, each named; YAML text (body or multipart file) gives one unnamed source.
 */
async function importSources(req: FastifyRequest): Promise<Array<{ name?: string; text: string }>> {
  if (req.isMultipart()) {
    for await (const part of multipartParts(req)) {
      if (part.type !== "file") continue;
      const bytes = await part.toBuffer();
      await drainMultipart(req);
      return looksLikeZip(bytes) ? readFlowsZip(bytes, MAX_ARCHIVE_BYTES) : [{ text: bytes.toString("utf8") }];
    }
    throw new ApiError(422, "FLOW_BODY_NOT_YAML", "expected a YAML file or a zip archive in the multipart upload", [{ path: "body", message: "no file part" }]);
  }
  if (Buffer.isBuffer(req.body)) return readFlowsZip(req.body, MAX_ARCHIVE_BYTES);
  return [{ text: yamlBody(req.body) }];
}

/** The YAML text of a request: the body, or the first file of a multipart upload. */
async function yamlText(req: FastifyRequest): Promise<string> {
  if (req.isMultipart()) {
    for await (const part of multipartParts(req)) {
      if (part.type !== "file") continue;
      const text = (await part.toBuffer()).toString("utf8");
      // Drain anything after the first file so the request completes.
      await drainMultipart(req);
      return text;
    }
    throw new ApiError(422, "FLOW_BODY_NOT_YAML", "expected a YAML file in the multipart upload", [{ path: "body", message: "no file part" }]);
  }
  return yamlBody(req.body);
}
