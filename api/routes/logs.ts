import type { FastifyInstance } from "fastify";
import { LOG_LEVELS, type LogLevel } from "../../projections/repository.js";
import type { ApiContext } from "../context.js";
import { ApiError } from "../http-errors.js";

/** Log endpoints: the lines of an execution, optionally of one task run and from a level up. */
export function registerLogRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Params: { executionId: string }; Querystring: { minLevel?: string; taskRunId?: string } }>("/api/v1/logs/:executionId", async (req) => {
    const { minLevel, taskRunId } = req.query;
    let level: LogLevel | undefined;
    if (minLevel !== undefined) {
      const up = minLevel.toUpperCase();
      if (!(LOG_LEVELS as readonly string[]).includes(up)) {
        throw new ApiError(422, "QUERY_INVALID", `minLevel: unknown level '${minLevel}' (expected one of ${LOG_LEVELS.join(", ")})`);
      }
      level = up as LogLevel;
    }
    return ctx.repository.listLogs(req.params.executionId, { minLevel: level, taskRunId });
  });
}
