/**
 * Which ended executions a Flow trigger listens to: its `states`, its `conditions` (Kestra's
 * ExecutionFlow, ExecutionNamespace, ExecutionStatus, ExecutionLabels, ExecutionOutputs,
 * Expression, FlowCondition, FlowNamespaceCondition) and the entries of its `preconditions`
 * (`flows` and `where`). Pure: expressions render with the caller's clock.
 */
import { isTruthy, renderTyped } from "../../expressions/index.js";
import type { Flow, Label, Trigger } from "../../schemas/flow-types.js";
import type { State } from "../executor/model.js";
import type { TimeWindowSpec } from "./time-window.js";

/** An execution that reached a terminal state, as the executor hands it over. */
export interface EndedExecution {
  id: string;
  tenantId: string;
  namespace: string;
  flowId: string;
  flowRevision: number;
  state: State;
  labels: Label[];
  outputs?: Record<string, unknown>;
  /** Sequence number of its last event: a restarted execution that ends again is a new ending. */
  seq: number;
}

/** Kestra's default `states` of a Flow trigger: every terminal state. */
export const DEFAULT_TRIGGER_STATES: readonly State[] = ["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "RETRIED", "SKIPPED"];
/** Default `states` of a precondition flow entry: the upstream flow succeeded. */
export const DEFAULT_PRECONDITION_STATES: readonly State[] = ["SUCCESS"];

/** A Flow trigger's `preconditions` as the schema leaves them. */
export interface Preconditions {
  id?: string;
  flows?: Array<{ namespace: string; flowId?: string; states?: State[]; labels?: Label[] }>;
  where?: Array<Record<string, unknown>>;
  timeWindow?: TimeWindowSpec;
  resetOnSuccess?: boolean;
}

/** One precondition to meet: an id stable across evaluations and its test. */
export interface PreconditionEntry {
  id: string;
  matches(e: EndedExecution): boolean;
}

/** Why a trigger cannot be evaluated as written (reported, never thrown at the caller). */
export class ConditionProblem extends Error {}

/** Short condition type name: `io.kestra.plugin.core.condition.ExecutionFlow` and `…ExecutionFlowCondition` → `ExecutionFlow`. */
export function conditionKind(type: string): string {
  const last = type.slice(type.lastIndexOf(".") + 1);
  return last.endsWith("Condition") && last !== "Condition" ? last.slice(0, -"Condition".length) : last;
}

const asStates = (v: unknown): State[] | undefined => (Array.isArray(v) ? v.filter((s): s is State => typeof s === "string") : undefined);

function asLabels(v: unknown): Label[] {
  if (Array.isArray(v)) return v.filter((l): l is Label => typeof l === "object" && l !== null && "key" in l).map((l) => ({ key: String(l.key), value: String(l.value) }));
  if (typeof v === "object" && v !== null) return Object.entries(v).map(([key, value]) => ({ key, value: String(value) }));
  return [];
}

function hasLabels(e: EndedExecution, wanted: Label[]): boolean {
  return wanted.every((w) => e.labels.some((l) => l.key === w.key && l.value === w.value));
}

/** Variables an `Expression`/`ExecutionOutputs` condition sees. */
function conditionVars(e: EndedExecution, target: Flow): Record<string, unknown> {
  return {
    execution: { id: e.id, namespace: e.namespace, flowId: e.flowId, state: e.state, labels: e.labels, outputs: e.outputs ?? {} },
    outputs: e.outputs ?? {},
    flow: { id: target.id, namespace: target.namespace, revision: target.revision ?? 1 },
    trigger: triggerVariables(e),
  };
}

function truthyExpression(expression: unknown, vars: Record<string, unknown>, now: number): boolean {
  if (typeof expression !== "string") throw new ConditionProblem("an expression condition needs an expression");
  const template = expression.includes("{{") ? expression : `{{ ${expression} }}`;
  return isTruthy(renderTyped(template, vars, { services: { now: () => now } }));
}

/**
 * Tests one trigger condition. Throws ConditionProblem for a condition type this evaluator does
 * not know or a condition missing what it needs.
 */
export function conditionHolds(c: Record<string, unknown>, e: EndedExecution, target: Flow, now: number): boolean {
  const kind = conditionKind(typeof c.type === "string" ? c.type : "");
  switch (kind) {
    case "ExecutionFlow":
      return e.namespace === c.namespace && e.flowId === c.flowId;
    case "ExecutionNamespace": {
      const ns = String(c.namespace ?? "");
      const comparison = c.comparison ?? (c.prefix === true ? "PREFIX" : "EQUALS");
      if (comparison === "PREFIX") return e.namespace.startsWith(ns);
      if (comparison === "SUFFIX") return e.namespace.endsWith(ns);
      return e.namespace === ns;
    }
    case "ExecutionStatus": {
      const inStates = asStates(c.in);
      const notIn = asStates(c.notIn);
      return (!inStates || inStates.includes(e.state)) && (!notIn || !notIn.includes(e.state));
    }
    case "ExecutionLabels":
      return hasLabels(e, asLabels(c.labels));
    case "ExecutionOutputs":
    case "Expression":
      return truthyExpression(c.expression, conditionVars(e, target), now);
    case "Flow":
      return target.namespace === c.namespace && target.id === c.flowId;
    case "FlowNamespace": {
      const ns = String(c.namespace ?? "");
      return c.prefix === true ? target.namespace.startsWith(ns) : target.namespace === ns;
    }
    default:
      throw new ConditionProblem(`condition type ${String(c.type)} is not supported on Flow triggers`);
  }
}

/** One `where` filter (Kestra: field FLOW_ID | NAMESPACE | STATE | EXPRESSION, with a comparison type). */
function filterHolds(f: Record<string, unknown>, e: EndedExecution, target: Flow, now: number): boolean {
  const field = String(f.field ?? "");
  const type = String(f.type ?? "EQUAL_TO");
  if (field === "EXPRESSION") return truthyExpression(f.value, conditionVars(e, target), now);
  const actual = field === "FLOW_ID" ? e.flowId : field === "NAMESPACE" ? e.namespace : field === "STATE" ? e.state : undefined;
  if (actual === undefined) throw new ConditionProblem(`where filter field ${field || "(none)"} is not one of FLOW_ID, NAMESPACE, STATE, EXPRESSION`);
  const value = f.value === undefined ? undefined : String(f.value);
  const values = Array.isArray(f.values) ? f.values.map(String) : value !== undefined ? [value] : [];
  switch (type) {
    case "EQUAL_TO": return actual === value;
    case "NOT_EQUAL_TO": return actual !== value;
    case "IN": return values.includes(actual);
    case "NOT_IN": return !values.includes(actual);
    case "STARTS_WITH":
    case "PREFIX": return value !== undefined && actual.startsWith(value);
    case "ENDS_WITH": return value !== undefined && actual.endsWith(value);
    case "CONTAINS": return value !== undefined && actual.includes(value);
    case "REGEX": return value !== undefined && new RegExp(value).test(actual);
    default: throw new ConditionProblem(`where filter type ${type} is not supported`);
  }
}

/** The preconditions of a trigger as entries (`flows` first, then `where`), or [] without preconditions. */
export function preconditionEntries(p: Preconditions | undefined, target: Flow, now: number): PreconditionEntry[] {
  if (!p) return [];
  const out: PreconditionEntry[] = [];
  (p.flows ?? []).forEach((f, i) => {
    const states = f.states ?? DEFAULT_PRECONDITION_STATES;
    out.push({
      id: `flows.${i}:${f.namespace}/${f.flowId ?? "*"}`,
      matches: (e) => e.namespace === f.namespace && (f.flowId === undefined || e.flowId === f.flowId)
        && states.includes(e.state) && hasLabels(e, f.labels ?? []),
    });
  });
  (p.where ?? []).forEach((w, i) => {
    const filters = Array.isArray(w.filters) ? w.filters.filter((f): f is Record<string, unknown> => typeof f === "object" && f !== null) : [];
    const or = w.operand === "OR";
    out.push({
      id: `where.${i}:${typeof w.id === "string" ? w.id : ""}`,
      matches: (e) => (or ? filters.some((f) => filterHolds(f, e, target, now)) : filters.every((f) => filterHolds(f, e, target, now))),
    });
  });
  return out;
}

/**
 * True when `e` is an ending the trigger listens to at all: not the target flow itself, a state
 * in `states`, every `conditions` entry holding, and (with preconditions) some entry matching.
 * Throws ConditionProblem when the trigger cannot be evaluated as written.
 */
export function triggerListensTo(trigger: Trigger, target: Flow, e: EndedExecution, now: number): boolean {
  // a flow never triggers itself: that would loop forever
  if (e.namespace === target.namespace && e.flowId === target.id && e.tenantId === (target.tenantId ?? e.tenantId)) return false;
  const states = asStates(trigger.states) ?? DEFAULT_TRIGGER_STATES;
  if (!states.includes(e.state)) return false;
  for (const c of trigger.conditions ?? []) if (!conditionHolds(c, e, target, now)) return false;
  const entries = preconditionEntries(trigger.preconditions as Preconditions | undefined, target, now);
  return entries.length === 0 || entries.some((p) => p.matches(e));
}

/** `trigger.*` as the triggered execution's expressions see it. */
export function triggerVariables(e: EndedExecution): Record<string, unknown> {
  return {
    executionId: e.id, namespace: e.namespace, flowId: e.flowId, flowRevision: e.flowRevision, state: e.state,
    outputs: e.outputs ?? {}, executionLabels: e.labels,
  };
}
