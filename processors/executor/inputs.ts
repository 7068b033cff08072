import type { Flow, Label } from "../../schemas/flow-types.js";
import type { WorkerResult } from "../worker/protocol.js";
import type { ExecutionState, ParentRef, State } from "./model.js";

/** Starts an execution. A create for an execution that already exists is a no-op. */
export interface CreateExecutionCommand {
  type: "CreateExecution";
  executionId: string;
  /** The full flow snapshot: the execution's state never depends on a flow store. */
  flow: Flow;
  /** Already validated and coerced. */
  inputs: Record<string, unknown>;
  labels?: Label[];
  trigger?: Record<string, unknown>;
  parent?: ParentRef;
  /** Retries with behavior CREATE_NEW_EXECUTION count executions here (1 for a first run). */
  attemptNumber?: number;
  /** Replay: copy the source's task runs that precede `fromTaskRunId`, restart from it. */
  replay?: { source: ExecutionState; fromTaskRunId: string };
}

export interface KillCommand { type: "Kill"; executionId: string; cascade?: boolean }
export interface RestartCommand { type: "Restart"; executionId: string }
export interface PauseCommand { type: "Pause"; executionId: string }
export interface ResumeCommand {
  type: "Resume";
  executionId: string;
  inputs?: Record<string, unknown>;
  /**
   * Set by a sender acting for a flow (the Resume task): the tenant, and optionally the
   * namespace and flow, the execution must belong to; a resume of any other execution is ignored.
   */
  tenantId?: string;
  namespace?: string;
  flowId?: string;
}
export interface SetLabelsCommand { type: "SetLabels"; executionId: string; labels: Label[] }
export interface WorkerLostCommand { type: "WorkerLost"; executionId: string; workerId: string }
export interface TimerFiredCommand { type: "TimerFired"; executionId: string; timerId: string }
export interface SubflowEndedCommand {
  type: "SubflowEnded";
  executionId: string;
  childExecutionId: string;
  parentTaskRunId: string;
  state: State;
  outputs?: Record<string, unknown>;
}
/** The concurrency reducer's answer to `AcquireConcurrencySlot`. */
export interface ConcurrencySlotCommand {
  type: "ConcurrencySlot";
  executionId: string;
  decision: "granted" | "queued" | "rejected";
  /** For `rejected`: CANCELLED (behavior CANCEL) or FAILED (behavior FAIL). */
  state?: "CANCELLED" | "FAILED";
}
export interface WorkerResultInput { type: "WorkerResult"; executionId: string; result: WorkerResult }

export type ExecutorCommand =
  | CreateExecutionCommand | KillCommand | RestartCommand | PauseCommand | ResumeCommand
  | SetLabelsCommand | WorkerLostCommand | TimerFiredCommand | SubflowEndedCommand | ConcurrencySlotCommand;

/** Everything the executor consumes for one execution (commands and worker results). */
export type ExecutorInput = ExecutorCommand | WorkerResultInput;

/** What `reduce` gets from outside besides the input: the clock and the environment. */
export interface ReduceContext {
  now: number;
  /** `envs.*` for expressions, passed by the shell (reduce never reads process.env). */
  envs?: Record<string, string>;
}
