/**
 * Conditions of a Schedule trigger that need no I/O, evaluated on each scheduled date in the
 * trigger's time zone: DayWeek, DayWeekInMonth, DateTimeBetween, TimeBetween, Weekend, Not, Or
 * (Kestra's `io.kestra.plugin.core.condition.*`, and the older `…conditions.types.*Condition`
 * names). A condition that needs I/O or is unknown is refused up front by `conditionProblem`, so a
 * trigger never silently ignores part of its configuration.
 */
import { localParts } from "./cron-schedule.js";

const DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"] as const;
const IN_MONTH = ["FIRST", "SECOND", "THIRD", "FOURTH", "LAST"] as const;

/** The short name of a condition type: `io.kestra.plugin.core.condition.DayWeek` → `DayWeek`. */
export function conditionKind(type: string): string {
  const last = type.slice(type.lastIndexOf(".") + 1);
  return last.endsWith("Condition") ? last.slice(0, -"Condition".length) : last;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const timeRe = /^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/;

function dateIssue(v: unknown, field: string): ConditionIssue | undefined {
  if (v === undefined) return undefined;
  return typeof v === "string" && !Number.isNaN(Date.parse(v)) ? undefined : { path: [field], message: `expected an ISO-8601 date-time such as 2025-01-01T00:00:00Z, got ${JSON.stringify(v)}` };
}

/** Why a condition cannot be evaluated: where (relative to the condition) and what. */
export interface ConditionIssue {
  path: Array<string | number>;
  message: string;
}

/** Why `condition` cannot be evaluated by the scheduler, or undefined when it can. */
export function conditionIssue(condition: Record<string, unknown>): ConditionIssue | undefined {
  const type = condition.type;
  if (typeof type !== "string") return { path: ["type"], message: "a condition needs a type" };
  const kind = conditionKind(type);
  switch (kind) {
    case "DayWeek":
      return DAYS.includes(condition.dayOfWeek as (typeof DAYS)[number]) ? undefined : { path: ["dayOfWeek"], message: `expected one of ${DAYS.join(", ")}, got ${JSON.stringify(condition.dayOfWeek)}` };
    case "DayWeekInMonth":
      if (!DAYS.includes(condition.dayOfWeek as (typeof DAYS)[number])) return { path: ["dayOfWeek"], message: `expected one of ${DAYS.join(", ")}, got ${JSON.stringify(condition.dayOfWeek)}` };
      return IN_MONTH.includes(condition.dayInMonth as (typeof IN_MONTH)[number]) ? undefined : { path: ["dayInMonth"], message: `expected one of ${IN_MONTH.join(", ")}, got ${JSON.stringify(condition.dayInMonth)}` };
    case "DateTimeBetween":
      if (condition.after === undefined && condition.before === undefined) return { path: [], message: "a DateTimeBetween condition needs after or before" };
      return dateIssue(condition.after, "after") ?? dateIssue(condition.before, "before");
    case "TimeBetween":
      for (const f of ["after", "before"] as const) {
        const v = condition[f];
        if (v !== undefined && (typeof v !== "string" || !timeRe.test(v))) return { path: [f], message: `expected a time of day such as 09:00:00, got ${JSON.stringify(v)}` };
      }
      return condition.after === undefined && condition.before === undefined ? { path: [], message: "a TimeBetween condition needs after or before" } : undefined;
    case "Weekend":
      return undefined;
    case "Not":
    case "Or": {
      const list = condition.conditions;
      if (!Array.isArray(list) || list.length === 0) return { path: ["conditions"], message: `a ${kind} condition needs a non-empty list of conditions` };
      for (let i = 0; i < list.length; i++) {
        const c: unknown = list[i];
        if (!isObject(c)) return { path: ["conditions", i], message: "expected a condition object" };
        const inner = conditionIssue(c);
        if (inner) return { path: ["conditions", i, ...inner.path], message: inner.message };
      }
      return undefined;
    }
    default:
      return { path: ["type"], message: `condition ${type} is not supported on a Schedule trigger (supported: DayWeek, DayWeekInMonth, DateTimeBetween, TimeBetween, Weekend, Not, Or)` };
  }
}

/** `conditionIssue` as one path-prefixed message (`triggers.t.conditions[0].dayOfWeek: …`), or undefined. */
export function conditionProblem(condition: Record<string, unknown>, path = "conditions"): string | undefined {
  const issue = conditionIssue(condition);
  if (!issue) return undefined;
  const where = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("");
  return `${path}${where}: ${issue.message}`;
}

function secondsOfDay(hms: string): number {
  const [h, m, s] = hms.split(":").map(Number);
  return h * 3600 + m * 60 + (s ?? 0);
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** True when `condition` (already checked by `conditionProblem`) holds for the scheduled date `ms` in `timezone`. */
export function conditionHolds(condition: Record<string, unknown>, ms: number, timezone: string): boolean {
  const kind = conditionKind(String(condition.type));
  const p = localParts(ms, timezone);
  switch (kind) {
    case "DayWeek":
      return DAYS[p.weekday - 1] === condition.dayOfWeek;
    case "DayWeekInMonth": {
      if (DAYS[p.weekday - 1] !== condition.dayOfWeek) return false;
      const which = condition.dayInMonth;
      if (which === "LAST") return p.day + 7 > daysInMonth(p.year, p.month);
      return Math.ceil(p.day / 7) === IN_MONTH.indexOf(which as (typeof IN_MONTH)[number]) + 1;
    }
    case "DateTimeBetween": {
      const after = typeof condition.after === "string" ? Date.parse(condition.after) : undefined;
      const before = typeof condition.before === "string" ? Date.parse(condition.before) : undefined;
      return (after === undefined || ms >= after) && (before === undefined || ms <= before);
    }
    case "TimeBetween": {
      const t = p.hour * 3600 + p.minute * 60 + p.second;
      const after = typeof condition.after === "string" ? secondsOfDay(condition.after) : undefined;
      const before = typeof condition.before === "string" ? secondsOfDay(condition.before) : undefined;
      return (after === undefined || t >= after) && (before === undefined || t <= before);
    }
    case "Weekend":
      return p.weekday >= 6;
    case "Not":
      // Kestra's Not: true when none of its conditions holds
      return (condition.conditions as Array<Record<string, unknown>>).every((c) => !conditionHolds(c, ms, timezone));
    case "Or":
      return (condition.conditions as Array<Record<string, unknown>>).some((c) => conditionHolds(c, ms, timezone));
    default:
      return false;
  }
}
