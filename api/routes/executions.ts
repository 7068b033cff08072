import { basename } from "node:path";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { describeError } from "../../common/errors.js";
import { renderTyped } from "../../expressions/index.js";
import type { CreateExecutionCommand } from "../../processors/executor/inputs.js";
import { encodeCommand } from "../../processors/executor/shell/records.js";
import { coerceInputs } from "../../schemas/inputs.js";
import type { Flow, Label } from "../../schemas/flow-types.js";
import { executionPrefix } from "../../storage/paths.js";
import type { ApiContext } from "../context.js";
import { createdExecution, toApiExecution, toApiHistoryEntry } from "../execution-dto.js";
import { newExecutionId } from "../execution-id.js";
import { drainMultipart, multipartParts } from "../multipart.js";
import { ApiError, type ApiIssue } from "../http-errors.js";
import { AsOfQuery, ExecutionParams, ExecutionSearchQuery, FlowParams as FlowParamsSchema } from "../api-schemas.js";
import { parseWith } from "../validation.js";
import type { z } from "zod";
import type { ExecutionQuery, ExecutionSortField, SortOrder } from "../../projections/repository.js";

type FlowParams = { namespace: string; id: string };
type CreateQuery = { wait?: string; labels?: string | string[] };

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** `key:value` labels from the query string (repeatable). */
function parseLabels(raw: string | string[] | undefined): Label[] {
  const errors: ApiIssue[] = [];
  const labels: Label[] = [];
  for (const item of list(raw)) {
    const i = item.indexOf(":");
    if (i <= 0) errors.push({ path: "labels", message: `labels: expected key:value, got '${item}'`, code: "INVALID_VALUE" });
    else labels.push({ key: item.slice(0, i), value: item.slice(i + 1) });
  }
  if (errors.length) throw new ApiError(422, "LABELS_INVALID", errors[0].message, errors);
  return labels;
}

/** A file name safe as one storage path segment. */
function safeFileName(name: string | undefined): string {
  const base = basename(name ?? "").replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "");
  return base === "" ? "file" : base.slice(0, 200);
}

/**
 * The inputs of a create request: a JSON object body, or multipart form fields whose file parts
 * (for the flow's FILE inputs) are written to internal storage under the execution's inputs.
 */
async function readInputs(ctx: ApiContext, req: FastifyRequest, flow: Flow, tenantId: string, executionId: string): Promise<Record<string, unknown>> {
  if (req.isMultipart()) {
    const given: Record<string, unknown> = {};
    const fileInputs = new Set(flow.inputs.filter((i) => i.type === "FILE").map((i) => i.id));
    for await (const part of multipartParts(req, { fileSize: ctx.maxFileBytes })) {
      if (part.type === "file") {
        if (!fileInputs.has(part.fieldname)) {
          // Not a FILE input of this flow: ignored, as undeclared inputs are; drained so parsing continues.
          part.file.resume();
          continue;
        }
        const prefix = executionPrefix({ tenantId, namespace: flow.namespace, flowId: flow.id, executionId });
        const uri = await ctx.storage.put(`${prefix}/inputs/${part.fieldname}/${safeFileName(part.filename)}`, part.file);
        if (part.file.truncated) {
          await ctx.storage.delete(uri).catch(() => undefined);
          throw new ApiError(413, "INPUT_FILE_TOO_LARGE", `${part.fieldname}: the file is larger than ${ctx.maxFileBytes} bytes`);
        }
        given[part.fieldname] = uri;
      } else {
        const value = typeof part.value === "string" ? part.value : String(part.value);
        const prev = given[part.fieldname];
        // A repeated field is a list (ARRAY / MULTISELECT inputs).
        given[part.fieldname] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
      }
    }
    return given;
  }
  const body = req.body;
  if (body === undefined || body === null || body === "") return {};
  if (typeof body !== "object" || Array.isArray(body)) {
    throw new ApiError(422, "INPUTS_INVALID", "expected the inputs as a JSON object or multipart/form-data fields");
  }
  return body as Record<string, unknown>;
}

/** The repository query of a validated search query string. */
export function executionQuery(tenantId: string, q: z.infer<typeof ExecutionSearchQuery>): ExecutionQuery {
  const labels = (q.labels ?? []).map((l) => ({ key: l.slice(0, l.indexOf(":")), value: l.slice(l.indexOf(":") + 1) }));
  const [field, order] = (q.sort ?? "startDate:desc").split(":") as [ExecutionSortField, SortOrder | undefined];
  return {
    tenantId, namespace: q.namespace, flowId: q.flowId, states: q.state, labels, query: q.q, startDate: q.startDate, endDate: q.endDate,
    sort: { field, order: order ?? "desc" }, cursor: q.cursor, page: q.page, size: q.size,
  };
}

/** Resolves with `p`, or with undefined as soon as `signal` aborts. */
function untilShutdown<T>(signal: AbortSignal, p: Promise<T>): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** The latest live revision of a flow: from the in-memory `flows` reader when there is one, else the repository. */
async function latestFlow(ctx: ApiContext, tenantId: string, namespace: string, id: string): Promise<{ flow: Flow; revision: number } | undefined> {
  if (ctx.flows) {
    const flow = await ctx.flows.getFlow(tenantId, namespace, id);
    return flow ? { flow, revision: flow.revision ?? 1 } : undefined;
  }
  return ctx.repository.getFlow({ tenantId, namespace, id });
}

/** Execution endpoints: create (with inputs, labels, wait), get by id, search. */
export function registerExecutionRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Params: FlowParams; Querystring: CreateQuery }>("/executions/:namespace/:id", async (req) => {
    const { namespace, id } = parseWith(FlowParamsSchema, req.params, "path");
    const rev = await latestFlow(ctx, req.tenantId, namespace, id);
    if (!rev) {
      // Drain a multipart body we will not read, so the connection stays usable.
      if (req.isMultipart()) await drainMultipart(req);
      throw new ApiError(404, "FLOW_NOT_FOUND", `flow ${namespace}.${id} not found`);
    }
    const flow: Flow = { ...rev.flow, revision: rev.revision, tenantId: req.tenantId };
    const labels = parseLabels(req.query.labels);
    const executionId = newExecutionId();
    const given = await readInputs(ctx, req, flow, req.tenantId, executionId);
    if (flow.disabled) throw new ApiError(422, "FLOW_DISABLED", `flow ${namespace}.${id} is disabled and cannot be executed`);

    const now = Date.now();
    const renderVars = { flow: { id: flow.id, namespace: flow.namespace, revision: rev.revision, tenantId: req.tenantId }, execution: { id: executionId } };
    let coerced: ReturnType<typeof coerceInputs>;
    try {
      coerced = coerceInputs(flow, given, { now, render: (template, at) => renderTyped(template, renderVars, { services: { now: () => at ?? now } }) });
    } catch (err) {
      throw new ApiError(422, "INPUTS_INVALID", `an input default could not be rendered: ${describeError(err)}`);
    }
    if (!coerced.ok) {
      const errors: ApiIssue[] = coerced.errors.map((e) => ({ path: `inputs.${e.input}`, input: e.input, code: e.code, message: e.message }));
      throw new ApiError(422, "INPUTS_INVALID", `invalid inputs: ${errors.map((e) => e.message).join("; ")}`, errors);
    }

    const cmd: CreateExecutionCommand = { type: "CreateExecution", executionId, flow, inputs: coerced.inputs, labels };
    await ctx.log.append([{ topic: ctx.topics.commands, key: executionId, value: encodeCommand(ctx.codec, cmd) }]);
    const created = createdExecution({ id: executionId, flow, tenantId: req.tenantId, revision: rev.revision, inputs: coerced.inputs, labels, now });
    ctx.created.add(created);

    if (req.query.wait === "true") {
      const ended = await untilShutdown(ctx.shutdown, ctx.repository.waitForTerminal(executionId, ctx.waitTimeoutMs));
      // On timeout Kestra answers what it has: the latest known state.
      return toApiExecution(ended ?? ctx.created.get(executionId) ?? created);
    }
    return toApiExecution(created);
  });

  app.get("/executions/search", async (req) => {
    const page = await ctx.repository.searchExecutions(executionQuery(req.tenantId, parseWith(ExecutionSearchQuery, req.query, "query")));
    return { results: page.results.map(toApiExecution), total: page.total, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  });

  app.get("/executions/:executionId/events", async (req) => {
    const id = parseWith(ExecutionParams, req.params, "path").executionId;
    const e = (await ctx.repository.getExecution(id)) ?? ctx.created.get(id);
    if (!e || e.tenantId !== req.tenantId) throw new ApiError(404, "EXECUTION_NOT_FOUND", `execution ${id} not found`);
    return (await ctx.history.history(id)).map(toApiHistoryEntry);
  });

  app.get("/executions/:executionId", async (req) => {
    const id = parseWith(ExecutionParams, req.params, "path").executionId;
    const { asOf } = parseWith(AsOfQuery, req.query, "query");
    if (asOf !== undefined) {
      const current = (await ctx.repository.getExecution(id)) ?? ctx.created.get(id);
      const then = current && current.tenantId === req.tenantId ? await ctx.history.executionAsOf(id, asOf) : undefined;
      if (!then) throw new ApiError(404, "EXECUTION_NOT_FOUND", `execution ${id} not found at offset ${asOf}`);
      return toApiExecution(then);
    }
    const stored = await ctx.repository.getExecution(id);
    if (stored && stored.tenantId === req.tenantId) {
      ctx.created.delete(id);
      return toApiExecution(stored);
    }
    const created = ctx.created.get(id);
    if (created && created.tenantId === req.tenantId) return toApiExecution(created);
    throw new ApiError(404, "EXECUTION_NOT_FOUND", `execution ${id} not found`);
  });
}
