import { z } from "zod";
import { show } from "./primitives.js";
import { closestNames } from "./suggest.js";
import type { PathSegment } from "./yaml-source.js";

/** One problem found in a value, before it is given a YAML position. */
export interface RawIssue {
  path: PathSegment[];
  message: string;
  code: string;
  /** Point at the key of the last path segment rather than at its value. */
  atKey?: boolean;
}

const TYPE_WORDS: Record<string, string> = {
  string: "a string", number: "a number", int: "a whole number", boolean: "true or false", object: "a map",
  array: "a list", record: "a map", bigint: "a whole number", date: "a date", null: "nothing (null)",
};

/**
 * Per-parse error map: the messages for issues whose schema did not set its own. They say what
 * was expected in plain words.
 */
export const plainErrors: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case "invalid_type":
      return `expected ${TYPE_WORDS[iss.expected] ?? iss.expected}, got ${show(iss.input)}`;
    case "too_small":
      if (iss.origin === "array") return `expected at least ${String(iss.minimum)} item${Number(iss.minimum) === 1 ? "" : "s"}`;
      if (iss.origin === "string") return Number(iss.minimum) === 1 ? "expected a non-empty string" : `expected at least ${String(iss.minimum)} characters`;
      return `expected a number ${iss.inclusive ? "≥" : ">"} ${String(iss.minimum)}, got ${show(iss.input)}`;
    case "too_big":
      if (iss.origin === "array") return `expected at most ${String(iss.maximum)} items`;
      if (iss.origin === "string") return `expected at most ${String(iss.maximum)} characters`;
      return `expected a number ${iss.inclusive ? "≤" : "<"} ${String(iss.maximum)}, got ${show(iss.input)}`;
    case "invalid_value":
      return `expected ${iss.values.length === 1 ? show(iss.values[0]) : `one of ${iss.values.map((v) => String(v)).join(", ")}`}, got ${show(iss.input)}`;
    case "invalid_format":
      return `expected a value in ${iss.format} format, got ${show(iss.input)}`;
    case "not_multiple_of":
      return `expected a multiple of ${String(iss.divisor)}, got ${show(iss.input)}`;
    case "invalid_key":
      return `unexpected key ${show(iss.input)}`;
    case "invalid_element":
      return `unexpected element ${show(iss.input)}`;
    case "invalid_union":
      return UNION_WITHOUT_MESSAGE;
    default:
      return undefined;
  }
};

// Marks a union failure whose schema gave no message: the best branch's issues are shown instead.
const UNION_WITHOUT_MESSAGE = "(no branch of the union matched)";

/** The value at `path` inside `root`, and whether its parent map has that key at all. */
function lookup(root: unknown, path: readonly PathSegment[]): { value: unknown; present: boolean } {
  let cur: unknown = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return { value: undefined, present: false };
    if (!Object.hasOwn(cur, seg)) return { value: undefined, present: false };
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return { value: cur, present: true };
}

/** The object schema that validates the value at `path` (to list the keys it accepts). */
export function schemaAt(schema: z.ZodType, path: readonly PathSegment[], root: unknown): z.ZodObject | undefined {
  let cur: z.ZodType | undefined = schema;
  let value: unknown = root;
  for (let i = 0; i <= path.length && cur; ) {
    if (cur instanceof z.ZodOptional || cur instanceof z.ZodNullable || cur instanceof z.ZodDefault || cur instanceof z.ZodReadonly) {
      cur = cur.unwrap() as z.ZodType;
    } else if (cur instanceof z.ZodPipe) {
      cur = (cur.in instanceof z.ZodTransform ? cur.out : cur.in) as z.ZodType;
    } else if (cur instanceof z.ZodLazy) {
      cur = cur.unwrap() as z.ZodType;
    } else if (cur instanceof z.ZodDiscriminatedUnion) {
      const disc: string = cur.def.discriminator;
      const d: unknown = (value as Record<string, unknown> | undefined)?.[disc];
      const options: z.ZodType[] = cur.options as z.ZodType[];
      cur = options.find((o) => o instanceof z.ZodObject && (o.shape[disc] as z.ZodType | undefined)?.safeParse(d).success);
    } else if (cur instanceof z.ZodUnion) {
      const options = cur.options as z.ZodType[];
      cur = Array.isArray(value) ? options.find((o) => o instanceof z.ZodArray) : options.find((o) => o instanceof z.ZodObject || o instanceof z.ZodRecord) ?? options[0];
    } else if (i === path.length) {
      return cur instanceof z.ZodObject ? cur : undefined;
    } else {
      const seg = path[i++];
      value = value !== null && typeof value === "object" ? (value as Record<string | number, unknown>)[seg] : undefined;
      if (cur instanceof z.ZodObject) cur = cur.shape[String(seg)] as z.ZodType | undefined;
      else if (cur instanceof z.ZodArray) cur = cur.element as z.ZodType;
      else if (cur instanceof z.ZodRecord) cur = cur.valueType as z.ZodType;
      else return undefined;
    }
  }
  return undefined;
}

/** An "unknown property" message naming the closest known key and the accepted ones. */
export function unknownKeyMessage(key: string, known: readonly string[], owner?: string): string {
  const close = closestNames(key, known, 1);
  const hint = close.length ? `; did you mean '${close[0]}'?` : "";
  return `unknown property '${key}'${owner ? ` for ${owner}` : ""}${hint} (expected one of: ${[...new Set(known)].sort().join(", ")})`;
}

/**
 * Turns the issues of a zod parse of `input` into plain-words issues with full paths (prefixed
 * by `prefix`). Missing keys say so; unknown keys name the accepted ones.
 */
export function fromZod(error: z.ZodError, input: unknown, schema: z.ZodType, prefix: PathSegment[] = []): RawIssue[] {
  const out: RawIssue[] = [];
  const visit = (iss: z.core.$ZodIssue, base: PathSegment[]): void => {
    const path = [...base, ...(iss.path as PathSegment[])];
    if (iss.code === "unrecognized_keys") {
      const known = Object.keys(schemaAt(schema, path, input)?.shape ?? {});
      for (const key of iss.keys) {
        out.push({ path: [...prefix, ...path, key], atKey: true, code: "UNKNOWN_PROPERTY", message: known.length ? unknownKeyMessage(key, known) : `unknown property '${key}'` });
      }
      return;
    }
    if (iss.code === "invalid_union" && iss.errors.length && iss.message === UNION_WITHOUT_MESSAGE) {
      // No message of its own: report the branch that got furthest.
      const best = [...iss.errors].sort((a, b) => depth(b) - depth(a))[0];
      for (const sub of best) visit(sub, path);
      return;
    }
    const { present } = lookup(input, path);
    if (iss.code === "invalid_type" && !present && path.length > 0) {
      const key = path[path.length - 1];
      const expected = iss.message.startsWith("expected") ? ` (${iss.message.replace(/, got nothing$/, "")})` : "";
      out.push({ path: [...prefix, ...path], code: "MISSING_PROPERTY", message: `missing required property '${String(key)}'${expected}` });
      return;
    }
    out.push({ path: [...prefix, ...path], code: "INVALID_VALUE", message: iss.message });
  };
  for (const iss of error.issues) visit(iss, []);
  return out;
}

function depth(issues: z.core.$ZodIssue[]): number {
  return Math.max(0, ...issues.map((i) => i.path.length + (i.code === "invalid_type" ? 0 : 0.5)));
}
