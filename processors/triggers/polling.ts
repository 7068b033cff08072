/**
 * Polling triggers: what travels between the polling scheduler and the workers, the evaluators
 * that run on workers (the HTTP trigger first), and the health of a trigger as the watchdog sees it.
 */
import { isTruthy, renderDeep, renderTyped } from "../../expressions/index.js";
import type { Trigger } from "../../schemas/flow-types.js";
import { parseDuration } from "../../schemas/duration.js";
import { TRIGGER_TYPES } from "../../schemas/trigger-schema.js";

/** `tenant/namespace/flowId/triggerId`: the key every record of a polling trigger travels under. */
export function pollingTriggerKey(tenantId: string, namespace: string, flowId: string, triggerId: string): string {
  return `${tenantId}/${namespace}/${flowId}/${triggerId}`;
}

/** A `trigger-evaluations` record: one evaluation to run now, within `timeBoxMs`. */
export interface PollingEvaluationRecord {
  evaluationId: string;
  triggerKey: string;
  tenantId: string;
  namespace: string;
  flowId: string;
  flowRevision: number;
  trigger: Trigger;
  timeBoxMs: number;
  dispatchedAt: number;
}

export type PollingOutcome = "fired" | "not-met" | "failed" | "timed-out";

/** A `trigger-results` record: how an evaluation ended on a worker. */
export interface PollingResultRecord {
  evaluationId: string;
  triggerKey: string;
  outcome: PollingOutcome;
  /** `trigger.*` of the execution to create (outcome `fired`). */
  variables?: Record<string, unknown>;
  error?: string;
  workerId: string;
  durationMs: number;
}

/** What an evaluator sees besides the trigger. */
export interface PollingContext {
  /** Aborted when the evaluation's time-box is over: stop all I/O. */
  signal: AbortSignal;
  /** Variables for the trigger's templates (`flow`, `trigger.id`, `trigger.date`). */
  vars: Record<string, unknown>;
}

/** Runs one evaluation of a polling trigger type on a worker. */
export interface PollingEvaluator {
  /**
   * Evaluates once: `{ fired: true, variables }` when the flow should start (`variables` become
   * `trigger.*`), `{ fired: false }` otherwise. Rejects on failure; must honour `ctx.signal`.
   */
  evaluate(trigger: Trigger, ctx: PollingContext): Promise<{ fired: boolean; variables?: Record<string, unknown> }>;
}

/** The polling trigger types and their interval/time-box. */
export const POLLING_TYPES: ReadonlySet<string> = new Set([TRIGGER_TYPES.http[0]]);

/** Default time-box: the interval, but at most this. */
export const MAX_DEFAULT_TIME_BOX_MS = 60_000;

export function isPollingTrigger(t: Trigger): boolean {
  return POLLING_TYPES.has(t.type);
}

/** Milliseconds between two evaluations. */
export function intervalOf(t: Trigger): number {
  return parseDuration(typeof t.interval === "string" ? t.interval : "PT60S");
}

/** The time-box of one evaluation: `timeout`, else the interval capped at 60 s. */
export function timeBoxOf(t: Trigger): number {
  return typeof t.timeout === "string" ? parseDuration(t.timeout) : Math.min(intervalOf(t), MAX_DEFAULT_TIME_BOX_MS);
}

/** The HTTP trigger: sends the request and fires when `responseCondition` holds for the response. */
export const httpEvaluator: PollingEvaluator = {
  async evaluate(trigger, ctx) {
    const opts = { services: { now: () => Date.now() } };
    const uri = String(renderTyped(String(trigger.uri), ctx.vars, opts));
    const headers = renderDeep<Record<string, string>>(trigger.headers ?? {}, ctx.vars, opts);
    if (typeof trigger.contentType === "string") headers["content-type"] = trigger.contentType;
    const method = typeof trigger.method === "string" ? trigger.method : "GET";
    const body = typeof trigger.body === "string" ? String(renderTyped(trigger.body, ctx.vars, opts)) : undefined;
    const res = await fetch(uri, { method, headers, ...(body !== undefined && method !== "GET" && method !== "HEAD" ? { body } : {}), signal: ctx.signal });
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get("content-type") ?? "").includes("json")) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    const responseHeaders: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      responseHeaders[k] = v;
    });
    const response = { statusCode: res.status, headers: responseHeaders, body: parsed };
    const condition = typeof trigger.responseCondition === "string" ? trigger.responseCondition : "{{ response.statusCode < 400 }}";
    const fired = isTruthy(renderTyped(condition, { ...ctx.vars, response }, opts));
    return { fired, ...(fired ? { variables: { uri, code: res.status, headers: responseHeaders, body: parsed } } : {}) };
  },
};

/** Evaluators by canonical trigger type. */
export const DEFAULT_EVALUATORS: Readonly<Record<string, PollingEvaluator>> = { [TRIGGER_TYPES.http[0]]: httpEvaluator };

/** A polling trigger's state in the scheduler (its store and its inspection API). */
export interface PollingTriggerState {
  triggerKey: string;
  tenantId: string;
  namespace: string;
  flowId: string;
  triggerId: string;
  intervalMs: number;
  timeBoxMs: number;
  /** When the next evaluation is due. */
  nextAt: number;
  /** Evaluations dispatched so far (their ids derive from this count). */
  evaluations: number;
  /** The evaluation in flight: at most one per trigger. */
  lock?: { evaluationId: string; at: number; deadline: number };
  last?: { evaluationId: string; outcome: PollingOutcome | "lock-expired" | "stale"; at: number; error?: string; executionId?: string };
  /** Set when the watchdog unlocked the trigger. */
  watchdog?: { at: number; reason: string; count: number };
  /** Set when an evaluation was dispatched later than one interval after it was due. */
  overdue?: { dueAt: number; dispatchedAt: number; count: number };
  fired: number;
}

export type PollingHealth = "IDLE" | "EVALUATING" | "LOCKED_TOO_LONG" | "OVERDUE";

/**
 * How a trigger looks at `now`: `LOCKED_TOO_LONG` when its evaluation outlived its time-box,
 * `OVERDUE` when its next evaluation is more than an interval late, else `EVALUATING` or `IDLE`.
 */
export function pollingHealth(s: PollingTriggerState, now: number): PollingHealth {
  if (s.lock) return now > s.lock.deadline ? "LOCKED_TOO_LONG" : "EVALUATING";
  return now > s.nextAt + s.intervalMs ? "OVERDUE" : "IDLE";
}
