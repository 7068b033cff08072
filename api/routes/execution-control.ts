/**
 * Execution control: the endpoints that ask the executor to act (kill, restart, replay, pause,
 * resume, labels) by appending commands to `execution-commands`, plus delete, bulk actions and
 * output file download. Every endpoint first reads the execution of the request's tenant (404
 * otherwise, also for another tenant's execution) and refuses an action its state does not allow
 * with a 409, so a command reaching the executor is one it can apply.
 */
import { basename } from "node:path";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ExecutorCommand } from "../../processors/executor/inputs.js";
import { isTerminal, type Execution, type State } from "../../processors/executor/model.js";
import { encodeCommand } from "../../processors/executor/shell/records.js";
import { stateFrom } from "../../projections/fold-state.js";
import { parseFlow } from "../../schemas/flow-parser.js";
import type { Flow } from "../../schemas/flow-types.js";
import { executionPrefix, storageSegments, storageUri } from "../../storage/paths.js";
import {
  DeleteExecutionQuery, ExecutionParams, ExecutionSearchQuery, FileQuery, IdsBody, KillQuery, LabelsBody, ReplayQuery,
} from "../api-schemas.js";
import type { ApiContext } from "../context.js";
import { createdExecution, toApiExecution } from "../execution-dto.js";
import { newExecutionId } from "../execution-id.js";
import { drainMultipart, multipartParts } from "../multipart.js";
import { ApiError } from "../http-errors.js";
import { parseWith } from "../validation.js";
import { executionQuery } from "./executions.js";

/** Most executions a bulk action by query touches. */
const BULK_LIMIT = 10_000;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The execution `id` of the request's tenant (the read side, else one just created here); 404 otherwise. */
export async function executionOfTenant(ctx: ApiContext, req: FastifyRequest, id: string): Promise<Execution> {
  const e = (await ctx.repository.getExecution(id)) ?? ctx.created.get(id);
  if (!e || e.tenantId !== req.tenantId) throw new ApiError(404, "EXECUTION_NOT_FOUND", `execution ${id} not found`);
  return e;
}

async function send(ctx: ApiContext, commands: ExecutorCommand[]): Promise<void> {
  if (commands.length === 0) return;
  await ctx.log.append(commands.map((c) => ({ topic: ctx.topics.commands, key: c.executionId, value: encodeCommand(ctx.codec, c) })));
}

const conflict = (e: Execution, what: string) =>
  new ApiError(409, "EXECUTION_STATE_CONFLICT", `execution ${e.id} is ${e.state.current}: ${what}`);

const canKill = (s: State) => !isTerminal(s) && s !== "KILLING";
const canRestart = (s: State) => s === "FAILED" || s === "KILLED";

/** Deletes an execution from the read side and, unless told otherwise, its files in internal storage. */
async function deleteExecution(ctx: ApiContext, e: Execution, deleteStorage: boolean): Promise<void> {
  await ctx.repository.deleteExecution(e.id);
  ctx.created.delete(e.id);
  if (!deleteStorage) return;
  const prefix = executionPrefix({ tenantId: e.tenantId, namespace: e.namespace, flowId: e.flowId, executionId: e.id });
  for (const uri of await ctx.storage.list(prefix)) await ctx.storage.delete(uri);
}

/** Executions of the request's tenant matching a bulk query, up to BULK_LIMIT. */
async function matching(ctx: ApiContext, req: FastifyRequest): Promise<Execution[]> {
  const q = executionQuery(req.tenantId, parseWith(ExecutionSearchQuery, req.query, "query"));
  const out: Execution[] = [];
  let cursor: string | undefined;
  while (out.length < BULK_LIMIT) {
    const res = await ctx.repository.searchExecutions({ ...q, page: undefined, cursor, size: 500 });
    out.push(...res.results);
    if (!res.nextCursor || res.results.length === 0) break;
    cursor = res.nextCursor;
  }
  return out.slice(0, BULK_LIMIT);
}

/** Executions of the request's tenant among `ids` (others are skipped, as unknown). */
async function byIds(ctx: ApiContext, req: FastifyRequest): Promise<Execution[]> {
  const ids = parseWith(IdsBody, req.body, "body");
  const out: Execution[] = [];
  for (const id of new Set(ids)) {
    const e = (await ctx.repository.getExecution(id)) ?? ctx.created.get(id);
    if (e && e.tenantId === req.tenantId) out.push(e);
  }
  return out;
}

/** Resume inputs: a JSON object, or multipart fields (files go to storage under the execution). */
async function resumeInputs(ctx: ApiContext, req: FastifyRequest, e: Execution): Promise<Record<string, unknown>> {
  if (req.isMultipart()) {
    const given: Record<string, unknown> = {};
    for await (const part of multipartParts(req, { fileSize: ctx.maxFileBytes })) {
      if (part.type === "file") {
        const prefix = executionPrefix({ tenantId: e.tenantId, namespace: e.namespace, flowId: e.flowId, executionId: e.id });
        const name = basename(part.filename ?? "file").replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "") || "file";
        const uri = await ctx.storage.put(`${prefix}/resume/${part.fieldname.replace(/[^A-Za-z0-9._-]/g, "_")}/${name}`, part.file);
        if (part.file.truncated) {
          await ctx.storage.delete(uri).catch(() => undefined);
          throw new ApiError(413, "INPUT_FILE_TOO_LARGE", `${part.fieldname}: the file is larger than ${ctx.maxFileBytes} bytes`);
        }
        given[part.fieldname] = uri;
      } else {
        given[part.fieldname] = typeof part.value === "string" ? part.value : String(part.value);
      }
    }
    return given;
  }
  const body = req.body;
  if (body === undefined || body === null || body === "") return {};
  if (!isObject(body)) throw new ApiError(422, "INPUTS_INVALID", "expected the resume inputs as a JSON object or multipart/form-data fields", [{ path: "body", message: "expected a JSON object" }]);
  return body;
}

export function registerExecutionControlRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.delete("/executions/:executionId/kill", async (req, reply) => {
    const { executionId } = parseWith(ExecutionParams, req.params, "path");
    const q = parseWith(KillQuery, req.query, "query");
    const e = await executionOfTenant(ctx, req, executionId);
    if (!canKill(e.state.current)) throw conflict(e, "it cannot be killed");
    await send(ctx, [{ type: "Kill", executionId, cascade: q.isOnKillCascade !== "false" }]);
    return reply.status(202).send(toApiExecution(e));
  });

  app.post("/executions/:executionId/restart", async (req) => {
    const { executionId } = parseWith(ExecutionParams, req.params, "path");
    const e = await executionOfTenant(ctx, req, executionId);
    if (!canRestart(e.state.current)) throw conflict(e, "only a FAILED or KILLED execution can be restarted");
    await send(ctx, [{ type: "Restart", executionId }]);
    return toApiExecution(e);
  });

  app.post("/executions/:executionId/replay", async (req) => {
    const { executionId } = parseWith(ExecutionParams, req.params, "path");
    const q = parseWith(ReplayQuery, req.query, "query");
    const e = await executionOfTenant(ctx, req, executionId);
    if (!isTerminal(e.state.current)) throw conflict(e, "only an ended execution can be replayed");
    const stored = (await ctx.repository.getStoredExecutions([executionId])).get(executionId);
    const source = stored ? stateFrom(stored.execution, stored.fold) : undefined;
    if (!source) throw new ApiError(409, "EXECUTION_NOT_REPLAYABLE", `execution ${executionId} has no stored state to replay from yet`);
    if (q.taskRunId !== undefined && !source.taskRuns[q.taskRunId]) {
      throw new ApiError(400, "QUERY_INVALID", `taskRunId: execution ${executionId} has no task run ${q.taskRunId}`, [{ path: "query.taskRunId", message: `no task run ${q.taskRunId} in execution ${executionId}` }]);
    }
    let flow: Flow = source.flow;
    if (q.revision !== undefined) {
      const rev = await ctx.repository.getFlow({ tenantId: req.tenantId, namespace: e.namespace, id: e.flowId }, q.revision);
      if (!rev || rev.deleted) throw new ApiError(404, "FLOW_NOT_FOUND", `flow ${e.namespace}.${e.flowId} revision ${q.revision} not found`);
      const parsed = parseFlow(rev.source);
      if (!parsed.ok) throw new ApiError(422, "FLOW_INVALID", `flow ${e.namespace}.${e.flowId} revision ${q.revision} no longer parses`);
      flow = { ...parsed.flow, revision: rev.revision, tenantId: req.tenantId };
    }
    const newId = newExecutionId();
    await send(ctx, [{
      type: "CreateExecution", executionId: newId, flow, inputs: source.execution.inputs, labels: source.execution.labels,
      ...(source.execution.trigger ? { trigger: source.execution.trigger } : {}),
      ...(q.taskRunId !== undefined ? { replay: { source, fromTaskRunId: q.taskRunId } } : {}),
    }]);
    const created = createdExecution({
      id: newId, flow, tenantId: req.tenantId, revision: flow.revision ?? e.flowRevision, inputs: source.execution.inputs, labels: source.execution.labels, now: Date.now(),
    });
    created.originalId = source.execution.originalId;
    ctx.created.add(created);
    return toApiExecution(created);
  });

  app.post("/executions/:executionId/pause", async (req) => {
    const { executionId } = parseWith(ExecutionParams, req.params, "path");
    const e = await executionOfTenant(ctx, req, executionId);
    if (e.state.current !== "RUNNING") throw conflict(e, "only a RUNNING execution can be paused");
    await send(ctx, [{ type: "Pause", executionId }]);
    return toApiExecution(e);
  });

  app.post("/executions/:executionId/resume", async (req) => {
    const { executionId } = parseWith(ExecutionParams, req.params, "path");
    const e = await executionOfTenant(ctx, req, executionId);
    if (e.state.current !== "PAUSED") {
      if (req.isMultipart()) await drainMultipart(req);
      throw conflict(e, "only a PAUSED execution can be resumed");
    }
    const inputs = await resumeInputs(ctx, req, e);
    await send(ctx, [{ type: "Resume", executionId, inputs }]);
    return toApiExecution(e);
  });

  app.post("/executions/:executionId/labels", async (req) => {
    const { executionId } = parseWith(ExecutionParams, req.params, "path");
    const labels = parseWith(LabelsBody, req.body, "body");
    const e = await executionOfTenant(ctx, req, executionId);
    await send(ctx, [{ type: "SetLabels", executionId, labels }]);
    return toApiExecution({ ...e, labels });
  });

  app.delete("/executions/:executionId", async (req, reply) => {
    const { executionId } = parseWith(ExecutionParams, req.params, "path");
    const q = parseWith(DeleteExecutionQuery, req.query, "query");
    const e = await executionOfTenant(ctx, req, executionId);
    if (!isTerminal(e.state.current)) throw conflict(e, "kill it before deleting it");
    await deleteExecution(ctx, e, q.deleteStorage !== "false");
    return reply.status(204).send();
  });

  app.get("/executions/:executionId/file", async (req, reply) => {
    const { executionId } = parseWith(ExecutionParams, req.params, "path");
    const q = parseWith(FileQuery, req.query, "query");
    const e = await executionOfTenant(ctx, req, executionId);
    let segments: string[];
    try {
      segments = storageSegments(q.path);
    } catch {
      throw new ApiError(400, "QUERY_INVALID", `path: not an internal storage path: ${q.path}`, [{ path: "query.path", message: "not a lanner:/// storage path" }]);
    }
    const prefix = executionPrefix({ tenantId: e.tenantId, namespace: e.namespace, flowId: e.flowId, executionId: e.id }).split("/");
    // Only the execution's own files: anything else is "not found", whoever owns it.
    const inside = segments.length > prefix.length && prefix.every((s, i) => segments[i] === s);
    if (!inside) throw new ApiError(404, "FILE_NOT_FOUND", `execution ${executionId} has no file ${q.path}`);
    const uri = storageUri(segments);
    if (!(await ctx.storage.exists(uri))) throw new ApiError(404, "FILE_NOT_FOUND", `execution ${executionId} has no file ${q.path}`);
    const stream = await ctx.storage.get(uri);
    const name = segments[segments.length - 1].replace(/["\\\r\n]/g, "_");
    return reply.type("application/octet-stream").header("content-disposition", `attachment; filename="${name}"`).send(stream);
  });

  // ---- bulk ------------------------------------------------------------------------------------

  const bulkKill = async (list: Execution[]) => {
    const targets = list.filter((e) => canKill(e.state.current));
    await send(ctx, targets.map((e) => ({ type: "Kill", executionId: e.id, cascade: true })));
    return { count: targets.length };
  };
  const bulkRestart = async (list: Execution[]) => {
    const targets = list.filter((e) => canRestart(e.state.current));
    await send(ctx, targets.map((e) => ({ type: "Restart", executionId: e.id })));
    return { count: targets.length };
  };
  const bulkDelete = async (list: Execution[]) => {
    const targets = list.filter((e) => isTerminal(e.state.current));
    for (const e of targets) await deleteExecution(ctx, e, true);
    return { count: targets.length };
  };
  app.delete("/executions/kill/by-ids", async (req) => bulkKill(await byIds(ctx, req)));
  app.delete("/executions/kill/by-query", async (req) => bulkKill(await matching(ctx, req)));
  app.post("/executions/restart/by-ids", async (req) => bulkRestart(await byIds(ctx, req)));
  app.post("/executions/restart/by-query", async (req) => bulkRestart(await matching(ctx, req)));
  app.delete("/executions/by-ids", async (req) => bulkDelete(await byIds(ctx, req)));
  app.delete("/executions/by-query", async (req) => bulkDelete(await matching(ctx, req)));
}
