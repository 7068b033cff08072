import { parseDuration } from "../../../schemas/duration.js";
import type { Task } from "../../../schemas/flow-types.js";
import type { Decider } from "../decider.js";
import type { TaskRun } from "../model.js";
import type { FlowableLogic } from "./types.js";

/**
 * Pause: the task run and the execution go PAUSED. With `delay`, a timer resumes it by itself;
 * otherwise a Resume command does (its inputs become the task's `onResume` outputs), and
 * `timeout`, when set, ends it as `behavior` says (RESUME, WARN, CANCEL; FAIL or none: FAILED) if
 * no Resume came in time.
 */
export const pause: FlowableLogic = {
  start(d, tr, task) {
    d.setState(tr, "PAUSED", "pause task");
    if (task.delay) {
      d.scheduleTimer({ id: `pause-delay:${tr.id}`, at: d.ctx.now + parseDuration(String(task.delay)), kind: "pause-delay", taskRunId: tr.id });
    } else if (task.timeout) {
      d.scheduleTimer({ id: `pause-timeout:${tr.id}`, at: d.ctx.now + parseDuration(String(task.timeout)), kind: "pause-timeout", taskRunId: tr.id });
    }
    if (d.s.execution.state.current === "RUNNING") d.emit({ type: "ExecutionStateChanged", state: "PAUSED", reason: `task ${task.id} paused` });
    return true;
  },
};

/** Ends a paused Pause task run (resumed, delay elapsed, or timed out). */
export function endPause(d: Decider, tr: TaskRun, task: Task, how: { resumed: Record<string, unknown> | undefined } | { timedOut: true }): void {
  d.setState(tr, "RUNNING", "resumed");
  if ("timedOut" in how) {
    // `behavior` says how a timed-out pause ends; without it the older `timeout` semantics: it fails
    switch (task.behavior) {
      case "RESUME":
        d.endTaskRun(tr, "SUCCESS", "pause timed out: resumed");
        return;
      case "WARN":
        d.endTaskRun(tr, "WARNING", "pause timed out: warning");
        return;
      case "CANCEL":
        d.endTaskRun(tr, "CANCELLED", "pause timed out: cancelled");
        return;
      default:
        d.endTaskRun(tr, "FAILED", "pause timed out", { message: "the pause timed out before a resume" });
    }
  } else {
    if (how.resumed) d.emit({ type: "TaskRunOutputs", taskRunId: tr.id, outputs: { onResume: how.resumed } });
    d.endTaskRun(tr, "SUCCESS", "resumed");
  }
}
