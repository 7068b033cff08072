import type { z } from "zod";
import type { Level, Task } from "../schemas/flow-types.js";
import type { KvStore } from "../storage/kv-store.js";
import type { Storage } from "../storage/storage.js";
import type { ResumeCommand } from "../processors/executor/inputs.js";

/** A command a task may send to the executor; the worker adds the task's tenant to it. */
export type TaskCommand = Omit<ResumeCommand, "tenantId">;

/** What a runnable task gets from the worker while it runs. */
export interface RunContext {
  tenantId: string;
  namespace: string;
  flowId: string;
  executionId: string;
  taskRunId: string;
  attempt: number;
  /** The variables expressions see: inputs, outputs, vars, flow, execution, taskrun, trigger, labels, envs… */
  vars: Record<string, unknown>;
  /** Renders every string inside `value` (deeply) against `vars`; non-strings pass through. */
  render<T = unknown>(value: unknown): T;
  /**
   * Like `render`, except that a string that is exactly one `{{ expression }}` renders to the
   * expression's typed value (number, list, map…), as Kestra's `renderTyped` does.
   */
  renderTyped(value: unknown): unknown;
  /** Streams one log line to the execution's logs (the `logs` topic). */
  log(level: Level, message: string): void;
  /** Internal storage, scoped so tasks read and write under their execution's prefix. */
  storage: Storage;
  /**
   * The namespace key-value store over the whole internal storage (not the execution's scope);
   * tasks address it with `ctx.tenantId`, never another tenant.
   */
  kv: KvStore;
  /** Aborted when the execution is killed or the worker shuts down hard; tasks stop promptly. */
  signal: AbortSignal;
  /** A scratch directory that exists for the attempt and is removed after it. */
  workingDir: string;
  /**
   * Appends `command` to `execution-commands`, keyed by its execution id so the executor
   * partition that owns that execution applies it. The command carries this task's tenant: the
   * executor ignores it for another tenant's execution. Resolves once the command is durable in
   * the log; what it then does is the executor's decision under its own rules (a Resume of an
   * execution that is not PAUSED changes nothing, one for an unknown execution is dropped).
   * Rejects when the log cannot take it, which fails the attempt (and lets its retry run).
   */
  sendCommand(command: TaskCommand): Promise<void>;
}

/** What `run` returns. Throwing a `LannerError` (or any error) fails the attempt with its message. */
export interface RunResult {
  outputs?: Record<string, unknown>;
  /** WARNING ends the task run in WARNING; default SUCCESS. */
  state?: "SUCCESS" | "WARNING";
}

/** One task type: its names, the schema of its own properties, and how it runs. */
export interface TaskDefinition {
  /** The canonical Kestra name first (`io.kestra.plugin.core.log.Log`), then older aliases and short names. */
  types: string[];
  kind: "flowable" | "runnable";
  /** Schema of the type's own properties (the common task fields are checked by the flow schema). */
  properties: z.ZodType;
  /** Flowables: property names that hold child task lists (`tasks`, `then`, `else`, …). */
  childTaskLists?: string[];
  /**
   * Optional: rewrites the properties as written under an older alias into the canonical shape
   * (e.g. `EachParallel`'s `value`/`concurrent` into `ForEach`'s `values`/`concurrencyLimit`),
   * before `properties` validates them. `writtenType` is the type name the YAML used. Pure.
   */
  normalize?(properties: Record<string, unknown>, writtenType: string): Record<string, unknown>;
  /** Runnables: runs one attempt on a worker. */
  run?(task: Task, ctx: RunContext): Promise<RunResult>;
}
