/**
 * Time windows of flow-trigger preconditions (Kestra's `timeWindow`), as pure functions of a
 * clock value so the evaluator stays deterministic:
 *
 * - DURATION_WINDOW (the default): fixed windows of `window` (default PT24H), aligned on UTC
 *   midnight (the epoch) and shifted by `windowAdvance`; every condition must be met inside the
 *   same window.
 * - SLIDING_WINDOW: every condition must have been met during the last `window`.
 * - DAILY_TIME_DEADLINE: every condition must be met each day between midnight and `deadline`;
 *   what ends after the deadline counts for nothing until the next day.
 * - DAILY_TIME_WINDOW: every condition must be met each day between `startTime` and `endTime`.
 *
 * Times of day may carry an offset (`09:00:00+02:00`); without one they are UTC.
 */
import { LannerError } from "../../common/errors.js";
import { parseDuration } from "../../schemas/duration.js";

export type TimeWindowType = "DURATION_WINDOW" | "SLIDING_WINDOW" | "DAILY_TIME_DEADLINE" | "DAILY_TIME_WINDOW";

/** A trigger's `preconditions.timeWindow` as the schema leaves it. */
export interface TimeWindowSpec {
  type?: TimeWindowType;
  window?: string;
  windowAdvance?: string;
  deadline?: string;
  startTime?: string;
  endTime?: string;
}

/** Half-open window `[start, end)` in epoch milliseconds. */
export interface WindowBounds {
  start: number;
  end: number;
}

const DAY = 86_400_000;
/** Kestra's default window length. */
export const DEFAULT_WINDOW_MS = DAY;

const TIME_RE = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?(Z|[+-]\d{2}:\d{2})?$/;

/** A time of day: milliseconds after local midnight and the offset (ms) of its zone from UTC. */
export function parseTimeOfDay(s: string): { ms: number; offsetMs: number } {
  const m = TIME_RE.exec(s);
  if (!m) throw new LannerError("TIME_OF_DAY_INVALID", `expected a time of day such as 09:00:00, got ${JSON.stringify(s)}`);
  const ms = (Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3] ?? 0)) * 1000;
  let offsetMs = 0;
  if (m[4] && m[4] !== "Z") {
    const sign = m[4].startsWith("-") ? -1 : 1;
    offsetMs = sign * (Number(m[4].slice(1, 3)) * 60 + Number(m[4].slice(4, 6))) * 60_000;
  }
  return { ms, offsetMs };
}

/** Start (epoch ms) of the day containing `now`, in the zone `offsetMs` ahead of UTC. */
function dayStart(now: number, offsetMs: number): number {
  return Math.floor((now + offsetMs) / DAY) * DAY - offsetMs;
}

/** Length of a duration or sliding window in ms. */
export function windowLength(spec: TimeWindowSpec | undefined): number {
  return spec?.window ? parseDuration(spec.window) : DEFAULT_WINDOW_MS;
}

/**
 * The window that `now` falls in, or undefined when `now` is outside every window of the spec
 * (after a daily deadline, outside daily hours). For a sliding window: the last `window` up to
 * and including `now`.
 */
export function windowAt(spec: TimeWindowSpec | undefined, now: number): WindowBounds | undefined {
  const type = spec?.type ?? "DURATION_WINDOW";
  switch (type) {
    case "DURATION_WINDOW": {
      const w = windowLength(spec);
      if (w <= 0) throw new LannerError("TIME_WINDOW_INVALID", "a DURATION_WINDOW needs a window longer than zero");
      const advance = spec?.windowAdvance ? parseDuration(spec.windowAdvance) : 0;
      const start = advance + Math.floor((now - advance) / w) * w;
      return { start, end: start + w };
    }
    case "SLIDING_WINDOW":
      return { start: now - windowLength(spec), end: now + 1 };
    case "DAILY_TIME_DEADLINE": {
      if (!spec?.deadline) throw new LannerError("TIME_WINDOW_INVALID", "a DAILY_TIME_DEADLINE window needs a deadline");
      const d = parseTimeOfDay(spec.deadline);
      const start = dayStart(now, d.offsetMs);
      const end = start + d.ms;
      return now < end ? { start, end } : undefined;
    }
    case "DAILY_TIME_WINDOW": {
      if (!spec?.startTime || !spec.endTime) throw new LannerError("TIME_WINDOW_INVALID", "a DAILY_TIME_WINDOW window needs startTime and endTime");
      const from = parseTimeOfDay(spec.startTime);
      const to = parseTimeOfDay(spec.endTime);
      const day = dayStart(now, from.offsetMs);
      const start = day + from.ms;
      const end = day + to.ms + (from.offsetMs - to.offsetMs);
      return now >= start && now < end ? { start, end } : undefined;
    }
  }
}
