import { LannerError } from "../common/errors.js";

/**
 * ISO-8601 durations as Kestra reads them (Java's `Duration.parse`): days, hours, minutes and
 * seconds, with a decimal fraction allowed on seconds only (`PT0.5S`). Years, months and weeks are
 * calendar-dependent, so Kestra refuses them and so do we. Negative durations make no sense for
 * timeouts or delays and are refused too.
 */
const DURATION_RE = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:[.,](\d{1,9}))?S)?)?$/i;

const MS = { day: 86_400_000, hour: 3_600_000, minute: 60_000, second: 1000 } as const;

function match(iso: string): RegExpExecArray | undefined {
  const m = DURATION_RE.exec(iso.trim());
  if (!m) return undefined;
  // "P" and "PT" alone match the regex but carry no amount.
  if (m[1] === undefined && m[2] === undefined && m[3] === undefined && m[4] === undefined) return undefined;
  return m;
}

/** True when `s` is an ISO-8601 duration that `parseDuration` accepts. */
export function isDuration(s: string): boolean {
  return typeof s === "string" && match(s) !== undefined;
}

/**
 * ISO-8601 duration (PT5S, P1D, PT1H30M, PT0.5S) → milliseconds (fractions below a millisecond are
 * dropped). Throws LannerError "DURATION_INVALID" with a message saying what was expected.
 */
export function parseDuration(iso: string): number {
  const m = typeof iso === "string" ? match(iso) : undefined;
  if (!m) {
    throw new LannerError("DURATION_INVALID", `expected an ISO-8601 duration such as PT30S, got ${JSON.stringify(iso)}`);
  }
  const n = (s: string | undefined): number => (s === undefined ? 0 : Number(s));
  const fraction = m[5] === undefined ? 0 : Math.floor(Number(`0.${m[5]}`) * 1000);
  return n(m[1]) * MS.day + n(m[2]) * MS.hour + n(m[3]) * MS.minute + n(m[4]) * MS.second + fraction;
}

/** Formats milliseconds as an ISO-8601 duration (`PT1H30M`, `PT0.5S`, `PT0S`). */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) {
    throw new LannerError("DURATION_INVALID", `cannot format ${ms} ms as a duration: expected a non-negative number`);
  }
  let rest = Math.round(ms);
  const hours = Math.floor(rest / MS.hour);
  rest -= hours * MS.hour;
  const minutes = Math.floor(rest / MS.minute);
  rest -= minutes * MS.minute;
  const seconds = rest / 1000;
  let out = "PT";
  if (hours) out += `${hours}H`;
  if (minutes) out += `${minutes}M`;
  if (seconds || out === "PT") out += `${seconds}S`;
  return out;
}
