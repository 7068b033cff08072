import type { Flow, Label } from "../../schemas/flow-types.js";
import type { ExecutionHeader, State, TaskRun, Timer } from "./model.js";

/** Fields every event has: its place in the execution's history and the reducer's clock. */
interface Base {
  executionId: string;
  /** 1, 2, 3… per execution, without gaps. */
  seq: number;
  /** Epoch ms (ctx.now of the reduce that emitted it). */
  at: number;
}

export type ExecutionEvent = Base & (
  | { type: "ExecutionCreated"; execution: ExecutionHeader; flow: Flow }
  | { type: "ExecutionStateChanged"; state: State; reason: string }
  | { type: "TaskRunCreated"; taskRunId: string; taskId: string; parentTaskRunId?: string; value?: string;
      valuePath: string[]; slot?: number; iteration?: number }
  /** A task run copied from a replay's source execution, as it was there. */
  | { type: "TaskRunCopied"; taskRun: TaskRun }
  | { type: "TaskRunStateChanged"; taskRunId: string; state: State; reason: string; error?: { message: string; code?: string } }
  | { type: "AttemptCreated"; taskRunId: string; attempt: number }
  | { type: "AttemptStarted"; taskRunId: string; attempt: number; workerId: string }
  | { type: "AttemptEnded"; taskRunId: string; attempt: number; state: State; reason: string }
  | { type: "TaskRunOutputs"; taskRunId: string; outputs: Record<string, unknown> }
  | { type: "SubflowLinked"; taskRunId: string; childExecutionId: string }
  /**
   * ForEachItem: the batches the split wrote; one subflow execution per batch (ids from
   * `batchExecutionId`). With `rerun` (a restart that retries failed batches) the batches ended so
   * far are kept and only those listed start again, in `generation`.
   */
  | { type: "BatchesPlanned"; taskRunId: string; count: number; uriPrefix: string; uriSuffix: string; generation: number; rerun?: number[] }
  /** ForEachItem: the subflow execution of batch `index` ended. */
  | { type: "BatchEnded"; taskRunId: string; index: number; state: State; outputs?: Record<string, unknown> }
  | { type: "IterationPlanned"; taskRunId: string; values: string[] }
  | { type: "IterationStarted"; taskRunId: string; index: number }
  | { type: "IterationEnded"; taskRunId: string; index: number; state: State }
  | { type: "LoopTurnStarted"; taskRunId: string; turn: number }
  | { type: "ResultIgnored"; taskRunId: string; attempt: number; reason: string }
  | { type: "TimerScheduled"; timer: Timer }
  | { type: "TimerCleared"; timerId: string; reason: string }
  | { type: "LabelsChanged"; labels: Label[] }
  | { type: "ExecutionOutputs"; outputs: Record<string, unknown> }
  | { type: "RetriedAsNewExecution"; taskRunId: string; newExecutionId: string }
);

export type ExecutionEventType = ExecutionEvent["type"];

/** The event payload `decide` writes; `seq`, `at` and `executionId` are added when emitted. */
export type EventBody = ExecutionEvent extends infer E ? (E extends ExecutionEvent ? Omit<E, "seq" | "at" | "executionId"> : never) : never;
