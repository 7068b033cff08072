/**
 * Trigger endpoints (Kestra's shapes): `GET /triggers/search` lists Schedule triggers with their
 * state and backfill progress; `PUT /triggers/backfill/{start|pause|unpause|delete}` and
 * `POST /triggers/{namespace}/{flowId}/{triggerId}/{enable|disable}` append a command to the
 * `triggers` topic, which the scheduler owning the flow's partition applies.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { RecordCodec } from "../../processors/executor/shell/records.js";
import type { TriggerCommand } from "../../processors/scheduler/schedule-core.js";
import { isScheduleTrigger } from "../../processors/scheduler/schedule-spec.js";
import { triggerCommandRecord, type TriggerStateRecord } from "../../processors/scheduler/trigger-records.js";
import type { TriggerKey } from "../../processors/scheduler/trigger-state.js";
import { TriggerStateView } from "../../processors/scheduler/trigger-view.js";
import type { Repository } from "../../projections/repository.js";
import type { Label } from "../../schemas/flow-types.js";
import type { Log } from "../../topology/log.js";
import { ApiError } from "../http-errors.js";

export interface TriggerRoutesOptions {
  log: Log;
  codec: RecordCodec;
  repository: Repository;
  /** The `triggers` topic (physical name). */
  topic: string;
  /** The tenant of a request. */
  tenantOf: (req: FastifyRequest) => string;
  /** Path prefix of the routes; default `/api/v1`. */
  base?: string;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** A trigger's state as the API shows it (Kestra's `triggerContext`, plus Lanner's history and progress). */
export function triggerContextJson(s: TriggerStateRecord): Record<string, unknown> {
  const bf = s.backfill;
  return {
    tenantId: s.tenantId, namespace: s.namespace, flowId: s.flowId, triggerId: s.triggerId,
    date: iso(s.lastScheduled), nextExecutionDate: iso(s.nextDate), executionId: s.lastExecutionId ?? null,
    disabled: s.disabled, ...(s.disabledReason ? { disabledReason: s.disabledReason } : {}),
    ...(s.error ? { error: s.error } : {}),
    backfill: bf ? {
      start: iso(bf.start), end: iso(bf.end), currentDate: iso(bf.nextDate), paused: bf.paused, inputs: bf.inputs, labels: bf.labels,
      executed: bf.executed, skipped: bf.skipped, total: bf.total, done: bf.done,
      progress: bf.total === 0 ? 1 : (bf.executed + bf.skipped) / bf.total,
    } : null,
    history: s.history.map((h) => ({ from: iso(h.from), to: iso(h.to), count: h.count, reason: h.reason, at: iso(h.at), ...(h.message ? { message: h.message } : {}) })),
    updatedDate: iso(s.updatedAt),
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function requiredString(body: Record<string, unknown>, field: string): string {
  const v = body[field];
  if (typeof v !== "string" || v === "") throw new ApiError(422, "TRIGGER_INVALID", `${field}: expected a non-empty string, got ${JSON.stringify(v)}`, [{ path: field, message: `${field} is required` }]);
  return v;
}

function dateField(v: unknown, path: string): number {
  const ms = typeof v === "string" ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(ms)) throw new ApiError(422, "BACKFILL_INVALID", `${path}: expected an ISO-8601 date-time such as 2025-01-01T00:00:00Z, got ${JSON.stringify(v)}`, [{ path, message: "expected an ISO-8601 date-time" }]);
  return ms;
}

function labelsField(v: unknown): Label[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) {
    return v.map((l, i) => {
      if (!isObject(l) || typeof l.key !== "string") throw new ApiError(422, "BACKFILL_INVALID", `backfill.labels[${i}]: expected {key, value}`);
      return { key: l.key, value: String(l.value) };
    });
  }
  if (isObject(v)) return Object.entries(v).map(([key, value]) => ({ key, value: String(value) }));
  throw new ApiError(422, "BACKFILL_INVALID", "backfill.labels: expected a list of {key, value} or a map");
}

export function registerTriggerRoutes(app: FastifyInstance, opts: TriggerRoutesOptions): void {
  const base = opts.base ?? "/api/v1";
  const view = new TriggerStateView(opts.log, opts.codec, opts.topic);

  /** Checks that the flow is deployed and has a Schedule trigger of that id (the same 404 otherwise). */
  async function scheduleKey(req: FastifyRequest, namespace: string, flowId: string, triggerId: string): Promise<TriggerKey> {
    const tenantId = opts.tenantOf(req);
    const rev = await opts.repository.getFlow({ tenantId, namespace, id: flowId });
    if (!rev || !rev.flow.triggers.some((t) => t.id === triggerId && isScheduleTrigger(t))) {
      throw new ApiError(404, "TRIGGER_NOT_FOUND", `no Schedule trigger ${triggerId} on flow ${namespace}.${flowId}`);
    }
    return { tenantId, namespace, flowId, triggerId };
  }

  async function send(key: TriggerKey, command: TriggerCommand): Promise<void> {
    await opts.log.append([triggerCommandRecord(opts.codec, opts.topic, { key, command, at: Date.now() })]);
  }

  app.get<{ Querystring: { namespace?: string; flowId?: string; page?: string; size?: string } }>(`${base}/triggers/search`, async (req) => {
    const q = req.query;
    const page = q.page === undefined ? 1 : Number(q.page);
    const size = q.size === undefined ? 25 : Number(q.size);
    if (!Number.isInteger(page) || page < 1 || !Number.isInteger(size) || size < 1 || size > 1000) {
      throw new ApiError(400, "QUERY_INVALID", "page must be an integer ≥ 1 and size an integer from 1 to 1000");
    }
    const all = await view.list(opts.tenantOf(req), { namespace: q.namespace, flowId: q.flowId });
    const results = all.slice((page - 1) * size, page * size).map((s) => ({ triggerContext: triggerContextJson(s) }));
    return { results, total: all.length };
  });

  for (const action of ["start", "pause", "unpause", "delete"] as const) {
    app.put(`${base}/triggers/backfill/${action}`, async (req) => {
      const body = req.body;
      if (!isObject(body)) throw new ApiError(422, "TRIGGER_INVALID", "expected a JSON object with namespace, flowId and triggerId");
      const key = await scheduleKey(req, requiredString(body, "namespace"), requiredString(body, "flowId"), requiredString(body, "triggerId"));
      let command: TriggerCommand;
      if (action === "start") {
        const bf = body.backfill;
        if (!isObject(bf)) throw new ApiError(422, "BACKFILL_INVALID", "backfill: expected an object with start (and end, inputs, labels)");
        const start = dateField(bf.start, "backfill.start");
        const end = bf.end === undefined || bf.end === null ? Date.now() : dateField(bf.end, "backfill.end");
        if (end < start) throw new ApiError(422, "BACKFILL_INVALID", "backfill.end must not be before backfill.start");
        if (bf.inputs !== undefined && bf.inputs !== null && !isObject(bf.inputs)) throw new ApiError(422, "BACKFILL_INVALID", "backfill.inputs: expected an object");
        command = { type: "BackfillStart", start, end, inputs: isObject(bf.inputs) ? bf.inputs : {}, labels: labelsField(bf.labels) };
      } else {
        command = { type: action === "pause" ? "BackfillPause" : action === "unpause" ? "BackfillUnpause" : "BackfillDelete" };
      }
      await send(key, command);
      const current = await view.get(key);
      return { ...key, requested: command.type, ...(current ? { triggerContext: triggerContextJson(current) } : {}) };
    });
  }

  for (const action of ["enable", "disable"] as const) {
    app.post<{ Params: { namespace: string; flowId: string; triggerId: string } }>(`${base}/triggers/:namespace/:flowId/:triggerId/${action}`, async (req) => {
      const { namespace, flowId, triggerId } = req.params;
      const key = await scheduleKey(req, namespace, flowId, triggerId);
      await send(key, action === "enable" ? { type: "Enable" } : { type: "Disable" });
      return { ...key, requested: action === "enable" ? "Enable" : "Disable" };
    });
  }
}
