import { createHash } from "node:crypto";
import { stringify as yamlStringify } from "yaml";
import { addToZoned, checkZone, formatDate, toZoned } from "./dates.js";
import { EvalFailure } from "./expression-error.js";
import { runJq } from "./jq.js";
import { checkLength, spendIterations, type Runtime } from "./runtime.js";
import { compareValues, deepEquals, isEmptyValue, isPlainMap, safeSet, toJson, toNumber, toOutput, typeName, type PlainMap } from "./values.js";

/**
 * A filter: `params` names its arguments in order so both `date('yyyy', 'UTC')` and
 * `date(format='yyyy', timeZone='UTC')` work; `args` arrives in that order (undefined when absent).
 */
export interface FilterDef {
  params: readonly string[];
  /** Called for null input too when set; otherwise a null input gives null, as in Pebble. */
  acceptsNull?: boolean;
  apply(input: unknown, args: unknown[], rt: Runtime): unknown;
}

const str = (v: unknown, what: string): string => {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return toOutput(v);
  throw new EvalFailure(`${what} expects a string, got ${typeName(v)}`);
};
const list = (v: unknown, what: string): unknown[] => {
  if (Array.isArray(v)) return v;
  throw new EvalFailure(`${what} expects a list, got ${typeName(v)}`);
};
const int = (v: unknown, what: string): number => {
  const n = toNumber(v, what);
  if (!Number.isInteger(n)) throw new EvalFailure(`${what} expects a whole number, got ${n}`);
  return n;
};
const optStr = (v: unknown, what: string): string | undefined => (v === undefined || v === null ? undefined : str(v, what));

function zoneArg(v: unknown): string {
  return v === undefined || v === null ? "UTC" : checkZone(str(v, "timeZone"));
}

function sortValues(items: unknown[]): unknown[] {
  return [...items].sort((a, b) => compareValues(a, b, "sort"));
}

function splitJava(s: string, delimiter: string, limit: number): string[] {
  if (delimiter === "") return [...s];
  let parts = s.split(delimiter);
  if (limit > 0 && parts.length > limit) parts = [...parts.slice(0, limit - 1), parts.slice(limit - 1).join(delimiter)];
  if (limit === 0) while (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
  return parts;
}

function javaUrlEncode(s: string): string {
  return encodeURIComponent(s).replace(/%20/g, "+").replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function slugify(s: string): string {
  return s.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
}

function hash(algo: string): FilterDef {
  return { params: [], apply: (input) => createHash(algo).update(str(input, algo)).digest("hex") };
}

function substring(after: boolean, last: boolean): FilterDef {
  return {
    params: ["separator"],
    apply(input, [sep]) {
      const s = str(input, "substring");
      const separator = str(sep, "separator");
      const i = last ? s.lastIndexOf(separator) : s.indexOf(separator);
      if (after) return i < 0 ? "" : s.slice(i + separator.length);
      return i < 0 ? s : s.slice(0, i);
    },
  };
}

function timestamp(divisorNanos: bigint): FilterDef {
  return {
    params: ["timeZone", "existingFormat"],
    apply(input, [tz, existing]) {
      const z = toZoned(input, zoneArg(tz), optStr(existing, "existingFormat"));
      const total = BigInt(z.epochSecond) * 1_000_000_000n + BigInt(z.nanos);
      const q = total / divisorNanos;
      const floored = total < 0n && total % divisorNanos !== 0n ? q - 1n : q;
      // Nanoseconds overflow exact JS numbers; they stay a bigint (printed exactly).
      return divisorNanos === 1n ? floored : Number(floored);
    },
  };
}

function indent(newlineFirst: boolean): FilterDef {
  return {
    params: ["amount", "prefix"],
    apply(input, [amount, prefix]) {
      const s = str(input, "indent");
      const pad = (prefix === undefined ? " " : str(prefix, "prefix")).repeat(int(amount, "indent"));
      const lines = s.split("\n");
      const body = lines.map((l, i) => (i === 0 && !newlineFirst ? l : l.length > 0 ? pad + l : l)).join("\n");
      return newlineFirst ? `\n${body}` : body;
    },
  };
}

const dateFilter: FilterDef = {
  params: ["format", "timeZone", "existingFormat", "locale"],
  apply(input, [format, tz, existing, locale]) {
    const z = toZoned(input, zoneArg(tz), optStr(existing, "existingFormat"));
    return formatDate(z, format === undefined || format === null ? "iso" : str(format, "format"), optStr(locale, "locale"));
  },
};

export const FILTERS: Record<string, FilterDef> = {
  abbreviate: {
    params: ["length"],
    apply(input, [len]) {
      const s = str(input, "abbreviate");
      const n = int(len, "abbreviate");
      if (s.length <= n) return s;
      return n <= 3 ? s.slice(0, n) : `${s.slice(0, n - 3)}...`;
    },
  },
  abs: { params: [], apply: (input) => Math.abs(toNumber(input, "abs")) },
  base64encode: { params: [], apply: (input) => Buffer.from(str(input, "base64encode"), "utf8").toString("base64") },
  base64decode: {
    params: [],
    apply(input) {
      const s = str(input, "base64decode").trim();
      if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(s)) throw new EvalFailure("base64decode: the input is not valid base64");
      return Buffer.from(s, "base64").toString("utf8");
    },
  },
  capitalize: { params: [], apply: (input) => { const s = str(input, "capitalize"); return s.charAt(0).toUpperCase() + s.slice(1); } },
  chunk: {
    params: ["size"],
    apply(input, [size], rt) {
      const items = list(input, "chunk");
      const n = int(size, "chunk");
      if (n < 1) throw new EvalFailure("chunk size must be at least 1");
      spendIterations(rt, Math.ceil(items.length / n));
      const out: unknown[][] = [];
      for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
      return out;
    },
  },
  date: dateFilter,
  dateAdd: {
    params: ["amount", "unit", "format", "timeZone", "existingFormat", "locale"],
    apply(input, [amount, unit, format, tz, existing, locale]) {
      const z = addToZoned(toZoned(input, zoneArg(tz), optStr(existing, "existingFormat")), int(amount, "dateAdd"), str(unit, "dateAdd unit"));
      return formatDate(z, format === undefined || format === null ? "iso" : str(format, "format"), optStr(locale, "locale"));
    },
  },
  timestamp: timestamp(1_000_000_000n),
  timestampMilli: timestamp(1_000_000n),
  timestampMicro: timestamp(1_000n),
  timestampNano: timestamp(1n),
  default: {
    params: ["default"],
    acceptsNull: true,
    apply: (input, [fallback]) => (isEmptyValue(input) ? fallback ?? null : input),
  },
  distinct: { params: [], apply: (input) => list(input, "distinct").filter((v, i, a) => a.findIndex((w) => deepEquals(v, w)) === i) },
  endsWith: { params: ["value"], apply: (input, [v]) => str(input, "endsWith").endsWith(str(v, "endsWith")) },
  startsWith: { params: ["value"], apply: (input, [v]) => str(input, "startsWith").startsWith(str(v, "startsWith")) },
  escapeChar: {
    params: ["type"],
    apply(input, [type]) {
      const s = str(input, "escapeChar");
      switch (type === undefined ? "single" : str(type, "escapeChar type")) {
        case "single": return s.replace(/\\/g, "\\\\").replace(/'/g, "\\'");
        case "double": return s.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
        case "shell": return s.replace(/'/g, "'\\''");
        default: throw new EvalFailure("escapeChar type must be 'single', 'double' or 'shell'");
      }
    },
  },
  first: {
    params: [],
    apply(input) {
      if (typeof input === "string" || Array.isArray(input)) return input.length > 0 ? input[0] : null;
      if (isPlainMap(input)) return Object.values(input)[0] ?? null;
      throw new EvalFailure(`first expects a list or a string, got ${typeName(input)}`);
    },
  },
  last: {
    params: [],
    apply(input) {
      if (typeof input === "string" || Array.isArray(input)) return input.length > 0 ? input[input.length - 1] : null;
      if (isPlainMap(input)) return Object.values(input).at(-1) ?? null;
      throw new EvalFailure(`last expects a list or a string, got ${typeName(input)}`);
    },
  },
  flatten: { params: [], apply: (input) => list(input, "flatten").flatMap((v) => (Array.isArray(v) ? v : [v])) },
  indent: indent(false),
  nindent: indent(true),
  join: {
    params: ["separator"],
    apply: (input, [sep]) => list(input, "join").map(toOutput).join(sep === undefined ? "" : str(sep, "join separator")),
  },
  jq: {
    params: ["expression"],
    acceptsNull: true,
    apply(input, [expr]) {
      let data = input;
      if (typeof input === "string" && /^\s*[[{"]/.test(input)) {
        try {
          data = JSON.parse(input) as unknown;
        } catch {
          data = input;
        }
      }
      return runJq(data, str(expr, "jq expression"));
    },
  },
  json: { params: [], acceptsNull: true, apply: (input) => toJson(input ?? null) },
  toJson: { params: [], acceptsNull: true, apply: (input) => toJson(input ?? null) },
  yaml: { params: [], acceptsNull: true, apply: (input) => yamlStringify(input ?? null) },
  toYaml: { params: [], acceptsNull: true, apply: (input) => yamlStringify(input ?? null) },
  keys: {
    params: [],
    apply(input) {
      if (isPlainMap(input)) return Object.keys(input);
      if (Array.isArray(input)) return input.map((_v, i) => i);
      throw new EvalFailure(`keys expects a map, got ${typeName(input)}`);
    },
  },
  values: {
    params: [],
    apply(input) {
      if (isPlainMap(input)) return Object.values(input);
      if (Array.isArray(input)) return input;
      throw new EvalFailure(`values expects a map, got ${typeName(input)}`);
    },
  },
  length: {
    params: [],
    acceptsNull: true,
    apply(input) {
      if (input === null || input === undefined) return 0;
      if (typeof input === "string" || Array.isArray(input)) return input.length;
      if (isPlainMap(input)) return Object.keys(input).length;
      throw new EvalFailure(`length expects a string, a list or a map, got ${typeName(input)}`);
    },
  },
  lower: { params: [], apply: (input) => str(input, "lower").toLowerCase() },
  upper: { params: [], apply: (input) => str(input, "upper").toUpperCase() },
  title: { params: [], apply: (input) => str(input, "title").replace(/(^|\s)(\S)/g, (_m, sp: string, c: string) => sp + c.toUpperCase()) },
  trim: { params: [], apply: (input) => str(input, "trim").trim() },
  string: { params: [], acceptsNull: true, apply: (input) => toOutput(input) },
  md5: hash("md5"),
  sha1: hash("sha1"),
  sha256: hash("sha256"),
  sha512: hash("sha512"),
  merge: {
    params: ["items"],
    apply(input, [items]) {
      if (Array.isArray(input)) return [...input, ...(Array.isArray(items) ? items : [items])];
      if (isPlainMap(input) && isPlainMap(items)) {
        const out: PlainMap = {};
        for (const [k, v] of Object.entries(input)) safeSet(out, k, v);
        for (const [k, v] of Object.entries(items)) safeSet(out, k, v);
        return out;
      }
      throw new EvalFailure(`merge expects two lists or two maps, got ${typeName(input)} and ${typeName(items)}`);
    },
  },
  number: {
    params: ["type"],
    apply(input, [type]) {
      const s = typeof input === "number" ? String(input) : str(input, "number").trim();
      const n = /^[+-]?0x[0-9a-f]+$/i.test(s) ? (s.startsWith("-") ? -1 : 1) * parseInt(s.replace(/^[+-]/, ""), 16) : Number(s);
      if (s === "" || Number.isNaN(n)) throw new EvalFailure(`number: '${s}' is not a number`);
      const t = type === undefined || type === null ? undefined : str(type, "number type").toUpperCase();
      if (t === "INT" || t === "LONG" || t === "BIGINTEGER") return Math.trunc(n);
      if (t !== undefined && !["FLOAT", "DOUBLE", "BIGDECIMAL"].includes(t)) throw new EvalFailure(`number: unknown type '${t}' (INT, LONG, FLOAT, DOUBLE, BIGDECIMAL, BIGINTEGER)`);
      return n;
    },
  },
  replace: {
    params: ["replace_pairs", "replacement", "regexp"],
    apply(input, [pairs, replacement, regexp], rt) {
      let s = str(input, "replace");
      const entries: Array<[string, string]> = isPlainMap(pairs)
        ? Object.entries(pairs).map(([k, v]) => [k, toOutput(v)])
        : [[str(pairs, "replace"), replacement === undefined ? "" : toOutput(replacement)]];
      const useRegex = regexp === true || (isPlainMap(pairs) && replacement === true);
      for (const [from, to] of entries) {
        if (useRegex) {
          let re: RegExp;
          try {
            re = new RegExp(from, "g");
          } catch (e) {
            throw new EvalFailure(`replace: invalid regular expression '${from}': ${(e as Error).message}`);
          }
          s = s.replace(re, to.replace(/\$(\d)/g, "$$$1"));
        } else {
          s = s.split(from).join(to);
        }
        checkLength(rt, s);
      }
      return s;
    },
  },
  reverse: {
    params: [],
    apply(input) {
      if (Array.isArray(input)) return [...input].reverse();
      if (typeof input === "string") return [...input].reverse().join("");
      throw new EvalFailure(`reverse expects a list or a string, got ${typeName(input)}`);
    },
  },
  sort: { params: [], apply: (input) => sortValues(list(input, "sort")) },
  rsort: { params: [], apply: (input) => sortValues(list(input, "rsort")).reverse() },
  slice: {
    params: ["fromIndex", "toIndex"],
    apply(input, [from, to]) {
      if (typeof input !== "string" && !Array.isArray(input)) throw new EvalFailure(`slice expects a list or a string, got ${typeName(input)}`);
      const a = from === undefined ? 0 : int(from, "slice");
      const b = to === undefined ? input.length : int(to, "slice");
      if (a < 0 || b > input.length || a > b) throw new EvalFailure(`slice(${a}, ${b}) is out of bounds for length ${input.length}`);
      return input.slice(a, b);
    },
  },
  slugify: { params: [], apply: (input) => slugify(str(input, "slugify")) },
  split: {
    params: ["delimiter", "limit"],
    apply: (input, [delim, limit]) => splitJava(str(input, "split"), str(delim, "split delimiter"), limit === undefined ? 0 : int(limit, "split limit")),
  },
  substringAfter: substring(true, false),
  substringAfterLast: substring(true, true),
  substringBefore: substring(false, false),
  substringBeforeLast: substring(false, true),
  urlencode: { params: [], apply: (input) => javaUrlEncode(str(input, "urlencode")) },
  urldecode: {
    params: [],
    apply(input) {
      try {
        return decodeURIComponent(str(input, "urldecode").replace(/\+/g, " "));
      } catch {
        throw new EvalFailure("urldecode: the input is not valid URL encoding");
      }
    },
  },
};
FILTERS.unique = FILTERS.distinct;
