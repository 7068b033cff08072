import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ExecutorHarness } from "../../harness/executor-harness.js";
import { flowYaml } from "../../harness/fixtures.js";
import { isTerminal, type ExecutionEvent } from "../../../processors/executor/index.js";

const FLOWS = ["parallel-if", "foreach-limit", "dag", "errors-finally", "retry-constant", "timeout", "foreach-nested", "allow-failure"];

type Step =
  | { op: "start"; pick: number; worker: number }
  | { op: "complete"; pick: number; outcome: "SUCCESS" | "WARNING" | "FAILED"; worker: number }
  | { op: "stale"; pick: number }
  | { op: "lost"; worker: number }
  | { op: "tick"; ms: number }
  | { op: "kill" };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant("start" as const), pick: fc.nat(), worker: fc.nat({ max: 2 }) }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constant("complete" as const), pick: fc.nat(), outcome: fc.constantFrom("SUCCESS" as const, "SUCCESS" as const, "WARNING" as const, "FAILED" as const), worker: fc.nat({ max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("stale" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("lost" as const), worker: fc.nat({ max: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("tick" as const), ms: fc.integer({ min: 1, max: 20_000 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: "kill" as const }) },
);

/** Drives one execution with a random interleaving of worker results, losses, timers and a kill. */
function drive(flowName: string, steps: Step[]) {
  const h = new ExecutorHarness();
  h.autoWork = false;
  const id = h.start(flowYaml(flowName), { flag: true });
  let terminalAt: string | undefined;
  for (const s of steps) {
    const jobs = h.pendingJobs;
    switch (s.op) {
      case "start":
        if (jobs.length) h.startJob(jobs[s.pick % jobs.length], `w${s.worker}`);
        break;
      case "complete":
        if (jobs.length) {
          const job = jobs[s.pick % jobs.length];
          h.completeJob(job, { state: s.outcome, outputs: { value: "v" } }, `w${s.worker}`);
        }
        break;
      case "stale":
        if (h.dispatched.length) {
          const job = h.dispatched[s.pick % h.dispatched.length];
          h.send({ type: "WorkerResult", executionId: id, result: { kind: "completed", executionId: id, taskRunId: job.taskRunId, attempt: job.attempt, workerId: "old", state: "SUCCESS" } });
        }
        break;
      case "lost":
        h.send({ type: "WorkerLost", executionId: id, workerId: `w${s.worker}` });
        break;
      case "tick":
        h.advance(s.ms);
        break;
      case "kill":
        h.send({ type: "Kill", executionId: id });
        break;
    }
    const cur = h.state(id).execution.state.current;
    if (terminalAt !== undefined) expect(cur).toBe(terminalAt);
    else if (isTerminal(cur)) terminalAt = cur;
  }
  return { h, id };
}

describe("executor properties", () => {
  it("replaying the emitted events rebuilds the same state; terminal executions never change; no duplicate task runs; one terminal state per task run", () => {
    fc.assert(
      fc.property(fc.constantFrom(...FLOWS), fc.array(stepArb, { maxLength: 60 }), (flowName, steps) => {
        const { h, id } = drive(flowName, steps);
        const state = h.state(id);
        expect(h.replayed(id)).toEqual(state);
        const events: ExecutionEvent[] = h.events(id);
        expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
        const ids = state.order;
        expect(new Set(ids).size).toBe(ids.length);
        const places = ids.map((tid) => {
          const tr = state.taskRuns[tid];
          return `${tr.parentTaskRunId ?? ""}/${tr.taskId}/${tr.slot ?? ""}`;
        });
        expect(new Set(places).size).toBe(places.length);
        // task runs created before the execution ended (afterExecution ones come later and may still run)
        const endSeq = events.find((e) => e.type === "ExecutionStateChanged" && isTerminal(e.state))?.seq ?? Infinity;
        const beforeEnd = new Set(events.flatMap((e) => (e.type === "TaskRunCreated" && e.seq < endSeq ? [e.taskRunId] : [])));
        for (const tid of ids) {
          const terminals = state.taskRuns[tid].state.histories.filter((s) => isTerminal(s.state));
          expect(terminals.length).toBeLessThanOrEqual(1);
          if (endSeq !== Infinity && beforeEnd.has(tid)) expect(terminals).toHaveLength(1);
        }
        // no attempt dispatched twice
        const jobs = h.dispatched.map((j) => `${j.taskRunId}#${j.attempt}`);
        expect(new Set(jobs).size).toBe(jobs.length);
      }),
      { numRuns: 150 },
    );
  });

  it("the same inputs give the same events (determinism)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...FLOWS), fc.array(stepArb, { maxLength: 40 }), (flowName, steps) => {
        const a = drive(flowName, steps);
        const b = drive(flowName, steps);
        expect(b.h.events(b.id)).toEqual(a.h.events(a.id));
      }),
      { numRuns: 40 },
    );
  });
});
