/**
 * A cron schedule in an IANA time zone, over croner. Dates are epoch milliseconds; the pattern
 * is read with 5 fields (minute first) or 6 (seconds first, `withSeconds`), as the flow parser
 * checked it. Wall-clock semantics across DST changes (croner's): a local time that does not
 * exist on a spring-forward day fires once, right after the gap (02:30 → 03:30); a local time
 * that occurs twice on a fall-back day fires once, at its first occurrence.
 */
import { Cron } from "croner";
import { LannerError } from "../../common/errors.js";

export class CronSchedule {
  private readonly cron: Cron;

  /** Throws LannerError `SCHEDULE_INVALID` on a pattern or time zone croner refuses. */
  constructor(
    readonly pattern: string,
    readonly withSeconds: boolean,
    readonly timezone: string,
  ) {
    try {
      this.cron = new Cron(pattern.trim(), { paused: true, timezone, mode: withSeconds ? "6-part" : "5-part" });
    } catch (err) {
      throw new LannerError("SCHEDULE_INVALID", `cron ${JSON.stringify(pattern)} in ${timezone}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** The first scheduled date strictly after `ms`; undefined when the pattern never fires again. */
  nextAfter(ms: number): number | undefined {
    // croner works at second resolution and returns the first run strictly after the given second
    const next = this.cron.nextRun(new Date(ms));
    if (!next) return undefined;
    const t = next.getTime();
    return t > ms ? t : this.cron.nextRun(new Date(t))?.getTime();
  }

  /** The last scheduled date strictly before `ms` (undefined when none within `maxScan` dates of `from`). */
  previousBefore(ms: number, from: number, maxScan = 100_000): number | undefined {
    let prev: number | undefined;
    let d = this.nextAfter(from - 1);
    for (let i = 0; d !== undefined && d < ms && i < maxScan; i++) {
      prev = d;
      d = this.nextAfter(d);
    }
    return prev;
  }

  /** Identity of the schedule: a state computed under another identity starts again. */
  get identity(): string {
    return `${this.pattern.trim()}|${this.withSeconds ? 6 : 5}|${this.timezone}`;
  }
}

/** Local calendar fields of an instant in a time zone. */
export interface LocalParts {
  year: number;
  month: number;
  day: number;
  /** ISO day of week: 1 = Monday … 7 = Sunday. */
  weekday: number;
  hour: number;
  minute: number;
  second: number;
  /** Offset from UTC in minutes (e.g. 60 for +01:00). */
  offsetMinutes: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

/** Calendar fields of `ms` in `timezone`. */
export function localParts(ms: number, timezone: string): LocalParts {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: timezone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
      weekday: "short", hour: "numeric", minute: "numeric", second: "numeric",
    });
    formatters.set(timezone, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(new Date(ms))) p[part.type] = part.value;
  const parts = {
    year: Number(p.year), month: Number(p.month), day: Number(p.day), weekday: WEEKDAYS[p.weekday] ?? 0,
    hour: Number(p.hour), minute: Number(p.minute), second: Number(p.second),
  };
  const asUtc = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  const offsetMinutes = Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60_000);
  return { ...parts, offsetMinutes };
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** ISO-8601 date-time of `ms` in `timezone` with its offset (`2025-03-30T03:30:00+02:00`, `…Z` for UTC). */
export function isoInZone(ms: number, timezone: string): string {
  const p = localParts(ms, timezone);
  const frac = ms % 1000 === 0 ? "" : `.${pad(((ms % 1000) + 1000) % 1000, 3)}`;
  const off = p.offsetMinutes;
  const zone = off === 0 ? "Z" : `${off > 0 ? "+" : "-"}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}${frac}${zone}`;
}
