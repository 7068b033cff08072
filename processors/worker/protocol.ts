import type { Task } from "../../schemas/flow-types.js";

/**
 * What the executor sends a worker (topic `worker-jobs`, keyed by execution id) and what the
 * worker answers (topic `worker-results`, same key, so the result lands on the executor
 * partition that owns the execution).
 */
export interface WorkerJob {
  tenantId: string;
  namespace: string;
  flowId: string;
  executionId: string;
  taskRunId: string;
  /** Attempt number, from 1; a result for an attempt that is not current is ignored. */
  attempt: number;
  /** The task as declared (expressions unrendered); the worker renders its properties. */
  task: Task;
  /** The variables expressions see for this task run (inputs, outputs so far, vars, flow, execution, taskrun, …). */
  vars: Record<string, unknown>;
  /** The worker group that must run it; undefined for the default group. */
  workerGroup?: string;
  /** Absolute deadline (epoch ms) from the task's `timeout`, if any. */
  deadline?: number;
}

export type WorkerResult =
  | {
      kind: "started";
      executionId: string;
      taskRunId: string;
      attempt: number;
      workerId: string;
    }
  | {
      kind: "completed";
      executionId: string;
      taskRunId: string;
      attempt: number;
      workerId: string;
      state: "SUCCESS" | "WARNING" | "FAILED" | "KILLED";
      outputs?: Record<string, unknown>;
      error?: { message: string; code?: string };
    };

/**
 * Topic `worker-control` (every worker reads every partition): stop a running attempt. A worker
 * that runs the attempt aborts it; `workerId`, when set, names the worker it was sent to.
 */
export interface CancelJob {
  executionId: string;
  taskRunId: string;
  attempt: number;
  workerId?: string;
}

/** Topic `heartbeats` (key workerId): a worker's periodic sign of life. */
export interface WorkerHeartbeat {
  workerId: string;
  /** The worker group it serves; `default` for the default group. */
  group: string;
  threads: number;
  /** Attempts running (in the final STOPPED heartbeat: the attempts handed back unfinished). */
  running: number;
  /** Epoch milliseconds. */
  at: number;
  status: "RUNNING" | "STOPPING" | "STOPPED";
}

/** Topic `logs` (key executionId): one log line of a task run. */
export interface TaskLogLine {
  tenantId: string;
  namespace: string;
  flowId: string;
  executionId: string;
  taskRunId: string;
  taskId: string;
  attempt: number;
  level: "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR";
  message: string;
  /** Epoch milliseconds. */
  timestamp: number;
  workerId: string;
}
