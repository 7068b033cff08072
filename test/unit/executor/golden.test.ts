import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { GOLDEN_SCENARIOS, runScenario, summary } from "../../harness/golden.js";
import { HistoryError, replayHistory, type ExecutionEvent } from "../../../processors/executor/index.js";
import { LannerError } from "../../../common/errors.js";

const dir = fileURLToPath(new URL("../../fixtures/flows/golden/", import.meta.url));

function golden(name: string): { events: ExecutionEvent[]; final: ReturnType<typeof summary> } {
  return JSON.parse(readFileSync(`${dir}${name}.json`, "utf8"));
}

function renumber(events: ExecutionEvent[]): ExecutionEvent[] {
  return events.map((e, i) => ({ ...e, seq: i + 1 }));
}

function expectInvalid(events: ExecutionEvent[], message: RegExp): void {
  let caught: unknown;
  try {
    replayHistory(events);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(HistoryError);
  expect((caught as LannerError).code).toBe("HISTORY_INVALID");
  expect((caught as Error).message).toMatch(message);
}

describe("golden histories", () => {
  for (const name of Object.keys(GOLDEN_SCENARIOS)) {
    it(`${name}: the recorded history replays to the recorded final state, and today's run records the same history`, () => {
      const g = golden(name);
      expect(summary(replayHistory(g.events))).toEqual(g.final);
      // the flow snapshot follows the parser's output, which may gain fields; the rest must not move
      const withoutFlow = (es: ExecutionEvent[]) => es.map((e) => (e.type === "ExecutionCreated" ? { ...e, flow: null } : e));
      expect(withoutFlow(runScenario(name).events)).toEqual(withoutFlow(g.events));
    });
  }

  it("a history with a gap fails loudly", () => {
    const { events } = golden("sequential");
    expectInvalid([...events.slice(0, 3), ...events.slice(4)], /expected event 4, got 5/);
  });

  it("an event for an unknown task run fails loudly", () => {
    const { events } = golden("sequential");
    const i = events.findIndex((e) => e.type === "AttemptCreated");
    const tampered = events.map((e, k) => (k === i ? { ...e, taskRunId: "forgedTaskRunId0000000" } : e));
    expectInvalid(tampered, /forgedTaskRunId0000000, which this execution does not have/);
  });

  it("a terminal task run going back to RUNNING without a restart fails loudly", () => {
    const { events } = golden("sequential");
    const i = events.findIndex((e) => e.type === "TaskRunStateChanged" && e.state === "SUCCESS");
    const done = events[i] as Extract<ExecutionEvent, { type: "TaskRunStateChanged" }>;
    const forged: ExecutionEvent = { ...done, state: "RUNNING", reason: "forged" };
    expectInvalid(renumber([...events.slice(0, i + 1), forged, ...events.slice(i + 1)]), /cannot go from SUCCESS to RUNNING/);
  });

  it("a task run created twice fails loudly", () => {
    const { events } = golden("sequential");
    const i = events.findIndex((e) => e.type === "TaskRunCreated");
    expectInvalid(renumber([...events.slice(0, i + 1), events[i], ...events.slice(i + 1)]), /creates task run .* twice/);
  });

  it("an attempt out of order fails loudly", () => {
    const { events } = golden("retry-constant");
    const i = events.findIndex((e) => e.type === "AttemptCreated");
    const tampered = events.map((e, k) => (k === i ? { ...e, attempt: 2 } : e));
    expectInvalid(tampered, /attempt 2 of task run .* out of order/);
  });

  it("events of another execution fail loudly", () => {
    const { events } = golden("sequential");
    expectInvalid(events.map((e, k) => (k === 2 ? { ...e, executionId: "other" } : e)), /belongs to execution other/);
  });
});
