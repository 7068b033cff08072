import { EvalFailure } from "./expression-error.js";

/** Keys that would reach prototypes or constructors; never readable, never writable. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["constructor", "__proto__", "prototype", "__defineGetter__", "__defineSetter__", "__lookupGetter__", "__lookupSetter__"]);

export type PlainMap = Record<string, unknown>;

/** True for `{}`-style objects (Object.prototype or null prototype): the only maps templates see. */
export function isPlainMap(v: unknown): v is PlainMap {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Result of a safe attribute read: `found` false means "undefined" (strict mode decides what to do). */
export type Lookup = { found: true; value: unknown } | { found: false };
const NOT_FOUND: Lookup = { found: false };

/**
 * Reads `key` of `obj` the only ways templates may: own properties of plain maps, indexes of
 * lists and strings. Prototype keys and function values are refused with an error.
 */
export function getAttribute(obj: unknown, key: unknown): Lookup {
  if (typeof key === "string" && FORBIDDEN_KEYS.has(key)) throw new EvalFailure(`Access to '${key}' is not allowed`);
  if (obj === null || obj === undefined) return NOT_FOUND;
  if (Array.isArray(obj) || typeof obj === "string") {
    const idx = typeof key === "number" ? key : typeof key === "string" && /^-?\d+$/.test(key) ? Number(key) : NaN;
    if (!Number.isInteger(idx)) return NOT_FOUND;
    const i = idx < 0 ? obj.length + idx : idx;
    if (i < 0 || i >= obj.length) return NOT_FOUND;
    return { found: true, value: checkValue(obj[i]) };
  }
  if (isPlainMap(obj)) {
    const k = typeof key === "string" ? key : typeof key === "number" || typeof key === "boolean" ? String(key) : undefined;
    if (k === undefined) throw new EvalFailure(`A map key must be a string or a number, not ${typeName(key)}`);
    if (!Object.hasOwn(obj, k)) return NOT_FOUND;
    return { found: true, value: checkValue(obj[k]) };
  }
  if (typeof obj === "function") throw new EvalFailure("Functions are not accessible from templates");
  throw new EvalFailure(`Cannot read attribute '${String(key)}' of a ${typeName(obj)}`);
}

/** Refuses values templates must never hold (functions, symbols). */
export function checkValue(v: unknown): unknown {
  if (typeof v === "function") throw new EvalFailure("Functions are not accessible from templates");
  if (typeof v === "symbol") throw new EvalFailure("Symbols are not accessible from templates");
  return v;
}

/** Sets `key` on a fresh map without ever touching a prototype. */
export function safeSet(target: PlainMap, key: string, value: unknown): void {
  if (FORBIDDEN_KEYS.has(key)) throw new EvalFailure(`The key '${key}' is not allowed`);
  target[key] = value;
}

/** A readable type name for error messages. */
export function typeName(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  if (Array.isArray(v)) return "list";
  if (isPlainMap(v)) return "map";
  if (typeof v === "object") return (v as object).constructor?.name ?? "object";
  return typeof v;
}

/** Prints a number the way Pebble prints longs and doubles (no exponent for ordinary values). */
export function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return n.toFixed(0);
  return String(n);
}

/** Serialises lists and maps the way Kestra's output writer does (compact JSON). */
export function toJson(v: unknown, pretty = false): string {
  const out = JSON.stringify(v, (_k, val: unknown) => (typeof val === "bigint" ? Number(val) : val), pretty ? 2 : undefined);
  return out === undefined ? "null" : out;
}

/** How a value prints inside a template: null prints nothing, lists and maps print as JSON. */
export function toOutput(v: unknown): string {
  switch (typeof v) {
    case "string": return v;
    case "number": return formatNumber(v);
    case "boolean": return v ? "true" : "false";
    case "bigint": return v.toString();
    case "undefined": return "";
    default:
      if (v === null) return "";
      if (v instanceof Date) return v.toISOString();
      return toJson(v);
  }
}

const FALSY_STRINGS = new Set(["", "false", "0", "-0"]);

/** Pebble/Kestra truthiness: "false", "0", "" and blanks are false; empty lists and maps are false. */
export function isTruthy(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0 && !Number.isNaN(value);
  if (typeof value === "bigint") return value !== 0n;
  if (typeof value === "string") return !FALSY_STRINGS.has(value.trim().toLowerCase());
  if (Array.isArray(value)) return value.length > 0;
  if (isPlainMap(value)) return Object.keys(value).length > 0;
  return true;
}

/** Pebble equality: numbers compare by value, lists and maps deeply, everything else strictly. */
export function deepEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return (a ?? null) === (b ?? null);
  if (typeof a === "bigint" || typeof b === "bigint") return Number(a) === Number(b);
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEquals(a[i], b[i])) return false;
    return true;
  }
  if (isPlainMap(a)) {
    if (!isPlainMap(b)) return false;
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    for (const k of ka) if (!Object.hasOwn(b, k) || !deepEquals(a[k], b[k])) return false;
    return true;
  }
  return false;
}

/** Converts to a number for arithmetic and ordering; numeric strings count, other values fail. */
export function toNumber(v: unknown, what: string): number {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v))) return Number(v);
  throw new EvalFailure(`${what} expects a number, got ${typeName(v)}${typeof v === "string" ? ` '${truncate(v)}'` : ""}`);
}

/** Orders two values: numbers numerically, strings lexically (ISO dates sort correctly). */
export function compareValues(a: unknown, b: unknown, what: string): number {
  if (typeof a === "string" && typeof b === "string") {
    const na = Number(a);
    const nb = Number(b);
    if (a.trim() !== "" && b.trim() !== "" && !Number.isNaN(na) && !Number.isNaN(nb)) return na - nb;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (a === null || a === undefined || b === null || b === undefined) throw new EvalFailure(`${what} cannot compare ${typeName(a)} with ${typeName(b)}`);
  return toNumber(a, what) - toNumber(b, what);
}

export function truncate(s: string, n = 40): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** Pebble's "empty": null, "", an empty list or an empty map. */
export function isEmptyValue(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (typeof v === "string") return v.length === 0;
  if (Array.isArray(v)) return v.length === 0;
  if (isPlainMap(v)) return Object.keys(v).length === 0;
  return false;
}
