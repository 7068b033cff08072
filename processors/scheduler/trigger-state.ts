/**
 * The state of one Schedule trigger: what the scheduler keeps in its store and writes to the
 * `triggers` topic after every change (the topic is its changelog and what the API reads).
 * Plain JSON: dates are epoch milliseconds.
 */
import type { Label } from "../../schemas/flow-types.js";

/** Which trigger: a flow (tenant/namespace/id) and the trigger's id in it. */
export interface TriggerKey {
  tenantId: string;
  namespace: string;
  flowId: string;
  triggerId: string;
}

/** Why scheduled dates were not run. */
export type SkipReason =
  /** Later than the trigger's `lateMaximumDelay`. */
  | "LATE"
  /** Missed while nobody scheduled (downtime, disabled) and `recoverMissedSchedules: NONE`. */
  | "RECOVER_NONE"
  /** Missed, and `recoverMissedSchedules: LAST` ran only the latest one. */
  | "RECOVER_LAST"
  /** The trigger's inputs are invalid for the flow. */
  | "INVALID_INPUTS";

/** A run of consecutive scheduled dates skipped for one reason (between two firings). */
export interface SkippedInterval {
  /** First and last skipped scheduled date. */
  from: number;
  to: number;
  count: number;
  reason: SkipReason;
  /** When the scheduler decided it. */
  at: number;
  message?: string;
}

export interface BackfillState {
  start: number;
  /** Last date of the range (clipped to the time the backfill was started). */
  end: number;
  inputs: Record<string, unknown>;
  labels: Label[];
  /** Next date to consider; undefined once the range is done. */
  nextDate?: number;
  paused: boolean;
  /** Dates run by the backfill. */
  executed: number;
  /** Dates of the range that had already run (not run again). */
  skipped: number;
  /** Dates in the range that the schedule (and its conditions) selects. */
  total: number;
  done: boolean;
  createdAt: number;
}

export interface TriggerState extends TriggerKey {
  /** The schedule's identity (cron|fields|zone) the dates were computed with; a change starts over from now. */
  schedule: string;
  flowRevision: number;
  /** The next scheduled date to consider; undefined when the pattern never fires again. */
  nextDate?: number;
  /** The last scheduled date that was fired (regular or backfill). */
  lastScheduled?: number;
  lastExecutionId?: string;
  /** Disabled at run time (API or stopAfter); the flow source's `disabled` is separate. */
  disabled: boolean;
  disabledReason?: string;
  /** Runs of fired dates: every selected date between `from` and `to` (inclusive) has fired. */
  fired: Array<[from: number, to: number]>;
  /** Skipped intervals, oldest first (bounded). */
  history: SkippedInterval[];
  backfill?: BackfillState;
  /** Why this trigger cannot be scheduled (invalid cron, unsupported condition…); nothing fires while set. */
  error?: string;
  /** When the state last changed. */
  updatedAt: number;
}

/** The log key of a flow's records on `flows` and `triggers` (same key → same partition). */
export function flowLogKey(k: Pick<TriggerKey, "tenantId" | "namespace" | "flowId">): string {
  return `${k.tenantId}/${k.namespace}/${k.flowId}`;
}

/** A trigger's identity as one string. */
export function triggerKeyString(k: TriggerKey): string {
  return `${flowLogKey(k)}/${k.triggerId}`;
}
