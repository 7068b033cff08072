import type { FastifyInstance } from "fastify";
import { describeError } from "../../common/errors.js";
import { Indexer } from "../../projections/indexer.js";
import type { ApiContext } from "../context.js";

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
 * An indexer of the same topics and groups as the indexer role's, never started: its `lag()` reads
 * the groups' committed offsets on the log, so it is the running indexer's lag whichever process
 * runs it. Built per probe because the kinds it counts are the topics that exist at that moment.
 */
function lagReader(ctx: ApiContext): Indexer {
  const t = ctx.topics;
  return new Indexer({
    log: ctx.log, repository: ctx.repository, logger: ctx.logger, codec: ctx.codec,
    topics: { executions: t.executions, logs: t.logs, flows: t.flows, triggers: t.flows.replace(/flows$/, "triggers") },
  });
}

/**
 * Health endpoints (never authenticated): `/health` and `/health/liveness` answer UP while the
 * process serves HTTP; `/health/readiness` checks the log and the read side and reports the
 * indexer's lag (records of executions, logs, flows and triggers not yet in the read side), 503 when a backend does not answer.
 */
export function registerHealthRoutes(app: FastifyInstance, ctx: ApiContext, prefix: string, readinessTimeoutMs = 5_000): void {
  app.get(`${prefix}/health`, async () => ({ status: "UP" }));
  app.get(`${prefix}/health/liveness`, async () => ({ status: "UP" }));
  app.get(`${prefix}/health/readiness`, async (_req, reply) => {
    const checks: Record<string, Check> = {};
    try {
      const lag = await timed(lagReader(ctx).lag(), readinessTimeoutMs);
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
