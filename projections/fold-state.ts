import type { Execution, ExecutionState } from "../processors/executor/model.js";

/**
 * What the indexer stores beside an execution's view so it can keep folding events after a
 * restart: the parts of `ExecutionState` the view does not already hold (task runs, their order
 * and the header are in the view; storing them twice would double every row).
 */
export type FoldState = Omit<ExecutionState, "execution" | "taskRuns" | "order">;

/** The part of `state` to store as the row's `fold`. */
export function foldOf(state: ExecutionState): FoldState {
  const { execution: _execution, taskRuns: _taskRuns, order: _order, ...rest } = state;
  return rest;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Rebuilds the executor state from a stored view and fold; undefined when `fold` is not one (a
 * row written by something else), so the caller can refuse to continue from it.
 */
export function stateFrom(view: Execution, fold: unknown): ExecutionState | undefined {
  if (!isObject(fold) || typeof fold.seq !== "number" || !isObject(fold.flow)) return undefined;
  const { taskRunList, ...execution } = view;
  return {
    ...(fold as FoldState),
    execution,
    taskRuns: Object.fromEntries(taskRunList.map((tr) => [tr.id, tr])),
    order: taskRunList.map((tr) => tr.id),
  };
}
