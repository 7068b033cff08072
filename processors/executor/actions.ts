import type { Label } from "../../schemas/flow-types.js";
import type { WorkerJob } from "../worker/protocol.js";
import type { ParentRef, State } from "./model.js";

/** Side effects as data; the shell runs them only after the unit of work is committed. */
export type Action =
  | { type: "DispatchJob"; job: WorkerJob }
  | { type: "CancelJob"; executionId: string; taskRunId: string; attempt: number; workerId?: string }
  | { type: "ScheduleTimer"; executionId: string; timerId: string; at: number }
  | { type: "CancelTimer"; executionId: string; timerId: string }
  /** A new execution: a subflow's child (with `parent`) or a retry with behavior CREATE_NEW_EXECUTION. */
  | { type: "CreateExecution"; executionId: string; tenantId: string; namespace: string; flowId: string; revision?: number;
      inputs: Record<string, unknown>; labels: Label[]; parent?: ParentRef; attemptNumber?: number }
  | { type: "KillExecution"; executionId: string }
  | { type: "NotifyParent"; parentExecutionId: string; parentTaskRunId: string; childExecutionId: string;
      state: State; outputs?: Record<string, unknown> }
  | { type: "ExecutionEnded"; execution: { id: string; tenantId: string; namespace: string; flowId: string;
      flowRevision: number; state: State; labels: Label[]; outputs?: Record<string, unknown> } }
  | { type: "AcquireConcurrencySlot"; flowKey: string; executionId: string; limit: number; behavior: "QUEUE" | "CANCEL" | "FAIL" }
  | { type: "ReleaseConcurrencySlot"; flowKey: string; executionId: string };
