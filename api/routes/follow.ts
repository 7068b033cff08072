/**
 * Server-Sent Events: `GET /executions/{id}/follow` (the execution after every state and task-run
 * change, `id:` = the event's offset on the log, so a reconnecting client sends `Last-Event-ID`
 * and gets only what it missed) and `GET /logs/{id}/follow` (each log line once). Data messages
 * are unnamed, as Kestra sends them; both streams end with an `end` event when the execution
 * ends. A comment line every 15 s keeps idle connections open through proxies.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { isTerminal } from "../../processors/executor/model.js";
import { levelRank } from "../../projections/repository.js";
import { ExecutionParams, LogQuerySchema } from "../api-schemas.js";
import type { ApiContext } from "../context.js";
import { toApiExecution } from "../execution-dto.js";
import { ApiError } from "../http-errors.js";
import { followExecution, followLogs } from "../live-follow.js";
import { parseWith } from "../validation.js";
import { executionOfTenant } from "./execution-control.js";

/** Opens the event stream on the raw response; returns a writer and a signal aborted when the client leaves. */
function openStream(ctx: ApiContext, req: FastifyRequest, reply: FastifyReply): { write: (chunk: string) => boolean; signal: AbortSignal; end: () => void } {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  res.flushHeaders();
  const left = new AbortController();
  const onClose = () => left.abort();
  req.raw.on("close", onClose);
  res.on("close", onClose);
  const signal = AbortSignal.any([left.signal, ctx.shutdown]);
  const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
  keepAlive.unref();
  return {
    write: (chunk) => res.write(chunk),
    signal,
    end: () => {
      clearInterval(keepAlive);
      req.raw.off("close", onClose);
      if (!res.writableEnded) res.end();
    },
  };
}

function lastEventId(req: FastifyRequest): bigint | undefined {
  const raw = req.headers["last-event-id"];
  const v = Array.isArray(raw) ? raw[0] : raw;
  if (v === undefined || v === "") return undefined;
  if (!/^\d{1,19}$/.test(v)) throw new ApiError(400, "HEADER_INVALID", `Last-Event-ID must be an event offset (a non-negative integer), got '${v}'`, [{ path: "headers.last-event-id", message: "a non-negative integer" }]);
  return BigInt(v);
}

export function registerFollowRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get("/executions/:executionId/follow", async (req, reply) => {
    const { executionId } = parseWith(ExecutionParams, req.params, "path");
    const after = lastEventId(req);
    await executionOfTenant(ctx, req, executionId);
    const stream = openStream(ctx, req, reply);
    try {
      for await (const step of followExecution(ctx, executionId, { after, signal: stream.signal })) {
        stream.write(`id: ${step.offset}\ndata: ${JSON.stringify(toApiExecution(step.execution))}\n\n`);
      }
      if (!stream.signal.aborted) stream.write("event: end\ndata: {}\n\n");
    } catch (err) {
      ctx.logger.warn({ err, executionId }, "execution follow failed");
      stream.write(`event: error\ndata: ${JSON.stringify({ message: "the follow stream failed; reconnect with Last-Event-ID" })}\n\n`);
    } finally {
      stream.end();
    }
  });

  app.get("/logs/:executionId/follow", async (req, reply) => {
    const { executionId } = parseWith(ExecutionParams, req.params, "path");
    const q = parseWith(LogQuerySchema, req.query, "query");
    await executionOfTenant(ctx, req, executionId);
    const stream = openStream(ctx, req, reply);
    const min = q.minLevel === undefined ? undefined : levelRank(q.minLevel);
    try {
      const lines = followLogs(ctx, executionId, {
        signal: stream.signal,
        isDone: async () => {
          const e = await ctx.repository.getExecution(executionId);
          return e !== undefined && isTerminal(e.state.current);
        },
        keep: (l) => (q.taskRunId === undefined || l.taskRunId === q.taskRunId) && (q.taskId === undefined || l.taskId === q.taskId)
          && (min === undefined || levelRank(l.level) >= min),
      });
      for await (const line of lines) stream.write(`id: ${line.id}\ndata: ${JSON.stringify(line)}\n\n`);
      if (!stream.signal.aborted) stream.write("event: end\ndata: {}\n\n");
    } catch (err) {
      ctx.logger.warn({ err, executionId }, "log follow failed");
      stream.write(`event: error\ndata: ${JSON.stringify({ message: "the follow stream failed" })}\n\n`);
    } finally {
      stream.end();
    }
  });
}
