import { z } from "zod";
import { LannerError } from "../common/errors.js";
import { registry as defaultRegistry, type TaskRegistry } from "../tasks/registry.js";
import { findCycle } from "../tasks/flowable/dag.js";
import type { TaskDefinition } from "../tasks/types.js";
import { FLOWABLE_BRANCH_KEYS, FlowSchema, PluginDefaultSchema, TASK_COMMON_KEYS, TaskSchema } from "./flow-schema.js";
import type { Flow, PluginDefault, Task, Trigger } from "./flow-types.js";
import { fromZod, plainErrors, type RawIssue, unknownKeyMessage } from "./issue-format.js";
import { applyPluginDefaults } from "./plugin-defaults.js";
import { show } from "./primitives.js";
import { closestNames } from "./suggest.js";
import { TRIGGER_CANONICAL, TRIGGER_SCHEMAS, TriggerSchema } from "./trigger-schema.js";
import { formatPath, type PathSegment, type Position, readYaml } from "./yaml-source.js";

/** One problem in a flow: where (YAML path and 1-based line:column) and what was expected. */
export interface FlowIssue {
  /** The YAML path, like `tasks[1].retry.interval` ("" for the document itself). */
  path: string;
  line: number;
  column: number;
  /** Plain words, starting with the path: `tasks[1].retry.interval: expected an ISO-8601 duration…`. */
  message: string;
  /** Stable code: YAML_SYNTAX, NOT_A_FLOW, MISSING_PROPERTY, UNKNOWN_PROPERTY, INVALID_VALUE, UNKNOWN_TASK_TYPE, UNKNOWN_TRIGGER_TYPE, DUPLICATE_ID. */
  code: string;
}

/** Thrown by `parseFlowOrThrow`: code FLOW_INVALID, `details` is the FlowIssue list. */
export class FlowValidationError extends LannerError {
  declare readonly details: FlowIssue[];

  constructor(issues: FlowIssue[]) {
    const head = issues.slice(0, 5).map((i) => `${i.line}:${i.column}: ${i.message}`).join("\n");
    const more = issues.length > 5 ? `\n(and ${issues.length - 5} more)` : "";
    super("FLOW_INVALID", `the flow is not valid:\n${head}${more}`, { details: issues });
  }
}

// The flow's own fields; tasks and triggers are checked one by one afterwards, against their types.
const FlowShellSchema = FlowSchema.extend({
  tasks: z.array(z.unknown(), { error: (iss) => `expected a list of tasks, got ${show(iss.input)}` }).min(1, { error: "a flow needs at least one task" }),
  errors: z.array(z.unknown(), { error: (iss) => `expected a list of tasks, got ${show(iss.input)}` }).default([]),
  finally: z.array(z.unknown(), { error: (iss) => `expected a list of tasks, got ${show(iss.input)}` }).default([]),
  afterExecution: z.array(z.unknown(), { error: (iss) => `expected a list of tasks, got ${show(iss.input)}` }).default([]),
  triggers: z.array(z.unknown(), { error: (iss) => `expected a list of triggers, got ${show(iss.input)}` }).default([]),
  pluginDefaults: z.array(z.unknown(), { error: (iss) => `expected a list of plugin defaults, got ${show(iss.input)}` }).default([]),
});

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The keys an object schema accepts (unwrapping pipes), or undefined when it is not an object schema. */
function objectKeys(schema: z.ZodType): string[] | undefined {
  let cur: z.ZodType = schema;
  for (let i = 0; i < 5; i++) {
    if (cur instanceof z.ZodObject) return Object.keys(cur.shape);
    if (cur instanceof z.ZodPipe) cur = (cur.in instanceof z.ZodTransform ? cur.out : cur.in) as z.ZodType;
    else return undefined;
  }
  return undefined;
}

/** Everything one parse accumulates while it walks the flow. */
class ParseRun {
  readonly issues: RawIssue[] = [];
  readonly taskIds = new Map<string, PathSegment[]>();
  constructor(
    readonly registry: TaskRegistry,
    readonly pluginDefaults: PluginDefault[],
    readonly locate: (path: readonly PathSegment[], opts?: { key?: boolean }) => Position,
  ) {}

  issue(path: PathSegment[], code: string, message: string, atKey = false): void {
    this.issues.push({ path, code, message, atKey });
  }

  zod<T>(schema: z.ZodType<T>, value: unknown, path: PathSegment[], rename?: Map<string, string>): T | undefined {
    const r = schema.safeParse(value, { error: plainErrors });
    if (r.success) return r.data;
    for (const iss of fromZod(r.error, value, schema)) {
      // Report properties under the name the YAML used, when an alias was rewritten.
      const first = iss.path[0];
      if (rename && typeof first === "string" && rename.has(first)) iss.path[0] = rename.get(first) as string;
      this.issues.push({ ...iss, path: [...path, ...iss.path] });
    }
    return undefined;
  }

  taskList(value: unknown, path: PathSegment[]): Task[] {
    if (!Array.isArray(value)) return [];
    const out: Task[] = [];
    value.forEach((raw, i) => {
      const t = this.task(raw, [...path, i]);
      if (t) out.push(t);
    });
    return out;
  }

  private unknownType(type: string, path: PathSegment[]): void {
    // One suggestion per task type, under the name closest to what was written.
    const byDef = new Map<TaskDefinition, string>();
    for (const name of closestNames(type, this.registry.names(), 10)) {
      const def = this.registry.resolve(name);
      if (def && !byDef.has(def)) byDef.set(def, name);
    }
    const close = [...byDef.values()].slice(0, 3);
    const hint = close.length ? `; did you mean ${close.join(" or ")}?` : " (no known task type has a similar name)";
    this.issue([...path, "type"], "UNKNOWN_TASK_TYPE", `unknown task type '${type}'${hint}`);
  }

  task(raw: unknown, path: PathSegment[]): Task | undefined {
    if (!isMap(raw)) {
      this.issue(path, "INVALID_VALUE", `expected a task (a map with id and type), got ${show(raw)}`);
      return undefined;
    }
    const written = typeof raw.type === "string" ? raw.type : undefined;
    const def = written === undefined ? undefined : this.registry.resolve(written);
    const canonical = def?.types[0];
    const withDefaults = applyPluginDefaults(raw, this.pluginDefaults, canonical, (t) => this.registry.canonical(t));
    const common = this.zod(TaskSchema, withDefaults, path);

    const id = withDefaults.id;
    if (typeof id === "string") {
      const first = this.taskIds.get(id);
      if (first) {
        const at = this.locate(first);
        this.issue([...path, "id"], "DUPLICATE_ID", `duplicate task id '${id}': already used by ${formatPath(first)} at line ${at.line}; task ids must be unique in the whole flow`);
      } else {
        this.taskIds.set(id, path);
      }
    }
    if (written !== undefined && !def) this.unknownType(written, path);
    if (!def) return undefined;

    const flowable = def.kind === "flowable";
    const own: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(withDefaults)) {
      if (!TASK_COMMON_KEYS.has(k) && !(flowable && FLOWABLE_BRANCH_KEYS.has(k))) own[k] = v;
    }
    const normalized = def.normalize ? def.normalize(own, written as string) : own;
    const rename = new Map<string, string>();
    for (const [k, v] of Object.entries(normalized)) {
      if (Object.hasOwn(own, k)) continue;
      const from = Object.keys(own).find((o) => own[o] === v && !Object.hasOwn(normalized, o));
      if (from !== undefined) rename.set(k, from);
    }

    const known = objectKeys(def.properties);
    let props: Record<string, unknown> | undefined;
    if (known) {
      const accepted = new Set(known);
      const checked: Record<string, unknown> = {};
      let unknown = false;
      for (const [k, v] of Object.entries(normalized)) {
        if (accepted.has(k)) checked[k] = v;
        else {
          unknown = true;
          const all = [...known, ...TASK_COMMON_KEYS, ...(flowable ? FLOWABLE_BRANCH_KEYS : [])];
          this.issue([...path, rename.get(k) ?? k], "UNKNOWN_PROPERTY", unknownKeyMessage(k, all, canonical), true);
        }
      }
      props = this.zod(def.properties as z.ZodType<Record<string, unknown>>, checked, path, rename);
      if (unknown) props = undefined;
    } else {
      props = this.zod(def.properties as z.ZodType<Record<string, unknown>>, normalized, path, rename);
    }

    // Children are checked even when this task has other problems, so one run reports them all.
    const children: Record<string, unknown> = {};
    for (const list of def.childTaskLists ?? []) {
      const value = normalized[list];
      const listPath = [...path, rename.get(list) ?? list];
      if (Array.isArray(value)) {
        children[list] = value.map((entry, i) => {
          if (isMap(entry) && Object.hasOwn(entry, "task") && !Object.hasOwn(entry, "type")) {
            return { ...entry, task: this.task(entry.task, [...listPath, i, "task"]) };
          }
          return this.task(entry, [...listPath, i]);
        });
      } else if (isMap(value)) {
        children[list] = Object.fromEntries(Object.entries(value).map(([key, tasks]) => [key, this.taskList(tasks, [...listPath, key])]));
      }
    }
    const branches: Record<string, Task[]> = {};
    if (flowable) {
      for (const key of FLOWABLE_BRANCH_KEYS) {
        const value = withDefaults[key];
        if (value === undefined) continue;
        if (!Array.isArray(value)) this.issue([...path, key], "INVALID_VALUE", `expected a list of tasks, got ${show(value)}`);
        else branches[key] = this.taskList(value, [...path, key]);
      }
    }
    if (!common || !props) return undefined;
    // The common schema lets every key through; keep only the common fields from its output.
    const commonFields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(common)) if (TASK_COMMON_KEYS.has(k) && k !== "id" && k !== "type") commonFields[k] = v;
    return { id: common.id, type: canonical as string, ...commonFields, ...props, ...children, ...branches } as Task;
  }

  trigger(raw: unknown, path: PathSegment[]): Trigger | undefined {
    if (!isMap(raw)) {
      this.issue(path, "INVALID_VALUE", `expected a trigger (a map with id and type), got ${show(raw)}`);
      return undefined;
    }
    const written = typeof raw.type === "string" ? raw.type : undefined;
    const canonical = written === undefined ? undefined : TRIGGER_CANONICAL.get(written);
    const withDefaults = applyPluginDefaults(raw, this.pluginDefaults, canonical, (t) => TRIGGER_CANONICAL.get(t));
    const head = this.zod(TriggerSchema, withDefaults, path);
    if (!head) return undefined;
    if (!canonical) {
      const known = [...new Set(TRIGGER_CANONICAL.values())];
      const close = closestNames(head.type, TRIGGER_CANONICAL.keys(), 1);
      const hint = close.length ? `; did you mean ${TRIGGER_CANONICAL.get(close[0])}?` : "";
      this.issue([...path, "type"], "UNKNOWN_TRIGGER_TYPE", `unknown trigger type '${head.type}'${hint} (expected one of: ${known.join(", ")})`);
      return undefined;
    }
    const parsed = this.zod(TRIGGER_SCHEMAS[canonical] as z.ZodType<Trigger>, { ...withDefaults, type: canonical }, path);
    return parsed ? { ...parsed, type: canonical } : undefined;
  }
}

function duplicates(items: unknown[], path: PathSegment[], what: string, run: ParseRun): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const id = isMap(item) ? (item.id ?? item.name) : undefined;
    if (typeof id !== "string") return;
    const first = seen.get(id);
    if (first === undefined) seen.set(id, i);
    else {
      const at = run.locate([...path, first]);
      run.issue([...path, i, "id"], "DUPLICATE_ID", `duplicate ${what} id '${id}': already used by ${formatPath([...path, first])} at line ${at.line}`);
    }
  });
}

/**
 * Parses YAML text into a Flow. Never throws for bad input; every issue has path + line:column.
 * Task types resolve through `opts.registry` (default: every built-in task type) and are replaced
 * by their canonical names; plugin defaults are applied; issues come sorted by position.
 */
export function parseFlow(yamlText: string, opts: { registry?: TaskRegistry } = {}):
  { ok: true; flow: Flow } | { ok: false; errors: FlowIssue[] } {
  const source = readYaml(yamlText);
  if (source.syntaxErrors.length) {
    return { ok: false, errors: source.syntaxErrors.map((e) => ({ path: "", line: e.position.line, column: e.position.column, message: e.message, code: "YAML_SYNTAX" })) };
  }
  const raw = source.value;
  if (!isMap(raw)) {
    const position = source.locate([]);
    return { ok: false, errors: [{ path: "", ...position, code: "NOT_A_FLOW", message: `expected a flow (a YAML map with id, namespace and tasks), got ${raw === undefined || raw === null ? "an empty document" : show(raw)}` }] };
  }

  const run0 = new ParseRun(opts.registry ?? defaultRegistry, [], source.locate);
  // Older Kestra flows wrote `taskDefaults` for what is now `pluginDefaults`.
  const rawFlow: Record<string, unknown> = { ...raw };
  if (rawFlow.taskDefaults !== undefined && rawFlow.pluginDefaults === undefined) {
    rawFlow.pluginDefaults = rawFlow.taskDefaults;
    delete rawFlow.taskDefaults;
  }
  const pluginDefaults: PluginDefault[] = [];
  if (Array.isArray(rawFlow.pluginDefaults)) {
    rawFlow.pluginDefaults.forEach((d, i) => {
      const parsed = run0.zod(PluginDefaultSchema, d, ["pluginDefaults", i]);
      if (parsed) pluginDefaults.push(parsed);
    });
  }
  const run = new ParseRun(run0.registry, pluginDefaults, source.locate);
  run.issues.push(...run0.issues);

  const shell = run.zod(FlowShellSchema, rawFlow, []);
  const sections = {} as Record<"tasks" | "errors" | "finally" | "afterExecution", Task[]>;
  for (const section of ["tasks", "errors", "finally", "afterExecution"] as const) {
    sections[section] = run.taskList(rawFlow[section], [section]);
  }
  const triggers: Trigger[] = [];
  if (Array.isArray(rawFlow.triggers)) {
    rawFlow.triggers.forEach((t, i) => {
      const parsed = run.trigger(t, ["triggers", i]);
      if (parsed) triggers.push(parsed);
    });
    duplicates(rawFlow.triggers, ["triggers"], "trigger", run);
  }
  if (Array.isArray(rawFlow.inputs)) {
    duplicates(rawFlow.inputs, ["inputs"], "input", run);
    const ids = new Set(rawFlow.inputs.map((i) => (isMap(i) ? (i.id ?? i.name) : undefined)).filter((i) => typeof i === "string"));
    const graph = new Map<string, string[]>();
    const indexOf = new Map<string, number>();
    rawFlow.inputs.forEach((input, i) => {
      const deps = isMap(input) && isMap(input.dependsOn) ? input.dependsOn.inputs : undefined;
      if (!Array.isArray(deps)) return;
      const id = isMap(input) ? (input.id ?? input.name) : undefined;
      deps.forEach((dep, j) => {
        if (typeof dep === "string" && !ids.has(dep)) run.issue(["inputs", i, "dependsOn", "inputs", j], "INVALID_VALUE", `depends on input '${dep}', which the flow does not declare`);
        if (dep === id) run.issue(["inputs", i, "dependsOn", "inputs", j], "INVALID_VALUE", `input '${dep}' cannot depend on itself`);
      });
      if (typeof id === "string" && !graph.has(id)) {
        graph.set(id, deps.filter((d): d is string => typeof d === "string" && d !== id && ids.has(d)));
        indexOf.set(id, i);
      }
    });
    const cycle = findCycle(graph);
    if (cycle) run.issue(["inputs", indexOf.get(cycle[0]) ?? 0, "dependsOn", "inputs"], "INVALID_VALUE", `the input dependencies form a cycle: ${cycle.join(" → ")}`);
  }
  if (Array.isArray(rawFlow.outputs)) duplicates(rawFlow.outputs, ["outputs"], "output", run);

  if (run.issues.length || !shell) {
    const seen = new Set<string>();
    const errors = run.issues.filter((iss) => {
      // A child list entry that is not a map is reported by its parent's schema and by the child walk.
      const key = `${formatPath(iss.path)}\u0000${iss.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    }).map((iss): FlowIssue => {
      const position = source.locate(iss.path, { key: iss.atKey });
      const path = formatPath(iss.path);
      return { path, line: position.line, column: position.column, code: iss.code, message: path ? `${path}: ${iss.message}` : iss.message };
    });
    errors.sort((a, b) => a.line - b.line || a.column - b.column);
    return { ok: false, errors };
  }
  const flow: Flow = { ...shell, ...sections, triggers, pluginDefaults };
  return { ok: true, flow };
}

/** Like parseFlow but throws FlowValidationError (LannerError code "FLOW_INVALID", details = issues). */
export function parseFlowOrThrow(yamlText: string, opts: { registry?: TaskRegistry } = {}): Flow {
  const r = parseFlow(yamlText, opts);
  if (!r.ok) throw new FlowValidationError(r.errors);
  return r.flow;
}
