import type { Task } from "../../schemas/flow-types.js";
import type { ExecutionState, TaskRun } from "./model.js";

/** Which outputs a task's templates read: a list of task ids, or "all" (`outputs` used whole). */
type OutputRefs = string[] | "all";

const refCache = new WeakMap<object, OutputRefs>();
const DOT_REF = /outputs\s*\.\s*([A-Za-z0-9_-]+)/g;
const BRACKET_REF = /outputs\s*\[\s*["']([^"']+)["']\s*\]/g;
const WHOLE_REF = /(^|[^A-Za-z0-9_.])outputs([^A-Za-z0-9_]|$)/;

function collectStrings(v: unknown, out: string[], depth = 0): void {
  if (depth > 64) return;
  if (typeof v === "string") {
    if (v.includes("outputs")) out.push(v);
  } else if (Array.isArray(v)) {
    for (const x of v) collectStrings(x, out, depth + 1);
  } else if (v && typeof v === "object") {
    for (const x of Object.values(v)) collectStrings(x, out, depth + 1);
  }
}

/**
 * The outputs a task's (or flow outputs') templates reference, scanned once per object and cached:
 * building a job's variables then copies only those, never the whole outputs tree.
 */
export function referencedOutputs(holder: object): OutputRefs {
  const cached = refCache.get(holder);
  if (cached) return cached;
  const strings: string[] = [];
  collectStrings(holder, strings);
  const ids = new Set<string>();
  let all = false;
  for (const s of strings) {
    for (const m of s.matchAll(DOT_REF)) ids.add(m[1]);
    for (const m of s.matchAll(BRACKET_REF)) ids.add(m[1]);
    // `outputs` alone (iterated, passed to a filter) needs everything
    const stripped = s.replace(DOT_REF, "").replace(BRACKET_REF, "");
    if (/\{\{|\{%/.test(s) && WHOLE_REF.test(stripped)) all = true;
  }
  const refs: OutputRefs = all ? "all" : [...ids];
  refCache.set(holder, refs);
  return refs;
}

function pickOutputs(state: ExecutionState, refs: OutputRefs): Record<string, unknown> {
  if (refs === "all") return { ...state.outputsTree };
  const out: Record<string, unknown> = {};
  for (const id of refs) if (id in state.outputsTree) out[id] = state.outputsTree[id];
  return out;
}

function labelMap(state: ExecutionState): Record<string, string> {
  const m: Record<string, string> = {};
  for (const l of state.execution.labels) m[l.key] = l.value;
  return m;
}

/** Variables every template of the execution sees (inputs, vars, flow, execution, labels, trigger, envs). */
export function executionVars(state: ExecutionState, envs: Record<string, string> | undefined, refsHolder: object): Record<string, unknown> {
  const e = state.execution;
  const vars: Record<string, unknown> = {
    inputs: e.inputs,
    vars: state.flow.variables ?? {},
    flow: { id: e.flowId, namespace: e.namespace, revision: e.flowRevision, tenantId: e.tenantId },
    execution: { id: e.id, startDate: e.startDate, originalId: e.originalId, state: e.state.current },
    labels: labelMap(state),
    envs: envs ?? {},
    outputs: pickOutputs(state, referencedOutputs(refsHolder)),
  };
  if (e.trigger) vars.trigger = e.trigger;
  return vars;
}

/**
 * Variables for one task run: the execution's, plus `taskrun`, `task`, and for loops `parent` /
 * `parents` (the enclosing iterations, nearest first) so `parent.taskrun.value` works.
 */
export function taskRunVars(state: ExecutionState, tr: TaskRun, task: Task, envs?: Record<string, string>): Record<string, unknown> {
  const vars = executionVars(state, envs, task);
  const startDate = tr.state.histories[0]?.date;
  vars.taskrun = {
    id: tr.id, startDate, attemptsCount: tr.attempts.length, value: tr.value, parentId: tr.parentTaskRunId,
    iteration: tr.iteration,
  };
  vars.task = { id: task.id, type: task.type };
  if (tr.valuePath.length > 1) {
    const parents: Array<Record<string, unknown>> = [];
    for (let i = tr.valuePath.length - 2; i >= 0; i--) parents.push({ taskrun: { value: tr.valuePath[i] } });
    vars.parent = parents[0];
    vars.parents = parents;
  } else if (tr.parentTaskRunId) {
    const p = state.taskRuns[tr.parentTaskRunId];
    if (p) vars.parent = { taskrun: { id: p.id, value: p.value } };
  }
  return vars;
}
