import { describe, expect, it } from "vitest";
import { ExecutorHarness, HARNESS_EPOCH } from "../../harness/executor-harness.js";
import { flowYaml } from "../../harness/fixtures.js";
import type { ExecutionEvent } from "../../../processors/executor/index.js";

function timerDates(events: ExecutionEvent[], kind: string): number[] {
  return events.flatMap((e) => (e.type === "TimerScheduled" && e.timer.kind === kind ? [e.timer.at - HARNESS_EPOCH] : []));
}

describe("errors, finally, afterExecution", () => {
  it("runs task-level then flow-level errors and finally; afterExecution after the end", () => {
    const h = new ExecutorHarness();
    const ex = h.runFlow(flowYaml("errors-finally"));
    expect(ex.state.current).toBe("FAILED");
    expect(ex.taskRunList.map((t) => [t.taskId, t.state.current])).toEqual([
      ["block", "FAILED"], ["fails", "FAILED"], ["block_error", "SUCCESS"], ["block_finally", "SUCCESS"],
      ["flow_error", "SUCCESS"], ["flow_finally", "SUCCESS"], ["after", "SUCCESS"],
    ]);
    expect(h.taskRuns(ex.id, "fails")[0].error).toEqual({ message: "broken" });
    // afterExecution sees the final state and does not change it
    expect(h.taskRuns(ex.id, "after")[0].outputs).toEqual({ value: "FAILED" });
    const events = h.events(ex.id);
    const endIdx = events.findIndex((e) => e.type === "ExecutionStateChanged" && e.state === "FAILED");
    const afterIdx = events.findIndex((e) => e.type === "TaskRunCreated" && e.taskId === "after");
    expect(afterIdx).toBeGreaterThan(endIdx);
    expect(h.ended).toEqual([{ executionId: ex.id, state: "FAILED" }]);
  });

  it("errors do not run when nothing failed; finally always does", () => {
    const h = new ExecutorHarness();
    h.script("fails", { succeed: true });
    const ex = h.runFlow(flowYaml("errors-finally"));
    expect(ex.state.current).toBe("SUCCESS");
    expect(ex.taskRunList.map((t) => t.taskId)).toEqual(["block", "fails", "skipped_by_failure", "block_finally", "not_reached", "flow_finally", "after"]);
  });
});

describe("retries", () => {
  it("constant: RETRYING between attempts, timers every interval, then success", () => {
    const h = new ExecutorHarness();
    h.script("flaky", { fail: 2 });
    const ex = h.runFlow(flowYaml("retry-constant"));
    expect(ex.state.current).toBe("SUCCESS");
    const tr = h.taskRuns(ex.id, "flaky")[0];
    expect(tr.attempts.map((a) => a.state.current)).toEqual(["FAILED", "FAILED", "SUCCESS"]);
    expect(tr.state.histories.map((s) => s.state)).toEqual(["CREATED", "RUNNING", "RETRYING", "RUNNING", "RETRYING", "RUNNING", "SUCCESS"]);
    expect(timerDates(h.events(ex.id), "retry")).toEqual([10_000, 20_000]);
  });

  it("constant: maxAttempt counts every attempt, then FAILED", () => {
    const h = new ExecutorHarness();
    h.script("flaky", { fail: 10 });
    const ex = h.runFlow(flowYaml("retry-constant"));
    expect(ex.state.current).toBe("FAILED");
    expect(h.taskRuns(ex.id, "flaky")[0].attempts).toHaveLength(3);
  });

  it("exponential: interval·factor^n capped by maxInterval; warningOnRetry", () => {
    const h = new ExecutorHarness();
    h.script("flaky", { fail: 4 });
    const ex = h.runFlow(flowYaml("retry-exponential"));
    // delays 1s, 3s, 5s (9s capped), 5s — each from the failure time
    const at = timerDates(h.events(ex.id), "retry");
    expect(at).toEqual([1000, 4000, 9000, 14000]);
    expect(ex.state.current).toBe("WARNING");
    expect(h.taskState(ex.id, "flaky")).toBe("WARNING");
  });

  it("random (flow-level retry): deterministic delay within [min, max]", () => {
    const run = () => {
      const h = new ExecutorHarness();
      h.script("flaky", { fail: 1 });
      const ex = h.runFlow(flowYaml("retry-random"));
      return { ex, at: timerDates(h.events(ex.id), "retry") };
    };
    const a = run();
    const b = run();
    expect(a.ex.state.current).toBe("SUCCESS");
    expect(a.at).toHaveLength(1);
    expect(a.at[0]).toBeGreaterThanOrEqual(1000);
    expect(a.at[0]).toBeLessThanOrEqual(3000);
    expect(b.at).toEqual(a.at);
  });

  it("maxDuration stops retrying once the next attempt would start too late", () => {
    const h = new ExecutorHarness();
    h.script("flaky", { fail: 10 });
    const ex = h.runFlow(flowYaml("retry-max-duration"));
    expect(ex.state.current).toBe("FAILED");
    // attempts at 0s, 30s, 60s; a fourth at 90s would pass PT1M
    expect(h.taskRuns(ex.id, "flaky")[0].attempts).toHaveLength(3);
  });

  it("behavior CREATE_NEW_EXECUTION: RETRIED, and a new execution with the same inputs", () => {
    const h = new ExecutorHarness();
    h.script("flaky", { fail: 99 });
    const ex = h.runFlow(flowYaml("retry-new-execution"));
    expect(ex.state.current).toBe("RETRIED");
    expect(h.taskState(ex.id, "flaky")).toBe("RETRIED");
    const ids = h.executionIds();
    expect(ids).toHaveLength(2);
    const second = h.execution(ids[1]);
    expect(second.attemptNumber).toBe(2);
    // maxAttempt 2: the second execution does not spawn a third
    expect(second.state.current).toBe("FAILED");
  });
});

describe("timeouts", () => {
  it("a timeout fails the attempt, cancels the job, and ignores its late result", () => {
    const h = new ExecutorHarness();
    h.script("slow", { hang: true });
    const id = h.start(flowYaml("timeout"));
    const job = h.pendingJob("slow")!;
    expect(job.deadline).toBe(HARNESS_EPOCH + 5000);
    h.ackCancel = false;
    h.advance(5000);
    const ex = h.execution(id);
    expect(ex.state.current).toBe("FAILED");
    expect(h.taskRuns(id, "slow")[0].error?.code).toBe("TASK_TIMEOUT");
    expect(h.actions.some((a) => a.type === "CancelJob" && a.taskRunId === job.taskRunId)).toBe(true);
    expect(h.taskRuns(id, "next")).toHaveLength(0);
    h.completeJob(job, { state: "SUCCESS" });
    const last = h.events(id).at(-1);
    expect(last?.type).toBe("ResultIgnored");
    expect(h.taskState(id, "slow")).toBe("FAILED");
  });

  it("a result before the deadline clears the timer", () => {
    const h = new ExecutorHarness();
    const ex = h.runFlow(flowYaml("timeout"));
    expect(ex.state.current).toBe("SUCCESS");
    expect(h.pendingTimers()).toEqual([]);
    expect(h.events(ex.id).some((e) => e.type === "TimerCleared" && e.timerId.startsWith("timeout:"))).toBe(true);
  });
});
