/**
 * The flow-trigger evaluator: pure. Given the window state of the Flow triggers of some target
 * flows, one ended upstream execution and the clock, it says which executions to create and how
 * the window state moves. The processor around it keeps the state in a store partition owned by
 * the target flow's key, so every (flow, trigger) pair is evaluated by one owner at a time.
 *
 * Execution ids are derived from (target flow, trigger id, upstream execution id, the upstream
 * ending's sequence number): replaying an ending, or two owners racing during a hand-over, can
 * only produce the same id, and the executor treats a create for an existing id as a no-op.
 */
import type { Flow, Trigger } from "../../schemas/flow-types.js";
import { TRIGGER_TYPES } from "../../schemas/trigger-schema.js";
import { deterministicId } from "../executor/ids.js";
import { describeError } from "../../common/errors.js";
import {
  preconditionEntries, triggerListensTo, triggerVariables, type EndedExecution, type Preconditions,
} from "./flow-trigger-conditions.js";
import { windowAt } from "./time-window.js";

/** Window state of one (flow, trigger) pair. */
export interface TriggerWindowState {
  /** The preconditions this state was built for; a redeploy that changes them starts afresh. */
  fingerprint: string;
  /** The fixed window the `met` entries belong to (absent for sliding windows). */
  window?: { start: number; end: number };
  /** Precondition entry id → when it was last met and by which execution. */
  met: Record<string, { at: number; executionId: string }>;
  /** Executions this trigger created so far. */
  firings: number;
}

/** Window states by `stateKey(flow, triggerId)`. */
export type FlowTriggersState = Record<string, TriggerWindowState>;

/** An execution to create. */
export interface FlowTriggerFiring {
  executionId: string;
  flow: Flow;
  trigger: Trigger;
  /** `trigger.*` of the new execution (the upstream execution that completed the conditions). */
  variables: Record<string, unknown>;
}

export interface FlowTriggersResult {
  state: FlowTriggersState;
  /** State keys whose state changed (to write) or was removed (absent from `state`: to delete). */
  changed: string[];
  firings: FlowTriggerFiring[];
  /** Triggers that cannot be evaluated as written, with the reason (to report). */
  problems: Array<{ flow: string; triggerId: string; message: string }>;
}

/** `tenant/namespace/flowId`: the key flow-trigger records of a target flow travel under. */
export function flowKeyOf(f: { tenantId?: string; namespace: string; id: string }): string {
  return `${f.tenantId ?? "main"}/${f.namespace}/${f.id}`;
}

/** Where the window state of a (flow, trigger) pair lives. */
export function stateKey(flow: Flow, triggerId: string): string {
  return `${flowKeyOf(flow)}#${triggerId}`;
}

/** True for a Flow trigger (any of its accepted type names). */
export function isFlowTrigger(t: Trigger): boolean {
  return (TRIGGER_TYPES.flow as readonly string[]).includes(t.type);
}

/** The Flow triggers of a flow that may fire: the flow and the trigger are enabled. */
export function activeFlowTriggers(flow: Flow): Trigger[] {
  if (flow.disabled) return [];
  return flow.triggers.filter((t) => isFlowTrigger(t) && t.disabled !== true);
}

/** The id of the execution a trigger creates for one upstream ending. */
export function flowTriggerExecutionId(flow: Flow, triggerId: string, upstream: { id: string; seq: number }): string {
  return deterministicId(`flow-trigger/${flowKeyOf(flow)}/${triggerId}/${upstream.id}/${upstream.seq}`);
}

function fingerprint(p: Preconditions | undefined): string {
  return JSON.stringify(p ?? null);
}

/**
 * Evaluates every active Flow trigger of `flows` against one ended execution at `now`. Does not
 * modify `state`; returns the new state (only the pairs that changed are new objects).
 */
export function reduceFlowTriggers(state: FlowTriggersState, ended: EndedExecution, flows: Flow[], now: number): FlowTriggersResult {
  const next: FlowTriggersState = { ...state };
  const out: FlowTriggersResult = { state: next, changed: [], firings: [], problems: [] };
  for (const flow of flows) {
    for (const trigger of activeFlowTriggers(flow)) {
      try {
        evaluate(next, out, flow, trigger, ended, now);
      } catch (err) {
        // an unsupported condition, a bad window or an expression that fails: this trigger is
        // reported and skipped, the others are still evaluated
        out.problems.push({ flow: flowKeyOf(flow), triggerId: trigger.id, message: describeError(err) });
      }
    }
  }
  return out;
}

function evaluate(next: FlowTriggersState, out: FlowTriggersResult, flow: Flow, trigger: Trigger, ended: EndedExecution, now: number): void {
  if (!triggerListensTo(trigger, flow, ended, now)) return;
  const fire = () => {
    out.firings.push({ executionId: flowTriggerExecutionId(flow, trigger.id, ended), flow, trigger, variables: triggerVariables(ended) });
  };
  const pre = trigger.preconditions as Preconditions | undefined;
  const entries = preconditionEntries(pre, flow, now);
  if (entries.length === 0) {
    fire();
    return;
  }
  const key = stateKey(flow, trigger.id);
  const print = fingerprint(pre);
  const prev = next[key];
  const st: TriggerWindowState = prev && prev.fingerprint === print
    ? { ...prev, met: { ...prev.met }, ...(prev.window ? { window: { ...prev.window } } : {}) }
    : { fingerprint: print, met: {}, firings: prev?.firings ?? 0 };
  const bounds = windowAt(pre?.timeWindow, now);
  if (!bounds) {
    // outside every window (after a daily deadline, outside daily hours): nothing counts, and
    // what was gathered in a past window is gone
    if (Object.keys(st.met).length > 0 || st.window) {
      next[key] = { fingerprint: print, met: {}, firings: st.firings };
      out.changed.push(key);
    }
    return;
  }
  if ((pre?.timeWindow?.type ?? "DURATION_WINDOW") === "SLIDING_WINDOW") {
    for (const [id, m] of Object.entries(st.met)) if (m.at < bounds.start) delete st.met[id];
  } else if (!st.window || st.window.start !== bounds.start || st.window.end !== bounds.end) {
    st.window = bounds;
    st.met = {};
  }
  for (const entry of entries) if (entry.matches(ended)) st.met[entry.id] = { at: now, executionId: ended.id };
  if (entries.every((entry) => st.met[entry.id] !== undefined)) {
    fire();
    st.firings++;
    if (pre?.resetOnSuccess !== false) st.met = {};
  }
  next[key] = st;
  out.changed.push(key);
}
