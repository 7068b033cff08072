import type { FastifyInstance } from "fastify";
import type { State } from "../../processors/executor/model.js";
import { StatsQuery } from "../api-schemas.js";
import type { ApiContext } from "../context.js";
import { ApiError } from "../http-errors.js";
import { parseWith } from "../validation.js";

/** Executions started on one UTC day, by current state. */
export interface DailyExecutionCounts {
  /** `YYYY-MM-DD` (UTC). */
  date: string;
  executionCounts: Partial<Record<State, number>>;
  total: number;
}

const DAY = 24 * 3600_000;
/** Longest window one request may ask for. */
const MAX_DAYS = 366;

/** Stats endpoints: executions per day by state (default: the repository's window, the last 30 days), every day of the window listed. */
export function registerStatsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get("/stats/executions/daily", async (req) => {
    const q = parseWith(StatsQuery, req.query, "query");
    const end = q.endDate === undefined ? Date.now() : Date.parse(q.endDate);
    const start = q.startDate === undefined ? end - 30 * DAY : Date.parse(q.startDate);
    if (start > end) throw new ApiError(400, "QUERY_INVALID", "startDate must not be after endDate", [{ path: "query.startDate", message: "after endDate" }]);
    if (end - start > MAX_DAYS * DAY) throw new ApiError(400, "QUERY_INVALID", `the window is limited to ${MAX_DAYS} days`, [{ path: "query.startDate", message: `more than ${MAX_DAYS} days before endDate` }]);
    const days = new Map<string, DailyExecutionCounts>();
    for (let d = Math.floor(start / DAY) * DAY; d <= end; d += DAY) {
      const date = new Date(d).toISOString().slice(0, 10);
      days.set(date, { date, executionCounts: {}, total: 0 });
    }
    const stats = await ctx.repository.dailyStats({
      tenantId: req.tenantId, namespace: q.namespace, flowId: q.flowId, startDate: new Date(start).toISOString(), endDate: new Date(end + 1).toISOString(),
    });
    for (const s of stats) {
      const day = days.get(s.date);
      if (!day) continue;
      day.executionCounts[s.state] = (day.executionCounts[s.state] ?? 0) + s.count;
      day.total += s.count;
    }
    return [...days.values()];
  });
}
