import { randomUUID } from "node:crypto";
import { LannerError } from "../../common/errors.js";
import { renderDeep, renderTyped, type RenderServices } from "../../expressions/index.js";
import type { Level, Task } from "../../schemas/flow-types.js";
import { StorageKvStore } from "../../storage/kv-store.js";
import type { Storage } from "../../storage/storage.js";
import type { TaskRegistry } from "../../tasks/registry.js";
import type { RunContext, RunResult } from "../../tasks/types.js";
import type { ExecutorCommand } from "../executor/inputs.js";
import type { TaskLogLine, WorkerJob, WorkerResult } from "./protocol.js";
import { KvReads } from "./kv-reads.js";
import { envSecret } from "./secrets.js";
import { StorageReads } from "./storage-reads.js";

/** What a finished attempt reports (the fields of a completed WorkerResult). */
export type AttemptOutcome = Pick<Extract<WorkerResult, { kind: "completed" }>, "state" | "outputs" | "error">;

/** What an attempt needs from its worker. */
export interface AttemptEnv {
  registry: TaskRegistry;
  /** The root internal storage; the attempt sees its execution's scope of it. */
  storage: Storage;
  workerId: string;
  /** Sends one log line to the `logs` topic (buffered by the worker). */
  emitLog(line: TaskLogLine): void;
  /** Appends a command to `execution-commands`; resolves once it is durable. Absent: tasks cannot send commands here. */
  sendCommand?(command: ExecutorCommand): Promise<void>;
  /** After an abort, how long to wait for the task to stop before reporting anyway. */
  killGraceMs: number;
  /** Environment for `secret()`; default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

const LEVEL_RANK: Record<Level, number> = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4 };
/** Longest log message kept; longer ones are cut (a task printing a huge blob in one line). */
const MAX_MESSAGE = 256 * 1024;

/** What running one task (the job's own, or a WorkingDirectory child) needs. */
export interface TaskScope {
  job: WorkerJob;
  env: AttemptEnv;
  signal: AbortSignal;
  workingDir: string;
  storage: Storage;
}

/**
 * Runs one runnable task inside an attempt: resolves its type, builds its RunContext (vars,
 * render with the worker's services, log lines tagged with `task.id`, scoped storage, the
 * attempt's signal and working directory) and calls `run`. Unknown or non-runnable types fail
 * with a clear error instead of crashing the worker.
 */
export async function runTask(scope: TaskScope, task: Task, vars: Record<string, unknown>): Promise<RunResult> {
  const def = scope.env.registry.resolve(task.type);
  if (def === undefined) {
    throw new LannerError("TASK_TYPE_UNKNOWN", `Unknown task type ${JSON.stringify(task.type)}: this worker has no such task (check the type name or the plugins installed on the worker)`);
  }
  if (def.kind !== "runnable" || def.run === undefined) {
    throw new LannerError("TASK_NOT_RUNNABLE", `Task type ${task.type} is not run by a worker (it is a ${def.kind} task)`);
  }
  const { job } = scope;
  const reads = new StorageReads(scope.storage);
  // The KV store spans the tenant's namespaces, so it sits on the root storage, not the execution's scope.
  const kv = new StorageKvStore(scope.env.storage);
  const kvReads = new KvReads(kv, job.tenantId, job.namespace);
  const services: RenderServices = {
    now: Date.now,
    uuid: randomUUID,
    secret: (name) => envSecret(name, scope.env.env),
    read: (path) => reads.read(path),
    kv: (key, namespace) => kvReads.kv(key, namespace),
  };
  // kv() first, so that read(kv('path')) finds its key loaded; files are not loaded yet then.
  await kvReads.preload(task, vars, { ...services, read: () => "" });
  await reads.preload(task, vars, services);
  const minRank = LEVEL_RANK[task.logLevel ?? job.task.logLevel ?? "TRACE"];
  const ctx: RunContext = {
    tenantId: job.tenantId,
    namespace: job.namespace,
    flowId: job.flowId,
    executionId: job.executionId,
    taskRunId: job.taskRunId,
    attempt: job.attempt,
    vars,
    render: <T,>(value: unknown): T => renderDeep<T>(value, vars, { services }),
    renderTyped: (value) => (typeof value === "string" ? renderTyped(value, vars, { services }) : renderDeep(value, vars, { services })),
    log(level, message) {
      if (LEVEL_RANK[level] < minRank) return;
      emitLine(scope, task.id, level, message);
    },
    storage: scope.storage,
    kv,
    signal: scope.signal,
    // read through, so the attempt's directory is created only for a task that asks for it
    get workingDir() {
      return scope.workingDir;
    },
    // The tenant comes from the job, never from the task: a flow cannot act for another tenant.
    sendCommand: async (command) => {
      if (scope.env.sendCommand === undefined) throw new LannerError("TASK_COMMANDS_UNAVAILABLE", `Task ${task.id} sends ${command.type} commands, which this runner cannot deliver`);
      await scope.env.sendCommand({ ...command, tenantId: job.tenantId });
    },
  };
  return def.run(task, ctx);
}

export function emitLine(scope: TaskScope, taskId: string, level: Level, message: string): void {
  const { job } = scope;
  scope.env.emitLog({
    tenantId: job.tenantId,
    namespace: job.namespace,
    flowId: job.flowId,
    executionId: job.executionId,
    taskRunId: job.taskRunId,
    taskId,
    attempt: job.attempt,
    level,
    message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}… (truncated)` : message,
    timestamp: Date.now(),
    workerId: scope.env.workerId,
  });
}

/** The error of a failed attempt as results carry it. */
export function errorOf(err: unknown): { message: string; code?: string } {
  if (err instanceof LannerError) return { message: err.message, code: err.code };
  if (err instanceof Error) return { message: err.message || err.name };
  return { message: String(err) };
}

