/** The executor's pure core: reduce, the event fold, the model, and the concurrency reducer. */
export { reduce, flowKey, type ReduceResult } from "./reduce.js";
export { applyEvent, replayHistory, canTransition, HistoryError } from "./apply.js";
export { reduceConcurrency, type ConcurrencyState, type ConcurrencyInput } from "./concurrency.js";
export type { ExecutionEvent, ExecutionEventType } from "./events.js";
export type { Action } from "./actions.js";
export type * from "./inputs.js";
export {
  STATES, isTerminal, isFailure, executionView, cloneState, isoDate,
  type State, type Execution, type ExecutionState, type TaskRun, type Attempt, type StateHistory, type Timer, type ParentRef,
} from "./model.js";
export { taskRunId, childExecutionId, retryExecutionId, deterministicId, batchExecutionId } from "./ids.js";
export { retryDelay, nextRetryAt } from "./retry.js";
export { taskRunVars, executionVars, referencedOutputs } from "./variables.js";
