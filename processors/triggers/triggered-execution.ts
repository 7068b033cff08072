/**
 * Turns a trigger firing into the `CreateExecution` command the executor runs: the trigger's
 * `inputs` rendered with `trigger.*` (and the flow, the new execution id) then checked and coerced
 * against the flow's inputs exactly as the API does, its `labels` added, and `trigger.*` stored on
 * the execution for its expressions.
 */
import { describeError } from "../../common/errors.js";
import { renderDeep, renderTyped } from "../../expressions/index.js";
import type { Flow, Label, Trigger } from "../../schemas/flow-types.js";
import { coerceInputs } from "../../schemas/inputs.js";
import type { CreateExecutionCommand } from "../executor/inputs.js";

export type TriggeredExecution = { ok: true; command: CreateExecutionCommand } | { ok: false; message: string };

function labelsOf(trigger: Trigger): Label[] {
  const l = trigger.labels;
  if (Array.isArray(l)) return l.filter((x): x is Label => typeof x === "object" && x !== null && "key" in x).map((x) => ({ key: String(x.key), value: String(x.value) }));
  if (typeof l === "object" && l !== null) return Object.entries(l).map(([key, value]) => ({ key, value: String(value) }));
  return [];
}

/**
 * The command creating execution `executionId` of `flow` for a firing of `trigger` with
 * `variables` as `trigger.*`; `{ ok: false }` with the reason when the inputs do not render or
 * do not fit the flow.
 */
export function triggeredExecution(flow: Flow, trigger: Trigger, executionId: string, variables: Record<string, unknown>, now: number): TriggeredExecution {
  const vars = {
    trigger: variables,
    flow: { id: flow.id, namespace: flow.namespace, revision: flow.revision ?? 1, tenantId: flow.tenantId ?? "main" },
    execution: { id: executionId },
  };
  const services = { now: () => now };
  let given: Record<string, unknown>;
  try {
    const raw = trigger.inputs;
    given = typeof raw === "object" && raw !== null ? renderInputs(raw as Record<string, unknown>, vars, now) : {};
  } catch (err) {
    return { ok: false, message: `the trigger's inputs did not render: ${describeError(err)}` };
  }
  let coerced: ReturnType<typeof coerceInputs>;
  try {
    coerced = coerceInputs(flow, given, { now, render: (template, at) => renderTyped(template, vars, { services: { now: () => at ?? services.now() } }) });
  } catch (err) {
    return { ok: false, message: `an input default did not render: ${describeError(err)}` };
  }
  if (!coerced.ok) return { ok: false, message: `invalid inputs: ${coerced.errors.map((e) => e.message).join("; ")}` };
  return {
    ok: true,
    command: { type: "CreateExecution", executionId, flow, inputs: coerced.inputs, labels: labelsOf(trigger), trigger: variables },
  };
}

/** A value that is a single expression keeps its type (`{{ trigger.outputs.n }}` → a number). */
function renderInputs(raw: Record<string, unknown>, vars: Record<string, unknown>, now: number): Record<string, unknown> {
  const opts = { services: { now: () => now } };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) out[k] = typeof v === "string" ? renderTyped(v, vars, opts) : renderDeep(v, vars, opts);
  return out;
}
