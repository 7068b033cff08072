import { parse as parseYaml } from "yaml";
import { renderTyped } from "../expressions/index.js";
import { isDuration, parseDuration } from "./duration.js";
import type { Flow, Input, InputType } from "./flow-types.js";
import { show } from "./primitives.js";

export interface InputIssue {
  /** The input's id. */
  input: string;
  /** What was wrong and what was expected, in plain words (starts with the input id). */
  message: string;
  /** Stable code: INPUT_REQUIRED, INPUT_INVALID. */
  code: string;
}

/** Options of `coerceInputs`. */
export interface CoerceOptions {
  /** The time defaults are rendered at (epoch ms), what `now()` returns in them; default: the clock. */
  now?: number;
  /** Variables a default written as an expression sees (flow, execution, labels…); default none. */
  vars?: Record<string, unknown>;
  /**
   * Renders a default written as an expression (`{{ now() }}`) before it is coerced, as Kestra
   * does. Default: the expression engine (`expressions/index.ts`) with `vars` and `now`.
   */
  render?: (template: string, now: number | undefined) => unknown;
}

type Coerced = { ok: true; value: unknown } | { ok: false; message: string };

const ok = (value: unknown): Coerced => ({ ok: true, value });
const bad = (message: string): Coerced => ({ ok: false, message });

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME_RE = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.(\d{1,9}))?)?$/;
// Offset required: an instant without one is ambiguous, and Kestra refuses it too.
const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})[T ]([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})$/i;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function validDate(y: number, m: number, d: number): boolean {
  const dt = new Date(Date.UTC(y, m - 1, d));
  return dt.getUTCFullYear() === y && dt.getUTCMonth() === m - 1 && dt.getUTCDate() === d;
}

/** Formats an instant like Java's `Instant.toString` (no `.000` when the milliseconds are zero). */
function instantString(ms: number): string {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

function parseDateTime(v: string): number | undefined {
  const m = DATETIME_RE.exec(v.trim());
  if (!m || !validDate(Number(m[1]), Number(m[2]), Number(m[3]))) return undefined;
  const t = Date.parse(v.trim().replace(" ", "T").replace(/([+-]\d{2})(\d{2})$/, "$1:$2"));
  return Number.isNaN(t) ? undefined : t;
}

function timeSeconds(v: string): number | undefined {
  const m = TIME_RE.exec(v);
  if (!m) return undefined;
  return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3] ?? 0) + Number(`0.${m[4] ?? 0}`);
}

function asJsonText(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** Coerces one value to an input type; `def` carries the per-type constraints. */
export function coerceInputValue(def: Pick<Input, "type" | "validator" | "min" | "max" | "after" | "before" | "values" | "allowCustomValue" | "itemType">, value: unknown, type: InputType = def.type): Coerced {
  switch (type) {
    case "STRING":
    case "SECRET": {
      const s = typeof value === "number" || typeof value === "boolean" ? String(value) : value;
      if (typeof s !== "string") return bad(`expected a string, got ${show(value)}`);
      if (def.validator !== undefined) {
        let re: RegExp;
        try {
          re = new RegExp(`^(?:${def.validator})$`, "u");
        } catch {
          return bad(`the validator ${show(def.validator)} is not a valid regular expression`);
        }
        if (!re.test(s)) return bad(`expected a value matching ${show(def.validator)}, got ${type === "SECRET" ? "a secret that does not" : show(s)}`);
      }
      return ok(s);
    }
    case "INT": {
      let n: number;
      if (typeof value === "number") n = value;
      else if (typeof value === "string" && /^[-+]?\d+$/.test(value.trim())) n = Number(value.trim());
      else return bad(`expected a whole number such as 42, got ${show(value)}`);
      if (!Number.isSafeInteger(n)) return bad(`expected a whole number such as 42, got ${show(value)}`);
      return bounds(n, def, show(value));
    }
    case "FLOAT": {
      let n: number;
      if (typeof value === "number") n = value;
      else if (typeof value === "string" && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(value.trim())) n = Number(value.trim());
      else return bad(`expected a number such as 4.2, got ${show(value)}`);
      if (!Number.isFinite(n)) return bad(`expected a finite number, got ${show(value)}`);
      return bounds(n, def, show(value));
    }
    case "BOOLEAN": {
      if (typeof value === "boolean") return ok(value);
      if (typeof value === "string" && /^(true|false)$/i.test(value.trim())) return ok(value.trim().toLowerCase() === "true");
      return bad(`expected true or false, got ${show(value)}`);
    }
    case "DATETIME": {
      const t = typeof value === "string" ? parseDateTime(value) : value instanceof Date ? value.getTime() : undefined;
      if (t === undefined || Number.isNaN(t)) return bad(`expected an ISO-8601 date-time with an offset, such as 2024-01-15T10:00:00Z, got ${show(value)}`);
      for (const [edge, cmp] of [["after", 1], ["before", -1]] as const) {
        const lim = def[edge];
        if (lim === undefined) continue;
        const l = parseDateTime(lim);
        if (l !== undefined && Math.sign(t - l) !== cmp) return bad(`expected a date-time ${edge} ${lim}, got ${show(value)}`);
      }
      return ok(instantString(t));
    }
    case "DATE": {
      const m = typeof value === "string" ? DATE_RE.exec(value.trim()) : null;
      if (!m || !validDate(Number(m[1]), Number(m[2]), Number(m[3]))) return bad(`expected a date such as 2024-01-15, got ${show(value)}`);
      const v = (value as string).trim();
      if (def.after !== undefined && !(v > def.after)) return bad(`expected a date after ${def.after}, got ${show(value)}`);
      if (def.before !== undefined && !(v < def.before)) return bad(`expected a date before ${def.before}, got ${show(value)}`);
      return ok(v);
    }
    case "TIME": {
      const v = typeof value === "string" ? value.trim() : undefined;
      const s = v === undefined ? undefined : timeSeconds(v);
      if (s === undefined) return bad(`expected a time such as 10:15:30, got ${show(value)}`);
      const after = def.after === undefined ? undefined : timeSeconds(def.after);
      const before = def.before === undefined ? undefined : timeSeconds(def.before);
      if (after !== undefined && !(s > after)) return bad(`expected a time after ${def.after}, got ${show(value)}`);
      if (before !== undefined && !(s < before)) return bad(`expected a time before ${def.before}, got ${show(value)}`);
      return ok(v);
    }
    case "DURATION": {
      if (typeof value !== "string" || !isDuration(value)) return bad(`expected an ISO-8601 duration such as PT30S, got ${show(value)}`);
      const ms = parseDuration(value);
      if (typeof def.min === "string" && isDuration(def.min) && ms < parseDuration(def.min)) return bad(`expected a duration of at least ${def.min}, got ${show(value)}`);
      if (typeof def.max === "string" && isDuration(def.max) && ms > parseDuration(def.max)) return bad(`expected a duration of at most ${def.max}, got ${show(value)}`);
      return ok(value.trim());
    }
    case "FILE": {
      if (typeof value !== "string" || !/^lanner:\/\/\/./.test(value)) return bad(`expected a file stored in internal storage (a lanner:/// URI), got ${show(value)}`);
      return ok(value);
    }
    case "JSON": {
      if (typeof value !== "string") return ok(value);
      try {
        return ok(JSON.parse(value));
      } catch (err) {
        return bad(`expected JSON text, got ${show(value)} (${err instanceof Error ? err.message : String(err)})`);
      }
    }
    case "YAML": {
      if (typeof value !== "string") return ok(value);
      try {
        return ok(parseYaml(value));
      } catch (err) {
        return bad(`expected YAML text, got ${show(value)} (${err instanceof Error ? err.message.split("\n")[0] : String(err)})`);
      }
    }
    case "URI": {
      if (typeof value !== "string" || !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(value) || !URL.canParse(value)) return bad(`expected an absolute URI such as https://example.com/path, got ${show(value)}`);
      return ok(value);
    }
    case "EMAIL": {
      if (typeof value !== "string" || !EMAIL_RE.test(value.trim())) return bad(`expected an email address such as ops@example.com, got ${show(value)}`);
      return ok(value.trim());
    }
    case "ARRAY": {
      const arr = asJsonText(value);
      if (!Array.isArray(arr)) return bad(`expected a list (or JSON text of a list), got ${show(value)}`);
      const itemType = def.itemType ?? "STRING";
      const out: unknown[] = [];
      for (let i = 0; i < arr.length; i++) {
        const r = coerceInputValue({ ...def, validator: undefined, values: undefined, min: undefined, max: undefined, itemType: undefined }, arr[i], itemType);
        if (!r.ok) return bad(`item ${i}: ${r.message}`);
        out.push(r.value);
      }
      return ok(out);
    }
    case "SELECT": {
      const s = typeof value === "number" || typeof value === "boolean" ? String(value) : value;
      if (typeof s !== "string") return bad(`expected one of ${(def.values ?? []).join(", ")}, got ${show(value)}`);
      if (!def.allowCustomValue && !(def.values ?? []).includes(s)) return bad(`expected one of ${(def.values ?? []).join(", ")}, got ${show(value)}`);
      return ok(s);
    }
    case "MULTISELECT": {
      const arr = asJsonText(value);
      if (!Array.isArray(arr)) return bad(`expected a list of values among ${(def.values ?? []).join(", ")}, got ${show(value)}`);
      const out: string[] = [];
      for (const item of arr) {
        const s = typeof item === "number" || typeof item === "boolean" ? String(item) : item;
        if (typeof s !== "string" || (!def.allowCustomValue && !(def.values ?? []).includes(s))) {
          return bad(`expected values among ${(def.values ?? []).join(", ")}, got ${show(item)}`);
        }
        out.push(s);
      }
      return ok(out);
    }
  }
}

function bounds(n: number, def: Pick<Input, "min" | "max">, shown: string): Coerced {
  if (typeof def.min === "number" && n < def.min) return bad(`expected a number ≥ ${def.min}, got ${shown}`);
  if (typeof def.max === "number" && n > def.max) return bad(`expected a number ≤ ${def.max}, got ${shown}`);
  return ok(n);
}

function isExpression(v: unknown): v is string {
  return typeof v === "string" && (v.includes("{{") || v.includes("{%"));
}

/** True when a `dependsOn.condition` rendered to true (a boolean, or the text "true"). */
function conditionHolds(value: unknown): boolean {
  return value === true || (typeof value === "string" && value.trim().toLowerCase() === "true");
}

/**
 * Validates and coerces execution inputs against the flow's declared inputs (defaults applied,
 * required checked, types coerced). FILE inputs: value is a storage URI string (lanner:///…) kept
 * as-is. Given inputs the flow does not declare are ignored, as Kestra does. Optional inputs with
 * neither a value nor a default are left out of the result. Never throws for bad values.
 *
 * An input with `dependsOn` is resolved after the inputs it depends on, and only when each of
 * them is enabled and has a value and its `condition` (rendered with `inputs` = the inputs
 * resolved so far, over `vars`) is true; otherwise it is skipped: not required, no value, no
 * default applied, a given value ignored. The flow parser refuses cycles and unknown ids; here
 * an input caught in either is skipped, never looped on.
 */
export function coerceInputs(flow: Pick<Flow, "inputs">, given: Record<string, unknown>, opts: CoerceOptions = {}):
  { ok: true; inputs: Record<string, unknown> } | { ok: false; errors: InputIssue[] } {
  const resolved: Record<string, unknown> = {};
  const errors: Array<InputIssue & { index: number }> = [];
  const byId = new Map(flow.inputs.map((def, index) => [def.id, index]));
  /** Per input index: undefined = not yet resolved; true = enabled (resolved, value or not); false = skipped. */
  const enabled: Array<boolean | undefined> = flow.inputs.map(() => undefined);
  const ready = (def: Input) => (def.dependsOn?.inputs ?? []).every((dep) => {
    const i = byId.get(dep);
    return i !== undefined && enabled[i] !== undefined;
  });

  const resolve = (def: Input, index: number): void => {
    const fail = (code: string, message: string) => errors.push({ input: def.id, code, message, index });
    if (def.dependsOn) {
      const depsSet = def.dependsOn.inputs.every((dep) => enabled[byId.get(dep) ?? -1] === true && Object.hasOwn(resolved, dep));
      if (!depsSet) {
        enabled[index] = false;
        return;
      }
      if (def.dependsOn.condition !== undefined) {
        let holds: boolean;
        try {
          const scope = { ...(opts.vars ?? {}), inputs: { ...resolved } };
          holds = conditionHolds(renderTyped(def.dependsOn.condition, scope, { services: { now: () => opts.now ?? Date.now() } }));
        } catch (err) {
          enabled[index] = false;
          fail("INPUT_INVALID", `${def.id}: the dependsOn condition ${show(def.dependsOn.condition)} could not be rendered: ${err instanceof Error ? err.message : String(err)}`);
          return;
        }
        if (!holds) {
          enabled[index] = false;
          return;
        }
      }
    }
    enabled[index] = true;
    const has = Object.hasOwn(given, def.id) && given[def.id] !== null && given[def.id] !== undefined && given[def.id] !== "";
    let value: unknown;
    if (has) {
      value = given[def.id];
    } else if (def.defaults !== undefined && def.defaults !== null) {
      value = def.defaults;
      if (isExpression(value)) {
        const template = value;
        try {
          value = opts.render
            ? opts.render(template, opts.now)
            : renderTyped(template, opts.vars ?? {}, { services: { now: () => opts.now ?? Date.now() } });
        } catch (err) {
          fail("INPUT_INVALID", `${def.id}: the default ${show(template)} could not be rendered: ${err instanceof Error ? err.message : String(err)}`);
          return;
        }
      }
    } else {
      if (def.required) fail("INPUT_REQUIRED", `${def.id}: a value is required (${describeType(def)})`);
      return;
    }
    const r = coerceInputValue(def, value);
    if (r.ok) resolved[def.id] = r.value;
    else fail("INPUT_INVALID", `${def.id}: ${r.message}`);
  };

  // Dependency order, declaration order among the ready: each pass resolves every input whose
  // dependencies are resolved; a pass that resolves nothing leaves only cycles and unknown ids.
  for (let progress = true; progress; ) {
    progress = false;
    flow.inputs.forEach((def, index) => {
      if (enabled[index] !== undefined || !ready(def)) return;
      resolve(def, index);
      progress = true;
    });
  }

  if (errors.length) return { ok: false, errors: errors.sort((a, b) => a.index - b.index).map(({ index: _index, ...issue }) => issue) };
  // Declaration order, whatever order they were resolved in.
  const inputs: Record<string, unknown> = {};
  for (const def of flow.inputs) if (Object.hasOwn(resolved, def.id)) inputs[def.id] = resolved[def.id];
  return { ok: true, inputs };
}

function describeType(def: Input): string {
  switch (def.type) {
    case "SELECT":
      return `one of ${(def.values ?? []).join(", ")}`;
    case "ARRAY":
      return `a list of ${def.itemType ?? "STRING"}`;
    default:
      return `type ${def.type}`;
  }
}
