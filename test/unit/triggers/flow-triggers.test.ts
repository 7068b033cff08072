import { describe, expect, it } from "vitest";
import { parseFlowOrThrow } from "../../../schemas/flow-parser.js";
import type { Flow } from "../../../schemas/flow-types.js";
import type { EndedExecution } from "../../../processors/triggers/flow-trigger-conditions.js";
import { flowTriggerExecutionId, reduceFlowTriggers, type FlowTriggersState } from "../../../processors/triggers/flow-triggers.js";
import { triggeredExecution } from "../../../processors/triggers/triggered-execution.js";

const T0 = Date.parse("2025-03-10T00:00:00Z");
const MIN = 60_000;
const HOUR = 60 * MIN;

function target(triggerYaml: string): Flow {
  return parseFlowOrThrow(`
id: downstream
namespace: company.team
inputs:
  - id: upstream
    type: STRING
    defaults: none
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
${triggerYaml}
`);
}

let seq = 0;
function ended(flowId: string, state: EndedExecution["state"] = "SUCCESS", extra: Partial<EndedExecution> = {}): EndedExecution {
  seq++;
  return { id: `${flowId}-exec-${seq}`, tenantId: "main", namespace: "company.team", flowId, flowRevision: 1, state, labels: [], seq: 10, ...extra };
}

/** Feeds endings at given times; returns how many executions each one created. */
function run(flow: Flow, steps: Array<[number, EndedExecution]>): { fired: number[]; state: FlowTriggersState } {
  let state: FlowTriggersState = {};
  const fired: number[] = [];
  for (const [at, e] of steps) {
    const r = reduceFlowTriggers(state, e, [flow], at);
    expect(r.problems).toEqual([]);
    state = r.state;
    fired.push(r.firings.length);
  }
  return { fired, state };
}

const AB = (window: string, extra = "") => target(`
  - id: both
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: ab
      flows:
        - namespace: company.team
          flowId: a
        - namespace: company.team
          flowId: b
      timeWindow:
${window}
${extra}`);

describe("reduceFlowTriggers", () => {
  it("without preconditions fires once per matching ending, with trigger variables and a deterministic id", () => {
    const flow = target(`
  - id: on_fail
    type: io.kestra.plugin.core.trigger.Flow
    states: [FAILED]
    inputs:
      upstream: "{{ trigger.executionId }}/{{ trigger.outputs.n }}"
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionNamespace
        namespace: company
        comparison: PREFIX`);
    const e = ended("a", "FAILED", { outputs: { n: 3 } });
    const r = reduceFlowTriggers({}, e, [flow], T0);
    expect(r.firings).toHaveLength(1);
    const f = r.firings[0];
    expect(f.executionId).toBe(flowTriggerExecutionId(flow, "on_fail", e));
    expect(f.variables).toMatchObject({ executionId: e.id, namespace: "company.team", flowId: "a", state: "FAILED", outputs: { n: 3 } });
    const built = triggeredExecution(f.flow, f.trigger, f.executionId, f.variables, T0);
    expect(built.ok && built.command.inputs).toEqual({ upstream: `${e.id}/3` });
    expect(built.ok && built.command.trigger).toEqual(f.variables);
    // the same ending evaluated again (a replay) derives the same id
    expect(reduceFlowTriggers({}, e, [flow], T0 + HOUR).firings[0].executionId).toBe(f.executionId);
    expect(reduceFlowTriggers({}, ended("a", "SUCCESS"), [flow], T0).firings).toHaveLength(0);
    expect(reduceFlowTriggers({}, ended("a", "FAILED", { namespace: "other" }), [flow], T0).firings).toHaveLength(0);
  });

  it("never fires a flow for its own executions, nor a disabled trigger", () => {
    const flow = target(`
  - id: any
    type: io.kestra.plugin.core.trigger.Flow
  - id: off
    type: io.kestra.plugin.core.trigger.Flow
    disabled: true`);
    expect(reduceFlowTriggers({}, ended("downstream"), [flow], T0).firings).toHaveLength(0);
    expect(reduceFlowTriggers({}, ended("x"), [flow], T0).firings.map((f) => f.trigger.id)).toEqual(["any"]);
  });

  it("duration window: both upstream flows inside one fixed window fire once; across windows they do not", () => {
    const flow = AB(`        type: DURATION_WINDOW
        window: PT1H`);
    const { fired } = run(flow, [
      [T0 + 10 * MIN, ended("a")],
      [T0 + 50 * MIN, ended("b")], // same window [00:00, 01:00): fires
      [T0 + 55 * MIN, ended("b")], // reset on success: b alone does not fire
      [T0 + 70 * MIN, ended("a")], // new window [01:00, 02:00)
      [T0 + 2 * HOUR + MIN, ended("b")], // window [02:00, 03:00): a was in the previous one
      [T0 + 2 * HOUR + 2 * MIN, ended("a", "FAILED")], // a precondition wants SUCCESS
      [T0 + 2 * HOUR + 3 * MIN, ended("a")],
    ]);
    expect(fired).toEqual([0, 1, 0, 0, 0, 0, 1]);
  });

  it("duration window with windowAdvance shifts the window start", () => {
    const flow = AB(`        type: DURATION_WINDOW
        window: P1D
        windowAdvance: PT6H`);
    // 05:00 is in the window that started the day before at 06:00; 07:00 in the next one
    expect(run(flow, [[T0 + 5 * HOUR, ended("a")], [T0 + 7 * HOUR, ended("b")]]).fired).toEqual([0, 0]);
    expect(run(flow, [[T0 + 7 * HOUR, ended("a")], [T0 + 29 * HOUR, ended("b")]]).fired).toEqual([0, 1]);
  });

  it("sliding window: conditions count while they are younger than the window", () => {
    const flow = AB(`        type: SLIDING_WINDOW
        window: PT1H`);
    const { fired } = run(flow, [
      [T0, ended("a")],
      [T0 + 61 * MIN, ended("b")], // a is older than an hour
      [T0 + 90 * MIN, ended("a")], // b from 29 minutes ago still counts
    ]);
    expect(fired).toEqual([0, 0, 1]);
  });

  it("daily deadline: both before the deadline fire; after it nothing counts until the next day", () => {
    const flow = AB(`        type: DAILY_TIME_DEADLINE
        deadline: "09:00:00"`);
    expect(run(flow, [[T0 + 8 * HOUR, ended("a")], [T0 + 8 * HOUR + 30 * MIN, ended("b")]]).fired).toEqual([0, 1]);
    const late = run(flow, [
      [T0 + 8 * HOUR, ended("a")],
      [T0 + 10 * HOUR, ended("b")], // after the deadline: ignored, and a is forgotten
      [T0 + 24 * HOUR + HOUR, ended("b")], // next day, before the deadline
      [T0 + 24 * HOUR + 2 * HOUR, ended("a")],
    ]);
    expect(late.fired).toEqual([0, 0, 0, 1]);
  });

  it("daily time window: only endings between startTime and endTime count", () => {
    const flow = AB(`        type: DAILY_TIME_WINDOW
        startTime: "08:00:00"
        endTime: "12:00:00"`);
    expect(run(flow, [[T0 + 7 * HOUR, ended("a")], [T0 + 9 * HOUR, ended("b")]]).fired).toEqual([0, 0]);
    expect(run(flow, [[T0 + 8 * HOUR, ended("a")], [T0 + 11 * HOUR, ended("b")]]).fired).toEqual([0, 1]);
  });

  it("resetOnSuccess false keeps the met conditions: every further matching ending in the window fires", () => {
    const flow = AB(`        type: DURATION_WINDOW
        window: PT1H`, `      resetOnSuccess: false`);
    const { fired, state } = run(flow, [
      [T0, ended("a")],
      [T0 + MIN, ended("b")],
      [T0 + 2 * MIN, ended("a")],
      [T0 + 3 * MIN, ended("b")],
      [T0 + HOUR + MIN, ended("a")], // new window
    ]);
    expect(fired).toEqual([0, 1, 1, 1, 0]);
    expect(Object.values(state)[0].firings).toBe(3);
  });

  it("labels on a precondition flow and the where filters narrow what counts", () => {
    const flow = target(`
  - id: labelled
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: l
      flows:
        - namespace: company.team
          flowId: a
          labels:
            env: prod
      where:
        - id: any_b
          filters:
            - field: FLOW_ID
              type: STARTS_WITH
              value: b
            - field: STATE
              type: IN
              values: [SUCCESS, WARNING]`);
    const prod = [{ key: "env", value: "prod" }];
    expect(run(flow, [[T0, ended("a")], [T0 + MIN, ended("b2")]]).fired).toEqual([0, 0]);
    expect(run(flow, [[T0, ended("a", "SUCCESS", { labels: prod })], [T0 + MIN, ended("b2", "WARNING")]]).fired).toEqual([0, 1]);
  });

  it("a redeploy that changes the preconditions starts the window afresh", () => {
    const one = AB(`        type: DURATION_WINDOW
        window: PT1H`);
    const two = AB(`        type: DURATION_WINDOW
        window: PT2H`);
    const first = reduceFlowTriggers({}, ended("a"), [one], T0);
    expect(reduceFlowTriggers(first.state, ended("b"), [two], T0 + MIN).firings).toHaveLength(0);
    expect(reduceFlowTriggers(first.state, ended("b"), [one], T0 + MIN).firings).toHaveLength(1);
  });

  it("reports a condition it cannot evaluate and still evaluates the other triggers", () => {
    const flow = target(`
  - id: odd
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.PublicHoliday
  - id: fine
    type: io.kestra.plugin.core.trigger.Flow`);
    const r = reduceFlowTriggers({}, ended("a"), [flow], T0);
    expect(r.firings.map((f) => f.trigger.id)).toEqual(["fine"]);
    expect(r.problems).toEqual([{ flow: "main/company.team/downstream", triggerId: "odd", message: expect.stringContaining("PublicHoliday") }]);
  });

  it("does not modify the state it is given", () => {
    const flow = AB(`        type: SLIDING_WINDOW
        window: PT1H`);
    const s1 = reduceFlowTriggers({}, ended("a"), [flow], T0).state;
    const copy = structuredClone(s1);
    reduceFlowTriggers(s1, ended("b"), [flow], T0 + MIN);
    expect(s1).toEqual(copy);
  });
});
