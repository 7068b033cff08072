import type { Task } from "../../../schemas/flow-types.js";
import type { Decider, Hints, Outcome } from "../decider.js";
import type { State, TaskRun } from "../model.js";

/** The executor-side logic of one flowable task type. */
export interface FlowableLogic {
  /**
   * Starts the task run in its own way (Subflow, Pause); returns true when it did. Without it the
   * task run goes RUNNING and `next` is called.
   */
  start?(d: Decider, tr: TaskRun, task: Task): boolean;
  /**
   * Creates the children that may start now and returns the outcome of the main children, or
   * undefined while some still run. `hints` names the loop slots whose children changed. Throws
   * `FlowableFailure` (or an expression error) when the task's own properties do not render.
   */
  next?(d: Decider, tr: TaskRun, task: Task, hints: Hints): Outcome;
  /** Maps the final state (after errors/finally), e.g. AllowFailure turns FAILED into WARNING. */
  finish?(state: State): State;
}
