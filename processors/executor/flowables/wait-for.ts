import type { Task } from "../../../schemas/flow-types.js";
import { parseDuration } from "../../../schemas/duration.js";
import { sequentialBlock } from "../decider.js";
import type { FlowableLogic } from "./types.js";

interface CheckFrequency { interval?: string; maxIterations?: number; maxDuration?: string }

/** Timer id of the pause between two loop turns. */
export function waitForTimerId(taskRunId: string, turn: number): string {
  return `waitfor:${taskRunId}:${turn}`;
}

/**
 * WaitFor: runs its children (one loop turn), then renders `condition`; true ends it in SUCCESS,
 * false waits `checkFrequency.interval` (a timer) and runs another turn, until maxIterations /
 * maxDuration, which end it as the last turn did — or FAILED with `failOnMaxReached: true`.
 */
export const waitFor: FlowableLogic = {
  next(d, tr, task) {
    if (tr.loopTurn === undefined) d.emit({ type: "LoopTurnStarted", taskRunId: tr.id, turn: 0 });
    const turn = tr.loopTurn as number;
    if (d.s.timers[waitForTimerId(tr.id, turn)]) return undefined;
    const r = sequentialBlock(d, tr, task.tasks as Task[], { slot: turn, iteration: turn });
    if (r === undefined || r === "FAILED" || r === "KILLED") return r;
    if (d.render.condition(task.condition, d.vars(tr, task))) return r;
    const freq = (task.checkFrequency ?? {}) as CheckFrequency;
    const fail = task.failOnMaxReached === true ? "FAILED" : r;
    const maxIterations = freq.maxIterations ?? 100;
    if (turn + 1 >= maxIterations) return fail;
    const interval = parseDuration(freq.interval ?? "PT1S");
    const started = Date.parse(tr.state.histories[0].date);
    if (freq.maxDuration !== undefined && d.ctx.now + interval > started + parseDuration(freq.maxDuration)) return fail;
    d.scheduleTimer({ id: waitForTimerId(tr.id, turn), at: d.ctx.now + interval, kind: "waitfor", taskRunId: tr.id, attempt: turn });
    return undefined;
  },
};
