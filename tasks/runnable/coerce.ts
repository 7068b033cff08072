import type { Level } from "../../schemas/flow-types.js";
import { LannerError } from "../../common/errors.js";
import { isDuration, parseDuration } from "../../schemas/duration.js";

/*
 * Rendered property values arrive as strings (an expression's output) or as their typed form;
 * these turn them into what a task needs, with an error that names the property.
 */

const LEVELS: readonly Level[] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];

function invalid(property: string, expected: string, got: unknown): LannerError {
  const shown = typeof got === "string" ? JSON.stringify(got) : typeof got;
  return new LannerError("TASK_INVALID_PROPERTY", `${property}: expected ${expected}, got ${shown}`);
}

/** A log level; `WARNING` is accepted for `WARN`. */
export function toLevel(value: unknown, property: string): Level {
  const s = typeof value === "string" ? value.trim().toUpperCase() : value;
  if (s === "WARNING") return "WARN";
  if (typeof s === "string" && (LEVELS as readonly string[]).includes(s)) return s as Level;
  throw invalid(property, `one of ${LEVELS.join(", ")}`, value);
}

/** Text for any rendered value: strings as they are, others as JSON (like Kestra's toString of maps). */
export function toText(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  return JSON.stringify(value);
}

/** A boolean written as such or as "true"/"false". */
export function toBool(value: unknown, property: string): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "string") {
    const s = value.trim().toLowerCase();
    if (s === "true") return true;
    if (s === "false") return false;
  }
  throw invalid(property, "true or false", value);
}

/** A finite number written as such or as a numeric string. */
export function toNumber(value: unknown, property: string): number {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n === "number" && Number.isFinite(n)) return n;
  throw invalid(property, "a number", value);
}

/** A list of strings; a string is an expression that rendered to a JSON list (or one item). */
export function toStringList(value: unknown, property: string): string[] {
  let v = value;
  if (typeof v === "string") {
    const t = v.trim();
    if (!t.startsWith("[")) return [v];
    try {
      v = JSON.parse(t);
    } catch {
      return [value as string];
    }
  }
  if (Array.isArray(v)) return v.map((x) => toText(x));
  throw invalid(property, "a list of strings", value);
}

/** A map of string values; a string is an expression that rendered to a JSON object. */
export function toStringMap(value: unknown, property: string): Record<string, string> {
  let v = value;
  if (typeof v === "string") {
    try {
      v = JSON.parse(v);
    } catch {
      throw invalid(property, "a map (or a JSON object)", value);
    }
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw invalid(property, "a map", value);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) out[k] = toText(x);
  return out;
}

/** Milliseconds in an ISO-8601 duration (`PT5S`, `P1DT2H`, `PT0.5S`), read as Kestra reads them. */
export function parseIsoDuration(value: unknown, property: string): number {
  if (typeof value !== "string" || !isDuration(value)) throw invalid(property, "an ISO-8601 duration such as PT5S", value);
  return parseDuration(value);
}
