import { parse as yamlParse } from "yaml";
import { checkZone, formatDate, fromEpochMillis } from "./dates.js";
import { EvalFailure } from "./expression-error.js";
import { spendIterations, type Runtime } from "./runtime.js";
import { compareValues, getAttribute, isPlainMap, toNumber, typeName, type Lookup } from "./values.js";

/** What a function body may use besides its arguments. */
export interface FunctionContext {
  rt: Runtime;
  /** Reads a variable visible at the call site (undefined when it does not exist). */
  lookup(name: string): Lookup;
  /** Renders a template string with the variables visible at the call site. */
  renderNested(template: string): string;
}

export interface FunctionDef {
  params: readonly string[];
  /** Accepts any number of positional arguments (`max(a, b, c)`). */
  variadic?: boolean;
  call(args: unknown[], ctx: FunctionContext): unknown;
}

const str = (v: unknown, what: string): string => {
  if (typeof v === "string") return v;
  throw new EvalFailure(`${what} expects a string, got ${typeName(v)}`);
};

function need<K extends keyof Runtime["services"]>(rt: Runtime, name: K, fn: string): NonNullable<Runtime["services"][K]> {
  const svc = rt.services[name];
  if (!svc) throw new EvalFailure(`${fn}() is not available here`);
  return svc as NonNullable<Runtime["services"][K]>;
}

function parseJson(v: unknown, fn: string): unknown {
  if (v === null || v === undefined) return null;
  try {
    return JSON.parse(str(v, fn)) as unknown;
  } catch (e) {
    if (e instanceof EvalFailure) throw e;
    throw new EvalFailure(`${fn}(): invalid JSON: ${(e as Error).message}`);
  }
}

function extreme(args: unknown[], sign: 1 | -1, fn: string): unknown {
  const items = args.length === 1 && Array.isArray(args[0]) ? args[0] : args;
  if (items.length === 0) throw new EvalFailure(`${fn}() needs at least one value`);
  return items.reduce((best, v) => (compareValues(v, best, fn) * sign > 0 ? v : best));
}

const MAX_RENDER_PASSES = 20;

export const FUNCTIONS: Record<string, FunctionDef> = {
  now: {
    params: ["format", "timeZone", "existingFormat", "locale"],
    call([format, tz, _existing, locale], { rt }) {
      const zone = tz === undefined || tz === null ? "UTC" : checkZone(str(tz, "now timeZone"));
      const ms = rt.services.now ? rt.services.now() : Date.now();
      return formatDate(fromEpochMillis(ms, zone), format === undefined || format === null ? "iso" : str(format, "now format"), typeof locale === "string" ? locale : undefined);
    },
  },
  json: { params: ["json"], call: ([v]) => parseJson(v, "json") },
  fromJson: { params: ["json"], call: ([v]) => parseJson(v, "fromJson") },
  yaml: {
    params: ["yaml"],
    call([v]) {
      if (v === null || v === undefined) return null;
      try {
        return yamlParse(str(v, "yaml")) as unknown;
      } catch (e) {
        if (e instanceof EvalFailure) throw e;
        throw new EvalFailure(`yaml(): invalid YAML: ${(e as Error).message}`);
      }
    },
  },
  fromYaml: { params: ["yaml"], call: (args, ctx) => FUNCTIONS.yaml.call(args, ctx) },
  render: {
    params: ["toRender", "recursive"],
    call([v, recursive], ctx) {
      if (typeof v !== "string") return v ?? null;
      let current = v;
      // Recursive rendering stops when a pass changes nothing (Kestra's semantics), bounded.
      for (let pass = 0; pass < MAX_RENDER_PASSES; pass++) {
        const next = ctx.renderNested(current);
        if (recursive === false || next === current) return next;
        current = next;
      }
      throw new EvalFailure(`render() did not settle after ${MAX_RENDER_PASSES} passes`);
    },
  },
  renderOnce: { params: ["toRender"], call: ([v], ctx) => (typeof v === "string" ? ctx.renderNested(v) : v ?? null) },
  read: { params: ["path"], call: ([p], { rt }) => need(rt, "read", "read")(str(p, "read")) },
  secret: {
    params: ["key"],
    call([key], { rt }) {
      const name = str(key, "secret");
      const value = need(rt, "secret", "secret")(name);
      if (value === undefined) throw new EvalFailure(`Cannot find secret '${name}'`);
      return value;
    },
  },
  kv: {
    params: ["key", "namespace", "errorOnMissing"],
    call([key, ns, errorOnMissing], { rt }) {
      const k = str(key, "kv");
      const value = need(rt, "kv", "kv")(k, ns === undefined || ns === null ? undefined : str(ns, "kv namespace"));
      if (value === undefined) {
        if (errorOnMissing === false) return null;
        throw new EvalFailure(`Cannot find the KV pair '${k}'`);
      }
      return value;
    },
  },
  errorLogs: { params: [], call: (_a, { rt }) => need(rt, "errorLogs", "errorLogs")() },
  uuid: { params: [], call: (_a, { rt }) => (rt.services.uuid ? rt.services.uuid() : crypto.randomUUID()) },
  currentEachOutput: {
    params: ["outputs"],
    call([outputs], { lookup }) {
      if (!isPlainMap(outputs)) throw new EvalFailure("currentEachOutput() expects the outputs of a task inside a ForEach");
      const valueOf = (holder: unknown): unknown => {
        const tr = getAttribute(holder, "taskrun");
        if (!tr.found) return undefined;
        const v = getAttribute(tr.value, "value");
        return v.found ? v.value : undefined;
      };
      let current: unknown = outputs;
      const parents = lookup("parents");
      if (parents.found && Array.isArray(parents.value)) {
        // `parents` lists the closest parent first; outputs nest from the outermost loop in.
        for (const parent of [...parents.value].reverse()) {
          const v = valueOf(parent);
          if (v === undefined || v === null) continue;
          const next = getAttribute(current, String(v));
          if (!next.found || next.value === null) throw new EvalFailure("No outputs for the current task run path");
          current = next.value;
        }
      }
      const tr = lookup("taskrun");
      const v = tr.found ? valueOf({ taskrun: tr.value }) : undefined;
      if (v === undefined || v === null) throw new EvalFailure("currentEachOutput() can only be used inside a ForEach (taskrun.value is not set)");
      const found = getAttribute(current, String(v));
      return found.found ? found.value : null;
    },
  },
  range: {
    params: ["start", "end", "increment"],
    call([a, b, step], { rt }) {
      return makeRange(toNumber(a, "range"), toNumber(b, "range"), step === undefined ? 1 : toNumber(step, "range"), rt);
    },
  },
  max: { params: [], variadic: true, call: (args) => extreme(args, 1, "max") },
  min: { params: [], variadic: true, call: (args) => extreme(args, -1, "min") },
};

/** Pebble's inclusive range (`1..5`, `range(1, 5)`), paid for from the iteration budget. */
export function makeRange(start: number, end: number, step: number, rt: Runtime): number[] {
  if (!Number.isFinite(start) || !Number.isFinite(end) || !Number.isFinite(step)) throw new EvalFailure("range() needs finite numbers");
  if (step === 0) throw new EvalFailure("range() step cannot be 0");
  const count = Math.max(0, Math.floor((end - start) / step) + 1);
  spendIterations(rt, count);
  const out: number[] = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = start + i * step;
  return out;
}

