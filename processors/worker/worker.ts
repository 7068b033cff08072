import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { LannerError } from "../../common/errors.js";
import type { Storage } from "../../storage/storage.js";
import { registry as defaultRegistry, type TaskRegistry } from "../../tasks/registry.js";
import type { AssignedPartition, CommittedOffset, Log, LogRecord, Membership, ProduceRecord, TopicPartition } from "../../topology/log.js";
import { Attempt, type AttemptOutcome } from "./attempt.js";
import { LogBuffer } from "./log-buffer.js";
import type { CancelJob, WorkerHeartbeat, WorkerJob, WorkerResult } from "./protocol.js";
import { avroRecordCodec, type RecordCodec } from "./record-codec.js";
import { WorkerRecords } from "./records.js";
import { Slots, SLOTS_CLOSED } from "./slots.js";

export interface WorkerOptions {
  log: Log;
  logger: Logger;
  /** The root internal storage; each attempt sees its execution's scope of it. */
  storage: Storage;
  /** Attempts run at once at most (≥ 1). */
  threads: number;
  /** The worker group served; undefined for the default group. */
  group?: string;
  heartbeatIntervalMs: number;
  /** Default: a random UUID (a restarted worker is a new worker). */
  workerId?: string;
  /** After an abort (kill, deadline, hand-back), how long a task may take to stop before it is reported anyway. Default 15 s. */
  killGraceMs?: number;
  /** Task types; default the built-in registry. */
  registry?: TaskRegistry;
  /** Environment for `secret()`; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Topic name prefix (as the topic catalogue applies it); default none. */
  topicPrefix?: string;
  /** Record codec shared with the other roles; default the Avro envelope codec. */
  codec?: RecordCodec;
}

export interface StopOptions {
  /** True: let running attempts finish within `timeoutMs`; false: hand them back at once. */
  graceful: boolean;
  /** How long running attempts may take to finish before they are handed back. */
  timeoutMs: number;
}

/** Cancellations remembered for attempts not (yet) running here, at most. */
const MAX_EARLY_CANCELS = 10_000;
/** Tries to append a completed result before giving up on it (liveness cannot cover a lost result of a live worker). */
const RESULT_APPEND_TRIES = 6;

function attemptKey(a: { executionId: string; taskRunId: string; attempt: number }): string {
  return `${a.executionId}\u0000${a.taskRunId}\u0000${a.attempt}`;
}

function isCode(err: unknown, code: string): boolean {
  return err instanceof LannerError && err.code === code;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves (with undefined) once the current turn of the event loop, and its microtasks, are over. */
const endOfTurn = () => new Promise<undefined>((resolve) => setImmediate(resolve, undefined));

/**
 * The worker role: takes jobs of its worker group from `worker-jobs`, runs up to `threads` of
 * them at once, and reports `Started` (committed together with the job's offset) and `Completed`
 * results to `worker-results`. Streams task logs to `logs`, heartbeats to `heartbeats`, obeys
 * CancelJob broadcasts on `worker-control`, and on a graceful stop finishes or hands back its
 * running attempts.
 */
export class Worker {
  readonly workerId: string;
  readonly group: string | undefined;
  /** Attempts started / finished SUCCESS or WARNING / FAILED / KILLED on this worker. */
  started = 0;
  completed = 0;
  failed = 0;
  killed = 0;

  private readonly log: Log;
  private readonly logger: Logger;
  private readonly threads: number;
  private readonly heartbeatIntervalMs: number;
  private readonly killGraceMs: number;
  private readonly registry: TaskRegistry;
  private readonly records: WorkerRecords;
  private readonly slots: Slots;
  private readonly logs: LogBuffer;
  private readonly storage: Storage;
  private readonly env: NodeJS.ProcessEnv | undefined;
  private readonly running = new Map<string, { attempt: Attempt; done: Promise<void> }>();
  private readonly earlyCancels = new Set<string>();
  private readonly controlFloors = new Map<number, bigint>();
  private jobs: Membership | undefined;
  /** A pipelined jobs commit failed: the next batch fails with it, so delivery rewinds to the committed offset. */
  private jobsRewind: unknown = undefined;
  /** Resolves with the jobs membership: its first batch may arrive before `join` has returned. */
  private readonly jobsJoined: Promise<Membership>;
  private joinedJobs: (m: Membership) => void = () => undefined;
  private control: Membership | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatInFlight: Promise<void> = Promise.resolve();
  private state: "new" | "running" | "stopping" | "stopped" = "new";

  constructor(opts: WorkerOptions) {
    this.log = opts.log;
    this.workerId = opts.workerId ?? randomUUID();
    this.group = opts.group === undefined || opts.group === "" ? undefined : opts.group;
    this.logger = opts.logger.child({ role: "worker", workerId: this.workerId, ...(this.group !== undefined ? { workerGroup: this.group } : {}) });
    this.threads = opts.threads;
    this.slots = new Slots(opts.threads);
    if (!(opts.heartbeatIntervalMs > 0)) {
      throw new LannerError("WORKER_CONFIG_INVALID", `heartbeatIntervalMs must be positive, got ${String(opts.heartbeatIntervalMs)}`);
    }
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs;
    this.killGraceMs = opts.killGraceMs ?? 15_000;
    this.registry = opts.registry ?? defaultRegistry;
    this.records = new WorkerRecords(opts.codec ?? avroRecordCodec, opts.topicPrefix ?? "");
    this.logs = new LogBuffer(this.log, this.logger);
    this.storage = opts.storage;
    this.env = opts.env;
    this.jobsJoined = new Promise((resolve) => (this.joinedJobs = resolve));
  }

  /** Attempts running now. */
  get runningCount(): number {
    return this.running.size;
  }

  /** The consumer group on `worker-jobs` this worker belongs to. */
  get jobsGroup(): string {
    return `worker-${this.group ?? "default"}`;
  }

  /**
   * Starts the worker: listens to `worker-control` first (so no cancellation of an attempt it
   * starts can be missed), sends its first heartbeat, then joins its group on `worker-jobs`.
   */
  async start(): Promise<void> {
    if (this.state !== "new") throw new LannerError("WORKER_ALREADY_STARTED", "a worker starts once; create a new one to start again");
    this.state = "running";
    // This worker's private group is ephemeral: nobody comes back to it, so it never holds
    // retention back and its offsets go when it leaves.
    this.control = await this.log.join(`worker-control-${this.workerId}`, [this.records.topics.control], {
      onAssign: (assigned) => this.onControlAssign(assigned),
      onRevoke: async () => undefined,
      onRecords: (batch) => this.onControlRecords(batch),
      onError: (err, where) => this.logger.warn({ err, where }, "worker-control delivery failed"),
    }, { ephemeral: true });
    // Start the group at the end of the topic (cancellations sent before this worker existed are
    // not for it), and commit that so retention need not wait for this group.
    const floors: CommittedOffset[] = [...this.controlFloors].map(([partition, next]) => ({ topic: this.records.topics.control, partition, next }));
    if (floors.length > 0) await this.control.commit({ produce: [], offsets: floors }).catch((err: unknown) => this.logger.debug({ err }, "control offsets not committed"));
    await this.heartbeat("RUNNING", this.running.size);
    this.scheduleHeartbeat();
    this.jobs = await this.log.join(
      this.jobsGroup,
      [this.records.topics.jobs],
      {
        onAssign: async () => undefined,
        onRevoke: async () => undefined,
        onRecords: (batch) => this.onJobs(batch),
        onError: (err, where) => this.logger.warn({ err, where }, "worker-jobs delivery failed; the jobs will be delivered again"),
      },
      // A few jobs per batch: the worker asks only for what it can start soon. Jobs are read as
      // soon as the executor's unit is accepted (see `launch`): the result committed from one is
      // written after it, so a crash loses both or neither.
      { maxBatch: Math.max(1, Math.min(this.threads, 32)), memberId: this.workerId, readAhead: true },
    );
    this.joinedJobs(this.jobs);
    this.logger.info({ threads: this.threads }, "worker started");
  }

  /**
   * Stops the worker. Graceful: takes no more jobs (leaves the jobs group, so undelivered jobs go
   * to other members), lets running attempts finish within `timeoutMs`, then hands back the rest
   * (aborts them and sends no result; the final STOPPED heartbeat counts them so liveness
   * resubmits them at once). Resolves with the number handed back.
   */
  async stop(opts: StopOptions = { graceful: true, timeoutMs: 30_000 }): Promise<{ handedBack: number }> {
    if (this.state !== "running") return { handedBack: 0 };
    this.state = "stopping";
    if (this.heartbeatTimer !== undefined) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    // A periodic heartbeat already on its way lands before STOPPING, never after STOPPED.
    await this.heartbeatInFlight;
    await this.heartbeat("STOPPING", this.running.size);
    this.slots.close();
    // A closed or failed log must not keep the worker from stopping its attempts.
    await this.jobs?.leave().catch((err: unknown) => this.logger.warn({ err }, "leaving the jobs group failed"));
    if (opts.graceful && this.running.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...this.running.values()].map((r) => r.done)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, opts.timeoutMs)))),
      ]);
      clearTimeout(timer);
    }
    const rest = [...this.running.values()];
    for (const r of rest) r.attempt.abort("handback");
    await Promise.all(rest.map((r) => r.done));
    if (rest.length > 0) this.logger.warn({ handedBack: rest.length }, "attempts handed back unfinished");
    await this.logs.flush();
    await this.control?.leave().catch((err: unknown) => this.logger.warn({ err }, "leaving the control group failed"));
    await this.heartbeat("STOPPED", rest.length);
    this.state = "stopped";
    this.logger.info({ started: this.started, completed: this.completed, failed: this.failed, killed: this.killed }, "worker stopped");
    return { handedBack: rest.length };
  }

  // ---- jobs ----------------------------------------------------------------------------------

  private async onJobs(batch: LogRecord[]): Promise<void> {
    if (this.jobsRewind !== undefined) {
      const why = this.jobsRewind;
      this.jobsRewind = undefined;
      throw new LannerError("WORKER_JOBS_REWIND", `an earlier jobs commit failed (${why instanceof Error ? why.message : String(why)}); the jobs are delivered again from the committed offset`, { retriable: true, cause: why });
    }
    // Offsets of jobs skipped (another worker group's) not yet committed.
    let skipped: CommittedOffset | undefined;
    for (const rec of batch) {
      if (this.state !== "running") return;
      const next: CommittedOffset = { topic: rec.topic, partition: rec.partition, next: rec.offset + 1n };
      let job: WorkerJob;
      try {
        job = this.records.decodeJob(rec);
      } catch (err) {
        this.logger.error({ err, partition: rec.partition, offset: String(rec.offset) }, "undecodable job sent to dead letters");
        if (!(await this.commitJobs({ produce: [this.records.deadLetter(rec, err)], offsets: [next] }))) return;
        skipped = undefined;
        continue;
      }
      if ((job.workerGroup ?? undefined) !== this.group) {
        skipped = next;
        continue;
      }
      try {
        await this.slots.acquire();
      } catch (err) {
        if (isCode(err, SLOTS_CLOSED)) return;
        throw err;
      }
      if (this.state !== "running") {
        this.slots.release();
        return;
      }
      if (!(await this.launch(job, next))) return;
      skipped = undefined;
    }
    if (skipped !== undefined && !(await this.commitJobs({ produce: [], offsets: [skipped] }))) return;
    try {
      // Backpressure: ask for more only when one more job could start.
      await this.slots.whenFree();
    } catch (err) {
      if (!isCode(err, SLOTS_CLOSED)) throw err;
    }
  }

  /**
   * Places a jobs commit without waiting for it to be durable (only where the log writes commits
   * in order). Fenced: the partition's new owner takes the job. Any other failure fails the next
   * batch, so delivery rewinds to the committed offset and no job is skipped.
   */
  private pipelineJobs(c: { produce: ProduceRecord[]; offsets: CommittedOffset[] }): void {
    this.jobs?.commit(c).catch((err: unknown) => {
      if (isCode(err, "FENCED")) {
        this.logger.debug({ err }, "job commit fenced; the partition's new owner takes the job");
        return;
      }
      if (this.state !== "running") return;
      this.logger.error({ err }, "jobs commit failed; the jobs are delivered again");
      this.jobsRewind = err;
    });
  }

  /** Commits on the jobs membership; false when fenced (the partition moved: drop the batch). */
  private async commitJobs(c: { produce: ProduceRecord[]; offsets: CommittedOffset[] }): Promise<boolean> {
    const jobs = this.jobs ?? (await this.jobsJoined);
    try {
      await jobs.commit(c);
      return true;
    } catch (err) {
      if (isCode(err, "FENCED")) {
        this.logger.debug({ err }, "job commit fenced; the partition's new owner takes the job");
        return false;
      }
      throw err;
    }
  }

  /**
   * Starts an attempt of `job` (its slot is held) and reports it. An attempt that ends within the
   * current turn of the event loop (Return, Log, OutputValues…) is reported Started and Completed
   * together with the job's offset in one commit: one durable write instead of two, and the
   * executor folds both results in one unit of work. A longer one is reported Started with the
   * job's offset at once, and Completed when it ends. False when the jobs commit was fenced (the
   * partition moved; its new owner takes the job and this attempt is handed back silently).
   */
  private async launch(job: WorkerJob, next: CommittedOffset): Promise<boolean> {
    const key = attemptKey(job);
    const attempt = new Attempt(job, {
      registry: this.registry,
      storage: this.storage,
      workerId: this.workerId,
      emitLog: (line) => this.logs.push(this.records.logLine(line)),
      sendCommand: async (command) => {
        await this.log.append([this.records.command(command)]);
      },
      killGraceMs: this.killGraceMs,
      ...(this.env !== undefined ? { env: this.env } : {}),
    });
    if (this.earlyCancels.delete(key)) attempt.abort("kill");
    let settle: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (settle = resolve));
    this.running.set(key, { attempt, done });
    const release = () => {
      this.running.delete(key);
      this.slots.release();
      settle();
    };
    const outcome = attempt.run();
    const started = this.records.result({ kind: "started", executionId: job.executionId, taskRunId: job.taskRunId, attempt: job.attempt, workerId: this.workerId });
    const quick = await Promise.race([outcome, endOfTurn()]);
    if (quick !== undefined) {
      try {
        if (attempt.abortCause === "handback") return true; // left uncommitted: delivered again
        this.started++;
        const completed = await this.completedRecord(attempt, quick);
        if (this.log.commitsInOrder && this.jobs !== undefined) {
          // One ordered writer: the commit is placed, so the next job can start while it is
          // written (a chain of quick tasks then pays one write per task, not two in a row).
          this.pipelineJobs({ produce: [started, completed], offsets: [next] });
          return true;
        }
        return await this.commitJobs({ produce: [started, completed], offsets: [next] });
      } finally {
        release();
      }
    }
    let ok: boolean;
    try {
      ok = await this.commitJobs({ produce: [started], offsets: [next] });
    } catch (err) {
      attempt.abort("handback");
      void outcome.finally(release);
      throw err;
    }
    if (!ok) {
      attempt.abort("handback");
      void outcome.finally(release);
      return false;
    }
    this.started++;
    void outcome
      .then((o) => this.finish(attempt, o))
      .catch((err: unknown) => this.logger.error({ err, taskRunId: job.taskRunId }, "attempt bookkeeping failed"))
      .finally(release);
    return true;
  }

  /** Counts the outcome and builds its Completed record, after the attempt's log lines are durable (whoever reads the result finds them). */
  private async completedRecord(attempt: Attempt, outcome: AttemptOutcome): Promise<ProduceRecord> {
    const job = attempt.job;
    if (outcome.state === "FAILED") this.failed++;
    else if (outcome.state === "KILLED") this.killed++;
    else this.completed++;
    await this.logs.flush();
    const result: WorkerResult = {
      kind: "completed",
      executionId: job.executionId,
      taskRunId: job.taskRunId,
      attempt: job.attempt,
      workerId: this.workerId,
      state: outcome.state,
      ...(outcome.outputs !== undefined ? { outputs: outcome.outputs } : {}),
      ...(outcome.error !== undefined ? { error: outcome.error } : {}),
    };
    return this.records.result(result);
  }

  private async finish(attempt: Attempt, outcome: AttemptOutcome): Promise<void> {
    const job = attempt.job;
    if (attempt.abortCause === "handback") return;
    const record = await this.completedRecord(attempt, outcome);
    for (let i = 1; ; i++) {
      try {
        await this.log.append([record]);
        return;
      } catch (err) {
        if (i >= RESULT_APPEND_TRIES) {
          this.logger.error({ err, executionId: job.executionId, taskRunId: job.taskRunId, attempt: job.attempt }, "could not send an attempt's result");
          return;
        }
        await sleep(Math.min(2000, 50 * 2 ** i));
      }
    }
  }

  // ---- control -------------------------------------------------------------------------------

  private async onControlAssign(assigned: AssignedPartition[]): Promise<void> {
    for (const a of assigned) {
      const end = await this.log.endOffset(a.topic, a.partition);
      this.controlFloors.set(a.partition, end > a.next ? end : a.next);
    }
  }

  private async onControlRecords(batch: LogRecord[]): Promise<void> {
    const floor = this.controlFloors.get(batch[0].partition) ?? 0n;
    for (const rec of batch) {
      if (rec.offset < floor) continue;
      let cancel: CancelJob | undefined;
      try {
        cancel = this.records.decodeCancel(rec);
      } catch (err) {
        // Every worker reads this topic; dead-lettering it N times would flood. Log and go on.
        this.logger.warn({ err, partition: rec.partition, offset: String(rec.offset) }, "undecodable worker-control record skipped");
        continue;
      }
      if (cancel !== undefined) this.cancel(cancel);
    }
    const last = batch[batch.length - 1];
    const tp: TopicPartition = { topic: last.topic, partition: last.partition };
    await this.control
      ?.commit({ produce: [], offsets: [{ ...tp, next: last.offset + 1n }] })
      .catch((err: unknown) => this.logger.debug({ err }, "control offsets not committed"));
  }

  private cancel(c: CancelJob): void {
    const key = attemptKey(c);
    const run = this.running.get(key);
    if (run !== undefined) {
      this.logger.info({ executionId: c.executionId, taskRunId: c.taskRunId, attempt: c.attempt }, "killing attempt");
      run.attempt.abort("kill");
      return;
    }
    // The job may still wait in the topic for this worker: remember the cancellation for a while.
    if (c.workerId !== undefined && c.workerId !== this.workerId) return;
    this.earlyCancels.add(key);
    if (this.earlyCancels.size > MAX_EARLY_CANCELS) {
      const oldest = this.earlyCancels.values().next().value;
      if (oldest !== undefined) this.earlyCancels.delete(oldest);
    }
  }

  // ---- heartbeats ----------------------------------------------------------------------------

  private scheduleHeartbeat(): void {
    this.heartbeatTimer = setTimeout(() => {
      this.heartbeatInFlight = this.heartbeat("RUNNING", this.running.size).finally(() => {
        if (this.state === "running") this.scheduleHeartbeat();
      });
    }, this.heartbeatIntervalMs);
  }

  private async heartbeat(status: WorkerHeartbeat["status"], running: number): Promise<void> {
    const hb: WorkerHeartbeat = {
      workerId: this.workerId,
      group: this.group ?? "default",
      threads: this.threads,
      running,
      at: Date.now(),
      status,
    };
    try {
      await this.log.append([this.records.heartbeat(hb)]);
    } catch (err) {
      this.logger.warn({ err, status }, "heartbeat not sent");
    }
  }
}
