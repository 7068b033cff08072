import type { FastifyInstance } from "fastify";
import { describeError } from "../../common/errors.js";
import { INDEXER_GROUP_NAME, type ApiContext } from "../context.js";

/** One readiness check. */
interface Check {
  status: "UP" | "DOWN";
  details?: Record<string, unknown>;
}

/** Bounds a check so a hung backend answers DOWN instead of hanging the probe. */
async function timed<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Health endpoints (never authenticated): `/health` and `/health/liveness` answer UP while the
 * process serves HTTP; `/health/readiness` checks the log and the read side and reports the
 * indexer's lag (records not yet in the read side), 503 when a backend does not answer.
 */
export function registerHealthRoutes(app: FastifyInstance, ctx: ApiContext, prefix: string, readinessTimeoutMs = 5_000): void {
  app.get(`${prefix}/health`, async () => ({ status: "UP" }));
  app.get(`${prefix}/health/liveness`, async () => ({ status: "UP" }));
  app.get(`${prefix}/health/readiness`, async (_req, reply) => {
    const checks: Record<string, Check> = {};
    try {
      let lag = 0n;
      for (const topic of [ctx.topics.executions, ctx.topics.logs]) {
        for (let p = 0; p < ctx.log.partitionsOf(topic); p++) {
          const [end, committed] = await timed(Promise.all([ctx.log.endOffset(topic, p), ctx.log.committed(INDEXER_GROUP_NAME, topic, p)]), readinessTimeoutMs);
          if (end > committed) lag += end - committed;
        }
      }
      checks.log = { status: "UP", details: { backend: ctx.log.backend } };
      checks.indexer = { status: "UP", details: { lag: Number(lag) } };
    } catch (err) {
      checks.log = { status: "DOWN", details: { backend: ctx.log.backend, error: describeError(err) } };
    }
    try {
      await timed(ctx.repository.searchExecutions({ tenantId: "", size: 1 }), readinessTimeoutMs);
      checks.repository = { status: "UP" };
    } catch (err) {
      checks.repository = { status: "DOWN", details: { error: describeError(err) } };
    }
    const up = Object.values(checks).every((c) => c.status === "UP");
    return reply.status(up ? 200 : 503).send({ status: up ? "UP" : "DOWN", checks });
  });
}
