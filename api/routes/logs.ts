import type { FastifyInstance } from "fastify";
import type { LogEntry } from "../../projections/repository.js";
import type { FastifyRequest } from "fastify";
import { ExecutionParams, LogQuerySchema, LogSearchQuery } from "../api-schemas.js";
import type { ApiContext } from "../context.js";
import { parseWith } from "../validation.js";

/** One line of a log download: `timestamp LEVEL [taskId] message`. */
export function logLineText(l: LogEntry): string {
  return `${l.timestamp} ${l.level.padEnd(5)} ${l.taskId ? `[${l.taskId}] ` : ""}${l.message}`;
}

/** Log endpoints: the lines of an execution (optionally of one task run or task, from a level up), and the same as text. */
export function registerLogRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const lines = async (params: unknown, query: unknown, tenantReq: FastifyRequest) => {
    const { executionId } = parseWith(ExecutionParams, params, "path");
    const q = parseWith(LogQuerySchema, query, "query");
    const found = await ctx.repository.listLogs(executionId, { minLevel: q.minLevel, taskRunId: q.taskRunId });
    // Another tenant's lines are not there, as for an unknown execution: an empty list.
    return found.filter((l) => l.tenantId === tenantReq.tenantId && (q.taskId === undefined || l.taskId === q.taskId));
  };

  app.get("/logs/search", async (req) => {
    const { q: text, ...filters } = parseWith(LogSearchQuery, req.query, "query");
    // Every filter of the repository's LogSearch; the repository checks what the schema cannot (cursor, window order, words).
    const page = await ctx.repository.searchLogs({ ...filters, query: text, tenantId: req.tenantId });
    return { results: page.results, total: page.total, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  });

  app.get("/logs/:executionId", async (req) => lines(req.params, req.query, req));

  app.get("/logs/:executionId/download", async (req, reply) => {
    const found = await lines(req.params, req.query, req);
    const { executionId } = parseWith(ExecutionParams, req.params, "path");
    return reply
      .type("text/plain; charset=utf-8")
      .header("content-disposition", `attachment; filename="${executionId}.log"`)
      .send(found.map((l) => `${logLineText(l)}\n`).join(""));
  });
}
