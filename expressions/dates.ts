import { EvalFailure } from "./expression-error.js";

/**
 * Date handling for the `date`, `dateAdd` and `timestamp*` filters and `now()`: an instant with
 * nanosecond precision viewed in a time zone, formatted with Java `DateTimeFormatter` patterns
 * (Kestra's filters take Java patterns such as `yyyy-MM-dd HH:mm:ss`).
 */
export interface ZonedInstant {
  /** Whole seconds since the epoch. */
  epochSecond: number;
  /** 0…999,999,999 */
  nanos: number;
  /** IANA zone id, `UTC`, or a fixed offset like `+02:00`. */
  zone: string;
}

/** Local calendar fields of an instant in its zone. */
interface Fields {
  year: number; month: number; day: number; hour: number; minute: number; second: number; nanos: number;
  /** 1 = Monday … 7 = Sunday (ISO). */
  dayOfWeek: number; dayOfYear: number; offsetMinutes: number; zone: string;
}

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();
const FIXED_OFFSET = /^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$/;

/** Validates a zone id and returns its canonical spelling; throws for unknown zones. */
export function checkZone(zone: string): string {
  if (zone === "Z" || zone === "UTC" || zone === "GMT") return zone === "Z" ? "UTC" : zone;
  if (FIXED_OFFSET.test(zone)) return zone;
  offsetMinutes(zone, 0);
  return zone;
}

/** The offset from UTC, in minutes, of `zone` at the instant `epochMs`. */
export function offsetMinutes(zone: string, epochMs: number): number {
  if (zone === "UTC" || zone === "Z" || zone === "GMT") return 0;
  const fixed = FIXED_OFFSET.exec(zone);
  if (fixed) return (fixed[1] === "-" ? -1 : 1) * (Number(fixed[2]) * 60 + Number(fixed[3] ?? 0));
  let f = offsetFormatters.get(zone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" });
    } catch {
      throw new EvalFailure(`Unknown time zone '${zone}'`);
    }
    offsetFormatters.set(zone, f);
  }
  const name = f.formatToParts(new Date(epochMs)).find((p) => p.type === "timeZoneName")?.value ?? "GMT";
  const m = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
  return m ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
}

/** The instant whose local time in `zone` is `localMs` (local time written as if it were UTC). */
export function fromLocal(localMs: number, zone: string): number {
  let guess = localMs - offsetMinutes(zone, localMs) * 60_000;
  guess = localMs - offsetMinutes(zone, guess) * 60_000;
  return guess;
}

function fields(z: ZonedInstant): Fields {
  const ms = z.epochSecond * 1000;
  const off = offsetMinutes(z.zone, ms);
  const d = new Date(ms + off * 60_000);
  const year = d.getUTCFullYear();
  const startOfYear = Date.UTC(year, 0, 1);
  const dayStart = Date.UTC(year, d.getUTCMonth(), d.getUTCDate());
  return {
    year, month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(),
    nanos: z.nanos, dayOfWeek: ((d.getUTCDay() + 6) % 7) + 1, dayOfYear: Math.round((dayStart - startOfYear) / 86_400_000) + 1,
    offsetMinutes: off, zone: z.zone,
  };
}

/** Builds a zoned instant from epoch milliseconds. */
export function fromEpochMillis(ms: number, zone: string): ZonedInstant {
  const sec = Math.floor(ms / 1000);
  return { epochSecond: sec, nanos: Math.round((ms - sec * 1000) * 1e6), zone };
}

const ISO_RE = /^(-?\d{4,})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?(?:\[([^\]]+)\])?$/;

/**
 * Converts a filter input to a zoned instant: numbers are epoch seconds (Kestra's Long), strings
 * are ISO-8601 (with or without offset; a local time is read in `zone`), or `existingFormat`.
 */
export function toZoned(value: unknown, zone: string, existingFormat?: string): ZonedInstant {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new EvalFailure("A date cannot be built from a non-finite number");
    return { epochSecond: Math.floor(value), nanos: Math.round((value - Math.floor(value)) * 1e9), zone };
  }
  if (typeof value === "bigint") return { epochSecond: Number(value), nanos: 0, zone };
  if (value instanceof Date) return fromEpochMillis(value.getTime(), zone);
  if (typeof value !== "string") throw new EvalFailure(`Cannot read a date from ${value === null ? "null" : Array.isArray(value) ? "a list" : typeof value}`);
  const text = value.trim();
  if (existingFormat !== undefined && !NAMED_PATTERNS[existingFormat] && !existingFormat.startsWith("iso")) return parseWithPattern(text, existingFormat, zone);
  const m = ISO_RE.exec(text);
  if (!m) throw new EvalFailure(`'${text}' is not an ISO-8601 date${existingFormat ? ` (format '${existingFormat}')` : ""}`);
  const [, y, mo, d, h, mi, s, frac, off, region] = m;
  const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0));
  const nanos = frac ? Number(frac.padEnd(9, "0")) : 0;
  let epochMs: number;
  if (off) epochMs = local - parseOffset(off) * 60_000;
  else if (region) epochMs = fromLocal(local, checkZone(region));
  else epochMs = fromLocal(local, zone);
  return { epochSecond: Math.floor(epochMs / 1000), nanos, zone };
}

function parseOffset(off: string): number {
  if (off === "Z") return 0;
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(off);
  if (!m) throw new EvalFailure(`Invalid offset '${off}'`);
  return (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0));
}

/** Kestra's named formats. */
const NAMED_PATTERNS: Record<string, string> = {
  iso: "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
  iso_sec: "yyyy-MM-dd'T'HH:mm:ssXXX",
  iso_milli: "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
  sql: "yyyy-MM-dd HH:mm:ss.SSSSSS",
  sql_seq: "yyyy-MM-dd HH:mm:ss",
  sql_sec: "yyyy-MM-dd HH:mm:ss",
  sql_milli: "yyyy-MM-dd HH:mm:ss.SSS",
  rfc_1123_date_time: "EEE, d MMM yyyy HH:mm:ss ",
};

function pad(n: number, width: number): string {
  const s = String(Math.abs(n)).padStart(width, "0");
  return n < 0 ? `-${s}` : s;
}

/** Fraction digits as Java's ISO formatters print them: omitted when zero, trailing zeros dropped. */
function isoFraction(nanos: number): string {
  if (nanos === 0) return "";
  return `.${pad(nanos, 9).replace(/0+$/, "")}`;
}

function offsetText(min: number, style: "X" | "XX" | "XXX" | "x" | "xx" | "xxx" | "Z" | "ZZZZ" | "O"): string {
  if (min === 0 && style.startsWith("X")) return "Z";
  const sign = min < 0 ? "-" : "+";
  const a = Math.abs(min);
  const hh = pad(Math.floor(a / 60), 2);
  const mm = pad(a % 60, 2);
  switch (style) {
    case "X": case "x": return mm === "00" ? `${sign}${hh}` : `${sign}${hh}${mm}`;
    case "XX": case "xx": case "Z": return `${sign}${hh}${mm}`;
    case "ZZZZ": return min === 0 ? "GMT" : `GMT${sign}${hh}:${mm}`;
    case "O": return min === 0 ? "GMT" : `GMT${sign}${Math.floor(a / 60)}${a % 60 ? `:${mm}` : ""}`;
    default: return `${sign}${hh}:${mm}`;
  }
}

function isoFormat(f: Fields, parts: { date?: boolean; time?: boolean; offset?: boolean; region?: boolean; ordinal?: boolean }): string {
  let s = "";
  if (parts.date) s += parts.ordinal ? `${pad(f.year, 4)}-${pad(f.dayOfYear, 3)}` : `${pad(f.year, 4)}-${pad(f.month, 2)}-${pad(f.day, 2)}`;
  if (parts.date && parts.time) s += "T";
  if (parts.time) s += `${pad(f.hour, 2)}:${pad(f.minute, 2)}:${pad(f.second, 2)}${isoFraction(f.nanos)}`;
  if (parts.offset) s += offsetText(f.offsetMinutes, "XXX");
  if (parts.region && !FIXED_OFFSET.test(f.zone) && f.zone !== "Z") s += `[${f.zone}]`;
  return s;
}

/** Formats an instant with a Kestra format name (`iso`, `sql`, `iso_date`, …) or a Java pattern. */
export function formatDate(z: ZonedInstant, format: string, locale?: string): string {
  const f = fields(z);
  switch (format) {
    case "iso_date_time": case "iso_zoned_date_time": return isoFormat(f, { date: true, time: true, offset: true, region: true });
    case "iso_offset_date_time": return isoFormat(f, { date: true, time: true, offset: true });
    case "iso_local_date_time": return isoFormat(f, { date: true, time: true });
    case "iso_date": case "iso_offset_date": return isoFormat(f, { date: true, offset: true });
    case "iso_local_date": return isoFormat(f, { date: true });
    case "iso_time": case "iso_offset_time": return isoFormat(f, { time: true, offset: true });
    case "iso_local_time": return isoFormat(f, { time: true });
    case "iso_ordinal_date": return isoFormat(f, { date: true, ordinal: true, offset: true });
    case "iso_instant": {
      const u = fields({ ...z, zone: "UTC" });
      const frac = z.nanos === 0 ? "" : `.${pad(z.nanos, 9).replace(/(?:000)+$/, "")}`;
      return `${pad(u.year, 4)}-${pad(u.month, 2)}-${pad(u.day, 2)}T${pad(u.hour, 2)}:${pad(u.minute, 2)}:${pad(u.second, 2)}${frac}Z`;
    }
    case "rfc_1123_date_time": return formatPattern(f, NAMED_PATTERNS.rfc_1123_date_time) + offsetText(f.offsetMinutes, "ZZZZ").replace(/^GMT(.+)$/, (_m, o: string) => o.replace(":", ""));
    case "full": case "long": case "medium": case "short": {
      const zone = FIXED_OFFSET.test(z.zone) ? "UTC" : z.zone;
      const ms = FIXED_OFFSET.test(z.zone) ? z.epochSecond * 1000 + f.offsetMinutes * 60_000 : z.epochSecond * 1000;
      try {
        return new Intl.DateTimeFormat(locale ?? "en-US", { dateStyle: format, timeStyle: format, timeZone: zone }).format(new Date(ms));
      } catch {
        throw new EvalFailure(`Unknown locale '${locale}'`);
      }
    }
    default: return formatPattern(f, NAMED_PATTERNS[format] ?? format);
  }
}

/** Splits a Java pattern into runs of one letter and literal text. */
function patternRuns(pattern: string): Array<{ letter: string; count: number } | { text: string }> {
  const runs: Array<{ letter: string; count: number } | { text: string }> = [];
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === "'") {
      if (pattern[i + 1] === "'") {
        runs.push({ text: "'" });
        i += 2;
        continue;
      }
      const end = pattern.indexOf("'", i + 1);
      if (end < 0) throw new EvalFailure(`Unclosed quote in date pattern '${pattern}'`);
      runs.push({ text: pattern.slice(i + 1, end) });
      i = end + 1;
      continue;
    }
    if (c === "[" || c === "]") {
      i++;
      continue;
    }
    if (/[A-Za-z]/.test(c)) {
      let j = i;
      while (pattern[j] === c) j++;
      runs.push({ letter: c, count: j - i });
      i = j;
      continue;
    }
    runs.push({ text: c });
    i++;
  }
  return runs;
}

function formatPattern(f: Fields, pattern: string): string {
  let out = "";
  for (const run of patternRuns(pattern)) {
    if ("text" in run) {
      out += run.text;
      continue;
    }
    const { letter, count } = run;
    switch (letter) {
      case "y": case "u": out += count === 2 ? pad(f.year % 100, 2) : pad(f.year, count); break;
      case "M": case "L": out += count >= 4 ? MONTHS[f.month - 1] : count === 3 ? MONTHS[f.month - 1].slice(0, 3) : pad(f.month, count); break;
      case "d": out += pad(f.day, count); break;
      case "D": out += pad(f.dayOfYear, count); break;
      case "H": out += pad(f.hour, count); break;
      case "k": out += pad(f.hour === 0 ? 24 : f.hour, count); break;
      case "K": out += pad(f.hour % 12, count); break;
      case "h": out += pad(f.hour % 12 === 0 ? 12 : f.hour % 12, count); break;
      case "m": out += pad(f.minute, count); break;
      case "s": out += pad(f.second, count); break;
      case "S": out += pad(f.nanos, 9).slice(0, count).padEnd(count, "0"); break;
      case "n": out += pad(f.nanos, count); break;
      case "a": out += f.hour < 12 ? "AM" : "PM"; break;
      case "E": out += count >= 4 ? DAYS[f.dayOfWeek - 1] : DAYS[f.dayOfWeek - 1].slice(0, 3); break;
      case "e": case "c": out += count <= 2 ? pad(f.dayOfWeek, count) : count === 3 ? DAYS[f.dayOfWeek - 1].slice(0, 3) : DAYS[f.dayOfWeek - 1]; break;
      case "G": out += f.year > 0 ? (count === 4 ? "Anno Domini" : "AD") : "BC"; break;
      case "Q": case "q": out += count <= 2 ? pad(Math.ceil(f.month / 3), count) : `Q${Math.ceil(f.month / 3)}`; break;
      case "X": out += offsetText(f.offsetMinutes, count === 1 ? "X" : count === 2 ? "XX" : "XXX"); break;
      case "x": out += offsetText(f.offsetMinutes, count === 1 ? "x" : count === 2 ? "xx" : "xxx"); break;
      case "Z": out += count <= 3 ? offsetText(f.offsetMinutes, "Z") : count === 4 ? offsetText(f.offsetMinutes, "ZZZZ") : offsetText(f.offsetMinutes, "XXX"); break;
      case "O": out += offsetText(f.offsetMinutes, count === 4 ? "ZZZZ" : "O"); break;
      case "V": out += FIXED_OFFSET.test(f.zone) ? offsetText(f.offsetMinutes, "xxx") : f.zone; break;
      case "z": out += f.offsetMinutes === 0 && (f.zone === "UTC" || f.zone === "GMT") ? f.zone : zoneShortName(f.zone, f); break;
      default: throw new EvalFailure(`Unsupported letter '${letter}' in date pattern '${pattern}'`);
    }
  }
  return out;
}

function zoneShortName(zone: string, f: Fields): string {
  if (FIXED_OFFSET.test(zone)) return offsetText(f.offsetMinutes, "ZZZZ");
  const parts = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "short" }).formatToParts(new Date(Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute) - f.offsetMinutes * 60_000));
  return parts.find((p) => p.type === "timeZoneName")?.value ?? zone;
}

/** Reads `text` with a Java pattern (numeric fields, month names, offsets, quoted literals). */
function parseWithPattern(text: string, pattern: string, zone: string): ZonedInstant {
  const groups: string[] = [];
  let re = "";
  for (const run of patternRuns(pattern)) {
    if ("text" in run) {
      re += run.text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      continue;
    }
    const { letter, count } = run;
    groups.push(letter + (letter === "M" && count >= 3 ? "name" : ""));
    if (letter === "M" && count >= 3) re += "([A-Za-z]+)";
    else if (letter === "a") re += "(AM|PM|am|pm)";
    else if (letter === "E") re += "([A-Za-z]+)";
    else if ("XxZ".includes(letter)) re += "(Z|[+-]\\d{2}(?::?\\d{2})?)";
    else if (letter === "S") re += `(\\d{${count}})`;
    else if ("yudHhkKmsMD".includes(letter)) re += count === 1 ? "(\\d+)" : `(\\d{${count}})`;
    else throw new EvalFailure(`Unsupported letter '${letter}' in date pattern '${pattern}'`);
  }
  const m = new RegExp(`^${re}$`).exec(text);
  if (!m) throw new EvalFailure(`'${text}' does not match the date format '${pattern}'`);
  let year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0, nanos = 0;
  let pm: boolean | undefined;
  let offset: number | undefined;
  groups.forEach((g, i) => {
    const v = m[i + 1];
    switch (g) {
      case "y": case "u": year = v.length === 2 ? 2000 + Number(v) : Number(v); break;
      case "M": month = Number(v); break;
      case "Mname": {
        const idx = MONTHS.findIndex((n) => n.toLowerCase().startsWith(v.toLowerCase().slice(0, 3)));
        if (idx < 0) throw new EvalFailure(`Unknown month '${v}'`);
        month = idx + 1;
        break;
      }
      case "d": day = Number(v); break;
      case "H": case "k": hour = Number(v) % 24; break;
      case "h": case "K": hour = Number(v) % 12; break;
      case "m": minute = Number(v); break;
      case "s": second = Number(v); break;
      case "S": nanos = Number(v.padEnd(9, "0")); break;
      case "a": pm = v.toUpperCase() === "PM"; break;
      case "X": case "x": case "Z": offset = parseOffset(v); break;
      default: break;
    }
  });
  if (pm) hour += 12;
  const local = Date.UTC(year, month - 1, day, hour, minute, second);
  const epochMs = offset === undefined ? fromLocal(local, zone) : local - offset * 60_000;
  return { epochSecond: Math.floor(epochMs / 1000), nanos, zone };
}

const FIXED_UNITS: Record<string, number> = {
  NANOS: 1e-6, MICROS: 1e-3, MILLIS: 1, SECONDS: 1000, MINUTES: 60_000, HOURS: 3_600_000, HALF_DAYS: 43_200_000,
};
const CALENDAR_UNITS: Record<string, { months?: number; days?: number }> = {
  DAYS: { days: 1 }, WEEKS: { days: 7 }, MONTHS: { months: 1 }, YEARS: { months: 12 }, DECADES: { months: 120 }, CENTURIES: { months: 1200 }, MILLENNIA: { months: 12000 },
};

/** Adds `amount` ChronoUnits (`SECONDS`, `DAYS`, `MONTHS`…); calendar units keep the local time. */
export function addToZoned(z: ZonedInstant, amount: number, unit: string): ZonedInstant {
  const u = unit.toUpperCase();
  if (!Number.isInteger(amount)) throw new EvalFailure(`dateAdd expects a whole amount, got ${amount}`);
  const fixed = FIXED_UNITS[u];
  if (fixed !== undefined) {
    if (u === "NANOS" || u === "MICROS") {
      const totalNanos = z.nanos + amount * (u === "NANOS" ? 1 : 1000);
      const carry = Math.floor(totalNanos / 1e9);
      return { ...z, epochSecond: z.epochSecond + carry, nanos: totalNanos - carry * 1e9 };
    }
    const ms = amount * fixed;
    const totalMs = z.epochSecond * 1000 + Math.floor(z.nanos / 1e6) + ms;
    const subMs = z.nanos % 1e6;
    const sec = Math.floor(totalMs / 1000);
    return { ...z, epochSecond: sec, nanos: (totalMs - sec * 1000) * 1e6 + subMs };
  }
  const cal = CALENDAR_UNITS[u];
  if (!cal) throw new EvalFailure(`Unknown time unit '${unit}' (use NANOS, MICROS, MILLIS, SECONDS, MINUTES, HOURS, HALF_DAYS, DAYS, WEEKS, MONTHS, YEARS…)`);
  const f = fields(z);
  let { year, month, day } = f;
  if (cal.months) {
    const total = year * 12 + (month - 1) + cal.months * amount;
    year = Math.floor(total / 12);
    month = total - year * 12 + 1;
    const lastDay = new Date(Date.UTC(year, month, 0)).getUTCDate();
    day = Math.min(day, lastDay);
  }
  let local = Date.UTC(year, month - 1, day, f.hour, f.minute, f.second);
  if (cal.days) local += cal.days * amount * 86_400_000;
  const epochMs = fromLocal(local, z.zone);
  return { ...z, epochSecond: Math.floor(epochMs / 1000) };
}
