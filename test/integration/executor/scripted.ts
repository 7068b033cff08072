/**
 * Test helpers for the executor shell: a scripted worker that consumes `worker-jobs` and answers
 * on `worker-results` as the test says, and an observer that folds the `executions` topic into
 * per-execution event lists and wakes waiters when a condition holds.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderDeep } from "../../../expressions/index.js";
import { silentLogger } from "../../../common/logger.js";
import type { ExecutionEvent } from "../../../processors/executor/events.js";
import { isTerminal, type State } from "../../../processors/executor/model.js";
import { Executor, type ExecutorOptions } from "../../../processors/executor/shell/executor.js";
import type { FlowResolver } from "../../../processors/executor/shell/flow-resolver.js";
import { decodeEvent, encodeCommand, type RecordCodec } from "../../../processors/executor/shell/records.js";
import type { ExecutorCommand } from "../../../processors/executor/inputs.js";
import { avroRecordCodec } from "../../../processors/worker/record-codec.js";
import type { WorkerJob, WorkerResult } from "../../../processors/worker/protocol.js";
import { openLog } from "../../../topology/factory.js";
import type { Log, LogRecord, Membership } from "../../../topology/log.js";
import { topicCatalogue } from "../../../topology/topics.js";

export const codec: RecordCodec = avroRecordCodec;

/** What the scripted worker does with a job. */
export type Answer =
  | { kind: "complete"; state?: "SUCCESS" | "WARNING" | "FAILED"; outputs?: Record<string, unknown>; error?: string }
  /** Sends Started (committed with the job's offset) and nothing more: a worker that died. */
  | { kind: "start-only" }
  /** Leaves the job uncommitted and unanswered (the process stops before it took it). */
  | { kind: "ignore" };

/** Default answers: Return-like tasks succeed with their rendered `format`, everything else with no outputs. */
export function defaultAnswer(job: WorkerJob): Answer {
  const format = (job.task as { format?: unknown }).format;
  if (typeof format === "string") return { kind: "complete", outputs: { value: renderDeep(format, job.vars) } };
  return { kind: "complete" };
}

export class ScriptedWorker {
  readonly jobs: WorkerJob[] = [];
  private membership: Membership | undefined;

  constructor(
    private readonly log: Log,
    readonly workerId: string,
    private readonly script: (job: WorkerJob) => Answer = defaultAnswer,
  ) {}

  async start(): Promise<void> {
    this.membership = await this.log.join("worker-default", ["worker-jobs"], {
      onAssign: async () => undefined,
      onRevoke: async () => undefined,
      onRecords: (batch) => this.onRecords(batch),
    });
  }

  async stop(): Promise<void> {
    await this.membership?.leave();
  }

  private async onRecords(batch: LogRecord[]): Promise<void> {
    for (const rec of batch) {
      const { type, value } = codec.decode(rec.value);
      if (type !== "WorkerJob") throw new Error(`unexpected ${type} on worker-jobs`);
      const job = value as WorkerJob;
      const answer = this.script(job);
      if (answer.kind === "ignore") return;
      this.jobs.push(job);
      const base = { executionId: job.executionId, taskRunId: job.taskRunId, attempt: job.attempt, workerId: this.workerId };
      const started: WorkerResult = { kind: "started", ...base };
      await this.membership?.commit({
        produce: [{ topic: "worker-results", key: job.executionId, value: codec.encode("WorkerResult", started) }],
        offsets: [{ topic: rec.topic, partition: rec.partition, next: rec.offset + 1n }],
      });
      if (answer.kind === "start-only") continue;
      const completed: WorkerResult = {
        kind: "completed", ...base, state: answer.state ?? "SUCCESS",
        ...(answer.outputs ? { outputs: answer.outputs } : {}),
        ...(answer.error ? { error: { message: answer.error } } : {}),
      };
      await this.log.append([{ topic: "worker-results", key: job.executionId, value: codec.encode("WorkerResult", completed) }]);
    }
  }
}

/** Folds `executions` into event lists per execution; `until` resolves when a predicate holds. */
export class Observer {
  readonly events = new Map<string, ExecutionEvent[]>();
  private waiters: Array<{ check: () => boolean; resolve: () => void }> = [];
  private membership: Membership | undefined;

  constructor(private readonly log: Log, private readonly group = "test-observer") {}

  async start(): Promise<void> {
    this.membership = await this.log.join(this.group, ["executions"], {
      onAssign: async () => undefined,
      onRevoke: async () => undefined,
      onRecords: async (batch) => {
        for (const rec of batch) {
          const e = decodeEvent(codec, rec.value);
          const list = this.events.get(e.executionId) ?? [];
          list.push(e);
          this.events.set(e.executionId, list);
        }
        this.waiters = this.waiters.filter((w) => {
          if (!w.check()) return true;
          w.resolve();
          return false;
        });
      },
    });
  }

  async stop(): Promise<void> {
    await this.membership?.leave();
  }

  /** Resolves once `check` is true (checked after every delivered batch). */
  until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ check, resolve }));
  }

  /** The execution's current state per its events. */
  state(executionId: string): State | undefined {
    let s: State | undefined;
    for (const e of this.events.get(executionId) ?? []) {
      if (e.type === "ExecutionCreated") s = e.execution.state.current;
      else if (e.type === "ExecutionStateChanged") s = e.state;
    }
    return s;
  }

  /** Resolves with the terminal state of the execution. */
  async terminal(executionId: string): Promise<State> {
    await this.until(() => {
      const s = this.state(executionId);
      return s !== undefined && isTerminal(s) && s !== "RETRIED";
    });
    return this.state(executionId) as State;
  }

  /** Events of the execution of the given type. */
  of<T extends ExecutionEvent["type"]>(executionId: string, type: T): Array<Extract<ExecutionEvent, { type: T }>> {
    return (this.events.get(executionId) ?? []).filter((e): e is Extract<ExecutionEvent, { type: T }> => e.type === type);
  }
}

/** A temporary data directory, removed by `cleanup`. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "lanner-executor-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Opens the embedded log in `dir` with every topic (4 execution partitions keep tests light). */
export async function openTestLog(dir: string): Promise<Log> {
  const log = await openLog({ backend: "embedded", dataDir: dir, durability: "os" });
  await log.ensureTopics([...topicCatalogue({ executionPartitions: 4 }).specs(), { name: "worker-control", partitions: 1 }]);
  return log;
}

export function startExecutor(log: Log, flows: FlowResolver, extra: Partial<ExecutorOptions> = {}): Executor {
  return new Executor({ log, logger: silentLogger(), codec, flows, ...extra });
}

/** Appends a command to `execution-commands`, keyed by its execution id. */
export async function send(log: Log, cmd: ExecutorCommand): Promise<void> {
  await log.append([{ topic: "execution-commands", key: cmd.executionId, value: encodeCommand(codec, cmd) }]);
}
