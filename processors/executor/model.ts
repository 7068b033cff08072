import type { Flow, Label } from "../../schemas/flow-types.js";

/** Every execution / task-run state Kestra knows (COMPATIBILITY.md), with the same names. */
export const STATES = [
  "CREATED", "QUEUED", "RUNNING", "PAUSED", "RESTARTED", "KILLING", "RETRYING",
  "SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "RETRIED", "SKIPPED",
] as const;
export type State = (typeof STATES)[number];

const TERMINAL: ReadonlySet<State> = new Set<State>(["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "RETRIED", "SKIPPED"]);

/** True for states nothing moves out of, except through a restart. */
export function isTerminal(s: State): boolean {
  return TERMINAL.has(s);
}

/** True for terminal states that count as a failure for the parent (before allowFailure). */
export function isFailure(s: State): boolean {
  return s === "FAILED" || s === "KILLED" || s === "CANCELLED" || s === "RETRIED";
}

/** One entry of a state history. `date` is ISO-8601, from the reducer's clock. */
export interface StateEntry {
  state: State;
  date: string;
}

export interface StateHistory {
  current: State;
  histories: StateEntry[];
}

export interface Attempt {
  number: number;
  state: StateHistory;
  workerId?: string;
}

/** Progress of an iterating flowable (ForEach): the resolved values and group counters. */
export interface IterationProgress {
  values: string[];
  /** Groups (one per value, by index) started so far; the next one to start is `values[started]`. */
  started: number;
  ended: number;
  failed: number;
  warned: number;
  killed: number;
  /** Groups that ended, by index, with their outcome (so a group is never ended twice). */
  endedSlots: Record<number, State>;
}

/**
 * ForEachItem's `<id>_items` task run: its batches and the subflow executions started for them.
 * Only the batch files' common URI prefix and suffix are kept (batch `i`'s file is
 * `uriPrefix + (i + 1) + uriSuffix`), never the items themselves.
 */
export interface BatchProgress {
  count: number;
  uriPrefix: string;
  uriSuffix: string;
  /** Bumped by each restart of the task run, so a restart starts new subflow executions. */
  generation: number;
  /** Child execution id → batch index (answers SubflowEnded in O(1)). */
  children: Record<string, number>;
  /** Batch index → the state its subflow execution ended in. */
  ended: Record<number, State>;
  endedCount: number;
  /** Batch index → the outputs of its subflow execution, when it had some (what the merge writes). */
  outputs: Record<number, Record<string, unknown>>;
}

export interface TaskRun {
  id: string;
  executionId: string;
  taskId: string;
  parentTaskRunId?: string;
  /** The loop value (ForEach item) this task run belongs to, propagated to nested children. */
  value?: string;
  /** Iteration number (WaitFor loop turns). */
  iteration?: number;
  state: StateHistory;
  attempts: Attempt[];
  outputs?: Record<string, unknown>;
  /** Why it failed, when it did (worker error, rendering error, timeout…). */
  error?: { message: string; code?: string };
  /** Loop values of the enclosing ForEach iterations, outermost first (addresses outputs). */
  valuePath: string[];
  /** ForEach group index this task run belongs to (children of an iterating parent only). */
  slot?: number;
  /** Iterating flowables only. */
  iter?: IterationProgress;
  /** WaitFor task runs: the loop turn in progress (its children carry it as `iteration`). */
  loopTurn?: number;
  /** Subflow task runs: the child execution. */
  childExecutionId?: string;
}

export interface ParentRef {
  executionId: string;
  taskRunId: string;
  namespace?: string;
  flowId?: string;
}

/** The Kestra-shaped view of an execution (what the API and projections show). */
export interface Execution {
  id: string;
  tenantId: string;
  namespace: string;
  flowId: string;
  flowRevision: number;
  state: StateHistory;
  inputs: Record<string, unknown>;
  labels: Label[];
  variables?: Record<string, unknown>;
  taskRunList: TaskRun[];
  outputs?: Record<string, unknown>;
  trigger?: Record<string, unknown>;
  parentId?: string;
  parentTaskRunId?: string;
  originalId: string;
  /** 1 for a first run; incremented by retries with behavior CREATE_NEW_EXECUTION. */
  attemptNumber: number;
  startDate: string;
  endDate?: string;
}

export type ExecutionHeader = Omit<Execution, "taskRunList">;

export interface Timer {
  id: string;
  at: number;
  kind: "retry" | "timeout" | "pause-delay" | "pause-timeout" | "waitfor";
  taskRunId: string;
  attempt?: number;
}

/**
 * The executor's state for one execution: a fold of its events. Task runs are indexed by id; the
 * creation order, the set of non-terminal task runs and the outputs tree are kept up to date by
 * `applyEvent` so deciding what comes next never scans every task run.
 */
export interface ExecutionState {
  /** Sequence number of the last applied event. */
  seq: number;
  flow: Flow;
  execution: ExecutionHeader;
  taskRuns: Record<string, TaskRun>;
  /** Task-run ids in creation order. */
  order: string[];
  /** Ids of non-terminal task runs. */
  active: Record<string, true>;
  /** `outputs.<taskId>[value]…` as expressions see them. */
  outputsTree: Record<string, unknown>;
  timers: Record<string, Timer>;
  /** A task asked for a new execution as its retry (behavior CREATE_NEW_EXECUTION). */
  retriedAsNewExecution?: boolean;
  /**
   * ForEachItem `<id>_items` task runs (by id): their batches and subflow executions. Kept beside
   * the task runs, not in them, so the Kestra-shaped task runs the read side stores stay small.
   */
  batches?: Record<string, BatchProgress>;
}

/** ISO date for an epoch-ms instant. */
export function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}

/** The Kestra-shaped execution, with its task runs in creation order (O(task runs): for views only). */
export function executionView(state: ExecutionState): Execution {
  return { ...state.execution, taskRunList: state.order.map((id) => state.taskRuns[id]) };
}

/** A deep copy of a state, for callers that want to keep the old one (reduce updates in place). */
export function cloneState(state: ExecutionState): ExecutionState {
  return structuredClone(state);
}
