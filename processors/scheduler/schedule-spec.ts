/**
 * A Schedule trigger as the scheduler reads it: the flow model's loose `Trigger` checked and
 * normalised once (defaults applied, durations in ms, conditions checked) so the pure core never
 * meets a half-valid trigger.
 */
import type { Label, Trigger } from "../../schemas/flow-types.js";
import { parseDuration } from "../../schemas/duration.js";
import { TRIGGER_TYPES } from "../../schemas/trigger-schema.js";
import type { State } from "../executor/model.js";
import { CronSchedule } from "./cron-schedule.js";
import { conditionProblem } from "./schedule-conditions.js";

export type RecoverPolicy = "ALL" | "LAST" | "NONE";

/**
 * The default `recoverMissedSchedules`: ALL, as in Kestra, so a flow moved from Kestra behaves
 * the same and no scheduled run is lost silently; `lateMaximumDelay` bounds how far back it goes.
 */
export const DEFAULT_RECOVER: RecoverPolicy = "ALL";

export interface ScheduleSpec {
  id: string;
  schedule: CronSchedule;
  inputs: Record<string, unknown>;
  labels: Label[];
  /** A firing later than this (ms after its date) is skipped and recorded. */
  lateMaximumDelayMs?: number;
  recoverMissedSchedules: RecoverPolicy;
  conditions: Array<Record<string, unknown>>;
  /** Terminal states after which the trigger disables itself. */
  stopAfter: State[];
  /** `disabled: true` in the flow source. */
  disabled: boolean;
}

const SCHEDULE_TYPES: ReadonlySet<string> = new Set(TRIGGER_TYPES.schedule);

/** True for a Schedule trigger (any accepted type name). */
export function isScheduleTrigger(t: Pick<Trigger, "type">): boolean {
  return SCHEDULE_TYPES.has(t.type);
}

function labelsOf(v: unknown): Label[] {
  if (Array.isArray(v)) return v.filter((l): l is Label => typeof l === "object" && l !== null && typeof (l as Label).key === "string").map((l) => ({ key: l.key, value: String(l.value) }));
  if (typeof v === "object" && v !== null) return Object.entries(v).map(([key, value]) => ({ key, value: String(value) }));
  return [];
}

/** Reads a Schedule trigger; `{ok: false, problem}` says why it cannot be scheduled. */
export function scheduleSpecOf(t: Trigger): { ok: true; spec: ScheduleSpec } | { ok: false; problem: string } {
  if (typeof t.cron !== "string") return { ok: false, problem: `trigger ${t.id}: cron is required` };
  const timezone = typeof t.timezone === "string" ? t.timezone : "Etc/UTC";
  let schedule: CronSchedule;
  try {
    schedule = new CronSchedule(t.cron, t.withSeconds === true, timezone);
  } catch (err) {
    return { ok: false, problem: `trigger ${t.id}: ${err instanceof Error ? err.message : String(err)}` };
  }
  const own = t.conditions ?? [];
  const older = Array.isArray(t.scheduleConditions) ? (t.scheduleConditions as Array<Record<string, unknown>>) : [];
  for (const [field, list] of [["conditions", own], ["scheduleConditions", older]] as const) {
    for (let i = 0; i < list.length; i++) {
      const problem = conditionProblem(list[i], `triggers.${t.id}.${field}[${i}]`);
      if (problem) return { ok: false, problem };
    }
  }
  const conditions = [...own, ...older];
  let lateMaximumDelayMs: number | undefined;
  if (typeof t.lateMaximumDelay === "string") {
    try {
      lateMaximumDelayMs = parseDuration(t.lateMaximumDelay);
    } catch {
      return { ok: false, problem: `trigger ${t.id}: lateMaximumDelay ${JSON.stringify(t.lateMaximumDelay)} is not an ISO-8601 duration` };
    }
  }
  const recover = t.recoverMissedSchedules;
  const spec: ScheduleSpec = {
    id: t.id,
    schedule,
    inputs: typeof t.inputs === "object" && t.inputs !== null && !Array.isArray(t.inputs) ? (t.inputs as Record<string, unknown>) : {},
    labels: labelsOf(t.labels),
    recoverMissedSchedules: recover === "ALL" || recover === "LAST" || recover === "NONE" ? recover : DEFAULT_RECOVER,
    conditions,
    stopAfter: Array.isArray(t.stopAfter) ? (t.stopAfter as State[]) : [],
    disabled: t.disabled === true,
  };
  if (lateMaximumDelayMs !== undefined) spec.lateMaximumDelayMs = lateMaximumDelayMs;
  return { ok: true, spec };
}
