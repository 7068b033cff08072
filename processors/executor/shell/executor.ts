/**
 * The executor role: the shell around the pure `reduce`. It joins group `executor` on the
 * co-partitioned `execution-commands` and `worker-results`; per delivered batch it decodes each
 * record (undecodable → dead letter), reduces it against the execution's in-memory state, turns
 * the events and actions into records, and makes ONE atomic commit of those records, the input
 * offset and the state-store changes. In-memory side effects (timer wheel, dropping ended
 * executions) happen only once that commit resolved.
 *
 * State: the live execution states of owned partitions stay in memory; snapshots of the ones
 * that changed are written at most every `snapshotIntervalMs` (or when many changed) with
 * `changelogTopic: "executions"`, so the store's checkpoint is the end of `executions` and a new
 * owner restores by loading the snapshots and replaying `executions` from it.
 */
import { randomUUID } from "node:crypto";
import { Counter } from "prom-client";
import { LannerError, describeError } from "../../../common/errors.js";
import type { Logger } from "../../../common/logger.js";
import type { StateBatch } from "../../../stores/state-store.js";
import { deadLetter } from "../../../topology/dead-letter.js";
import type { AssignedPartition, CommittedOffset, GroupMember, Log, LogRecord, Membership, ProduceRecord, TopicPartition } from "../../../topology/log.js";
import type { WorkerGroupWatch } from "../../liveness/worker-group-watch.js";
import type { Action } from "../actions.js";
import { applyEvent } from "../apply.js";
import { reduceConcurrency, type ConcurrencyInput } from "../concurrency.js";
import type { ExecutionEvent } from "../events.js";
import type { ExecutorCommand, ExecutorInput } from "../inputs.js";
import type { ExecutionState } from "../model.js";
import { reduce } from "../reduce.js";
import type { FlowResolver } from "./flow-resolver.js";
import { PartitionState, hasEnded } from "./partition-state.js";
import {
  decodeCommand, decodeEvent, decodeResult, encodeCancel, encodeCommand, encodeConcurrency, encodeEvent, encodeJob, encodeLogLine,
  type LogLine, type RecordCodec,
} from "./records.js";
import {
  LOST_PREFIX, STORE_NAME, concurrencyKey, doneKey, finalKey, fromBytes, liveKey, lostWorkerKey, parseTimerKey, timerKey, toBytes,
} from "./state-keys.js";
import { UnitOfWork } from "./unit-of-work.js";

/** Names of the topics the executor reads and writes. */
export interface ExecutorTopics {
  commands: string;
  results: string;
  executions: string;
  jobs: string;
  control: string;
  logs: string;
  deadLetters: string;
}

export const DEFAULT_EXECUTOR_TOPICS: ExecutorTopics = {
  commands: "execution-commands",
  results: "worker-results",
  executions: "executions",
  jobs: "worker-jobs",
  control: "worker-control",
  logs: "logs",
  deadLetters: "dead-letters",
};

/** The consumer group of every executor instance. */
export const EXECUTOR_GROUP = "executor";
/** How long a partition remembers a lost worker: far longer than any result can lag behind its WorkerLost. */
const FORGET_LOST_WORKERS_AFTER_MS = 24 * 3600_000;
/** Most units of one partition accepted by an ordered writer before the executor waits for it. */
const MAX_UNITS_IN_FLIGHT = 64;
/** The store holding final states and done markers of ended executions (never scanned on restore). */
export const DONE_STORE_NAME = "executor-done";

export interface ExecutorOptions {
  log: Log;
  logger: Logger;
  codec: RecordCodec;
  flows: FlowResolver;
  /** `envs.*` for expressions (Kestra: the process's ENV_* variables). */
  envs?: Record<string, string>;
  /** Asked before each dispatch: a job whose worker group has no live worker is flagged. */
  workerGroups?: WorkerGroupWatch;
  topics?: Partial<ExecutorTopics>;
  /** Snapshot cadence (ms); default 200. */
  snapshotIntervalMs?: number;
  /** Snapshot as soon as this many executions changed; default 256. */
  snapshotMaxDirty?: number;
  /**
   * Bytes a snapshot may write per `snapshotIntervalMs`; default 1 MiB. A bigger snapshot spaces
   * the next one out in proportion, so a huge execution (a ForEach over 10,000 items) is not
   * serialised whole every interval (O(n) per snapshot → O(n²) over its life).
   */
  snapshotBytesPerInterval?: number;
  /** How long an ended execution stays in memory before only its final state remains in the store (ms); default 10 s. */
  endedGraceMs?: number;
  /** Most records per delivered batch; default 256. */
  maxBatch?: number;
  memberId?: string;
  clock?: () => number;
  /** Flow triggers: told of every execution that ends, it returns the records to append in the same commit. */
  flowTriggers?: EndedExecutionRouter;
}

/** An execution that ended, with the sequence number of its last event. */
export type EndedExecutionInfo = Extract<Action, { type: "ExecutionEnded" }>["execution"] & { seq: number };

/** Routes executions that ended to whatever listens to them (the flow-trigger evaluation). */
export interface EndedExecutionRouter {
  /** The records announcing `ended` to its listeners; [] when nothing listens. Must not append anything itself. */
  route(ended: EndedExecutionInfo, now: number): Promise<ProduceRecord[]>;
}

const jobsWithoutWorker = new Counter({
  name: "lanner_jobs_without_live_worker_total",
  help: "Jobs dispatched to a worker group in which no live worker was known at dispatch time",
  labelNames: ["group"],
});

const deadLettered = new Counter({
  name: "lanner_executor_dead_letters_total",
  help: "Records the executor could not process and sent to the dead-letters topic",
  labelNames: ["topic"],
});

/** A timer index change: `at` undefined disarms. */
interface TimerOp {
  executionId: string;
  timerId: string;
  at: number | undefined;
}

const isLannerError = (err: unknown, code: string) => err instanceof LannerError && err.code === code;

export class Executor {
  private readonly log: Log;
  private readonly logger: Logger;
  private readonly codec: RecordCodec;
  private readonly topics: ExecutorTopics;
  private readonly clock: () => number;
  private readonly snapshotIntervalMs: number;
  private readonly snapshotMaxDirty: number;
  private readonly snapshotBytesPerInterval: number;
  private readonly endedGraceMs: number;
  private readonly partitions = new Map<number, PartitionState>();
  private membership: Membership | undefined;
  private stopping = false;

  constructor(private readonly opts: ExecutorOptions) {
    this.log = opts.log;
    this.logger = opts.logger.child({ role: "executor" });
    this.codec = opts.codec;
    this.topics = { ...DEFAULT_EXECUTOR_TOPICS, ...opts.topics };
    this.clock = opts.clock ?? Date.now;
    this.snapshotIntervalMs = opts.snapshotIntervalMs ?? 200;
    this.snapshotMaxDirty = opts.snapshotMaxDirty ?? 256;
    this.snapshotBytesPerInterval = opts.snapshotBytesPerInterval ?? 1 << 20;
    this.endedGraceMs = opts.endedGraceMs ?? 10_000;
  }

  /** Joins the executor group; resolves once the first assignment was restored. */
  async start(): Promise<void> {
    const member: GroupMember = {
      onAssign: (a) => this.onAssign(a),
      onRevoke: (r) => this.onRevoke(r),
      onRecords: (b) => this.onRecords(b),
      onError: (err, where) => {
        const expected = isLannerError(err, "FENCED") || isLannerError(err, "EXECUTOR_PARTITION_NOT_HELD");
        this.logger[expected ? "debug" : "error"]({ err: describeError(err), ...where }, "executor batch not committed; it will be delivered again");
      },
    };
    this.membership = await this.log.join(EXECUTOR_GROUP, [this.topics.commands, this.topics.results], member, {
      maxBatch: this.opts.maxBatch ?? 256,
      memberId: this.opts.memberId ?? `executor-${randomUUID()}`,
      // Results of attempts whose job is not yet durable are safe to fold: the units built from
      // them are written after that job's unit (see `commit`).
      readAhead: true,
    });
  }

  /** Leaves the group (in-flight batches finish, partitions go to other instances) and drops all state. */
  async stop(): Promise<void> {
    this.stopping = true;
    const m = this.membership;
    this.membership = undefined;
    if (m) await m.leave();
    for (const ps of this.partitions.values()) {
      await ps.queue.idle();
      await ps.durable;
      ps.close();
    }
    this.partitions.clear();
  }

  /** Partitions whose state this instance holds. */
  ownedPartitions(): number[] {
    return [...this.partitions.keys()].sort((a, b) => a - b);
  }

  /** The in-memory state of an execution (for inspection and tests); undefined when not held here. */
  executionState(executionId: string): ExecutionState | undefined {
    for (const ps of this.partitions.values()) {
      const s = ps.executions.get(executionId);
      if (s) return s;
    }
    return undefined;
  }

  // ---- assignment ---------------------------------------------------------------------------

  private async onAssign(assigned: AssignedPartition[]): Promise<void> {
    const byPartition = new Map<number, string[]>();
    for (const a of assigned) byPartition.set(a.partition, [...(byPartition.get(a.partition) ?? []), a.topic]);
    for (const [p, topics] of byPartition) {
      let ps = this.partitions.get(p);
      if (!ps) {
        ps = this.newPartition(p);
        this.partitions.set(p, ps);
        const fresh = ps;
        await ps.queue.run(() => this.restore(fresh));
      }
      for (const t of topics) ps.topics.add(t);
    }
  }

  private async onRevoke(revoked: TopicPartition[]): Promise<void> {
    for (const tp of revoked) {
      const ps = this.partitions.get(tp.partition);
      if (!ps) continue;
      ps.topics.delete(tp.topic);
      if (ps.topics.size > 0) continue;
      this.partitions.delete(tp.partition);
      await ps.queue.idle();
      await ps.durable;
      ps.close();
      this.logger.info({ partition: tp.partition }, "executor partition revoked");
    }
  }

  private newPartition(p: number): PartitionState {
    const ps: PartitionState = new PartitionState(p, () => this.onTimersDue(ps), this.clock);
    return ps;
  }

  /**
   * Rebuilds a partition's memory: snapshots, timer index and concurrency states from the store,
   * then `executions` replayed from the store's checkpoint onto the snapshots.
   */
  private async restore(ps: PartitionState): Promise<void> {
    const p = ps.partition;
    const store = this.log.stateStore(STORE_NAME, p);
    for await (const [key, value] of store.entries()) {
      if (key.startsWith("live/")) {
        const st = fromBytes(value) as ExecutionState;
        ps.executions.set(st.execution.id, st);
      } else if (key.startsWith("conc/")) {
        ps.concurrency.set(key.slice("conc/".length), fromBytes(value) as ReturnType<typeof reduceConcurrency>["state"]);
      } else if (key.startsWith(LOST_PREFIX)) {
        ps.lostWorkers.set(key.slice(LOST_PREFIX.length), Number(fromBytes(value)));
      } else {
        const t = parseTimerKey(key);
        if (t) ps.timers.add(t);
      }
    }
    const from = (await store.checkpoint()) ?? 0n;
    let replayed = 0;
    for await (const rec of this.log.readPartition(this.topics.executions, p, from)) {
      let e: ExecutionEvent;
      try {
        e = decodeEvent(this.codec, rec.value);
      } catch (err) {
        this.logger.warn({ partition: p, offset: String(rec.offset), err: describeError(err) }, "undecodable event skipped during restore");
        continue;
      }
      let st = ps.executions.get(e.executionId) ?? (e.type === "ExecutionCreated" ? undefined : await this.loadFinal(p, e.executionId));
      if (st && e.seq <= st.seq) continue;
      try {
        st = applyEvent(st, e);
      } catch (err) {
        this.logger.error({ partition: p, executionId: e.executionId, seq: e.seq, err: describeError(err) }, "event does not apply during restore; skipped");
        continue;
      }
      ps.executions.set(e.executionId, st);
      ps.dirty.add(e.executionId);
      replayed++;
    }
    const now = this.clock();
    for (const st of ps.executions.values()) {
      ps.indexAttempts(st);
      if (hasEnded(st)) ps.ended.set(st.execution.id, now);
    }
    this.logger.info({ partition: p, executions: ps.executions.size, timers: ps.timers.size, replayed, from: String(from) }, "executor partition restored");
    ps.timers.rearm();
    this.scheduleFlush(ps);
  }

  private async loadFinal(p: number, executionId: string): Promise<ExecutionState | undefined> {
    const bytes = await this.log.stateStore(DONE_STORE_NAME, p).get(finalKey(executionId));
    return bytes ? (fromBytes(bytes) as ExecutionState) : undefined;
  }

  // ---- units of work ------------------------------------------------------------------------

  private async onRecords(batch: LogRecord[]): Promise<void> {
    if (batch.length === 0) return;
    const ps = this.partitions.get(batch[0].partition);
    const notReady = () =>
      new LannerError("EXECUTOR_PARTITION_NOT_HELD", `executor partition ${batch[0].partition} is not held here (fenced); the batch is delivered again later`, { retriable: true });
    if (!ps || ps.closed) {
      if (this.stopping) return;
      // delivery moves on unless the batch fails: fail it so it comes back from the committed offset
      throw notReady();
    }
    await ps.queue.run(() => {
      if (ps.closed) return this.stopping ? Promise.resolve() : Promise.reject(notReady());
      if (ps.rewind !== undefined) {
        const why = ps.rewind;
        ps.rewind = undefined;
        return Promise.reject(new LannerError("EXECUTOR_REWIND", `an earlier commit of executor partition ${ps.partition} failed (${describeError(why)}); the partition is delivered again from its committed offset`, { retriable: true, cause: why }));
      }
      return this.processBatch(ps, batch);
    });
  }

  private async processBatch(ps: PartitionState, batch: LogRecord[]): Promise<void> {
    const uow = new UnitOfWork();
    const now = this.clock();
    const topic = batch[0].topic;
    await this.guarded(ps, async () => {
      for (const rec of batch) {
        if (topic === this.topics.results) {
          let input: ExecutorInput;
          try {
            input = decodeResult(this.codec, rec.value);
          } catch (err) {
            this.deadLetter(uow, rec, `undecodable worker result: ${describeError(err)}`);
            continue;
          }
          await this.applyInput(ps, uow, input, rec, now);
          if (input.type === "WorkerResult" && input.result.kind === "started") {
            // Sent before its worker was declared lost but read after the WorkerLost (the two input
            // topics are read independently): nothing else would end this attempt, so it is
            // resubmitted now. A Started sent after the declaration (a worker that was only cut off
            // and came back) is a new start and is kept.
            const { workerId } = input.result;
            const lostAt = ps.lostWorkers.get(workerId);
            if (lostAt !== undefined && rec.timestamp <= lostAt && ps.byWorker.get(workerId)?.has(input.executionId)) {
              this.logger.warn({ partition: ps.partition, workerId, executionId: input.executionId }, "attempt started on a worker already lost: resubmitting it");
              await this.applyInput(ps, uow, { type: "WorkerLost", executionId: input.executionId, workerId }, rec, now);
              uow.lostWorkers.add(workerId);
            }
          }
          continue;
        }
        let cmd: ReturnType<typeof decodeCommand>;
        try {
          cmd = decodeCommand(this.codec, rec.value);
        } catch (err) {
          this.deadLetter(uow, rec, `undecodable command: ${describeError(err)}`);
          continue;
        }
        if (cmd.kind === "execution") await this.applyInput(ps, uow, cmd.input, rec, now);
        else if (cmd.kind === "concurrency") this.applyConcurrency(ps, uow, cmd.input);
        else {
          const { workerId } = cmd.lost;
          const ids = ps.executionsOnWorker(workerId);
          if (ids.length > 0) this.logger.warn({ partition: ps.partition, workerId, executions: ids.length }, "worker lost: resubmitting its attempts");
          for (const executionId of ids) await this.applyInput(ps, uow, { type: "WorkerLost", executionId, workerId }, rec, now);
          uow.lostWorkers.add(workerId);
          this.rememberLost(ps, uow, workerId, cmd.lost.at > 0 ? cmd.lost.at : rec.timestamp, now);
        }
      }
    });
    const last = batch[batch.length - 1];
    await this.commit(ps, uow, [{ topic, partition: ps.partition, next: last.offset + 1n }], now);
  }

  private onTimersDue(ps: PartitionState): void {
    ps.queue
      .run(async () => {
        if (ps.closed) return;
        const now = this.clock();
        const due = ps.timers.takeDue(now);
        if (due.length === 0) {
          ps.timers.rearm();
          return;
        }
        const uow = new UnitOfWork();
        await this.guarded(ps, async () => {
          for (const t of due) {
            uow.state.delete(timerKey(t.at, t.executionId, t.timerId));
            uow.setTimer(t.executionId, t.timerId, undefined);
            const pseudo: LogRecord = {
              topic: this.topics.commands, partition: ps.partition, offset: -1n, key: t.executionId, headers: {}, timestamp: now,
              value: encodeCommand(this.codec, { type: "TimerFired", executionId: t.executionId, timerId: t.timerId }),
            };
            await this.applyInput(ps, uow, { type: "TimerFired", executionId: t.executionId, timerId: t.timerId }, pseudo, now);
          }
        });
        await this.commit(ps, uow, [], now);
      })
      .catch((err: unknown) => {
        if (!isLannerError(err, "FENCED")) this.logger.error({ partition: ps.partition, err: describeError(err) }, "timer unit of work failed");
      });
  }

  /**
   * Runs the in-memory part of a unit of work; if it fails (a store read, an unexpected error)
   * memory may hold changes that will never be committed, so the partition is restored first.
   */
  private async guarded(ps: PartitionState, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      this.logger.error({ partition: ps.partition, err: describeError(err) }, "executor unit of work failed before its commit; restoring the partition");
      // Units accepted before this one are part of what the restore must read back.
      await ps.durable;
      await this.reload(ps);
      throw err;
    }
  }

  /** Reduces one input and records its events and actions in the unit; a failing input is dead-lettered. */
  private async applyInput(ps: PartitionState, uow: UnitOfWork, input: ExecutorInput, rec: LogRecord, now: number): Promise<void> {
    const id = input.executionId;
    let state = ps.executions.get(id);
    if (!state) {
      if (input.type === "CreateExecution") {
        if (await this.log.stateStore(DONE_STORE_NAME, ps.partition).get(doneKey(id))) return; // ended long ago: a duplicate create
      } else {
        state = await this.loadFinal(ps.partition, id);
        if (state) ps.executions.set(id, state);
      }
    }
    const produced: ProduceRecord[] = [];
    const timerOps: TimerOp[] = [];
    let events: ExecutionEvent[];
    try {
      const r = reduce(state, input, { now, ...(this.opts.envs ? { envs: this.opts.envs } : {}) });
      state = r.state;
      events = r.events;
      for (const e of events) produced.push({ topic: this.topics.executions, key: id, value: encodeEvent(this.codec, e) });
      for (const a of r.actions) await this.action(produced, timerOps, state, a);
    } catch (err) {
      if (isLannerError(err, "EXECUTION_UNKNOWN")) {
        this.logger.warn({ executionId: id, input: input.type }, "input for an unknown execution ignored");
        return;
      }
      // reduce updates the state in place: rebuild it from what is durable plus this unit's events
      await this.rebuild(ps, uow, id);
      this.deadLetter(uow, rec, `${input.type} for execution ${id} failed: ${describeError(err)}`);
      this.logger.error({ executionId: id, input: input.type, err: describeError(err) }, "input could not be processed; sent to dead letters");
      return;
    }
    ps.executions.set(id, state);
    uow.produce.push(...produced);
    for (const op of timerOps) this.applyTimerOp(ps, uow, op);
    if (events.length > 0) {
      uow.changed.add(id);
      const list = uow.events.get(id);
      if (list) list.push(...events);
      else uow.events.set(id, [...events]);
      ps.trackAttempts(state, events);
    }
    if (hasEnded(state)) {
      if (!ps.ended.has(id)) ps.ended.set(id, now);
    } else ps.ended.delete(id);
  }

  /** Turns an action into records (and timer-index changes) of the unit. */
  private async action(out: ProduceRecord[], timerOps: TimerOp[], state: ExecutionState, a: Action): Promise<void> {
    const t = this.topics;
    switch (a.type) {
      case "DispatchJob": {
        out.push({ topic: t.jobs, key: a.job.executionId, value: encodeJob(this.codec, a.job) });
        const watch = this.opts.workerGroups;
        const group = a.job.workerGroup;
        if (watch && watch.knows(group) && watch.liveWorkers(group) === 0) {
          const name = group ?? "default";
          jobsWithoutWorker.inc({ group: name });
          out.push(this.logLine(state, a.job.taskRunId, a.job.attempt, "WARN", `no live worker in worker group ${name}; the task waits`));
        }
        return;
      }
      case "CancelJob":
        out.push({
          topic: t.control, key: a.executionId,
          value: encodeCancel(this.codec, { executionId: a.executionId, taskRunId: a.taskRunId, attempt: a.attempt, ...(a.workerId ? { workerId: a.workerId } : {}) }),
        });
        return;
      case "CreateExecution": {
        const flow = await this.opts.flows.getFlow(a.tenantId, a.namespace, a.flowId, a.revision);
        if (flow) {
          const cmd: ExecutorCommand = {
            type: "CreateExecution", executionId: a.executionId, flow, inputs: a.inputs, labels: a.labels,
            ...(a.parent ? { parent: a.parent } : {}), ...(a.attemptNumber !== undefined ? { attemptNumber: a.attemptNumber } : {}),
          };
          out.push({ topic: t.commands, key: a.executionId, value: encodeCommand(this.codec, cmd) });
          return;
        }
        const what = `flow ${a.namespace}.${a.flowId}${a.revision !== undefined ? ` revision ${a.revision}` : ""} is not deployed`;
        this.logger.warn({ executionId: state.execution.id, flow: `${a.tenantId}/${a.namespace}/${a.flowId}` }, `cannot create execution ${a.executionId}: ${what}`);
        if (a.parent) {
          out.push(this.logLine(state, a.parent.taskRunId, 0, "ERROR", `cannot start subflow: ${what}`));
          out.push({
            topic: t.commands, key: a.parent.executionId,
            value: encodeCommand(this.codec, {
              type: "SubflowEnded", executionId: a.parent.executionId, childExecutionId: a.executionId, parentTaskRunId: a.parent.taskRunId,
              state: "FAILED", outputs: { executionId: a.executionId, state: "FAILED", error: what },
            }),
          });
        }
        return;
      }
      case "KillExecution":
        out.push({ topic: t.commands, key: a.executionId, value: encodeCommand(this.codec, { type: "Kill", executionId: a.executionId, cascade: true }) });
        return;
      case "NotifyParent":
        out.push({
          topic: t.commands, key: a.parentExecutionId,
          value: encodeCommand(this.codec, {
            type: "SubflowEnded", executionId: a.parentExecutionId, childExecutionId: a.childExecutionId, parentTaskRunId: a.parentTaskRunId,
            state: a.state, ...(a.outputs ? { outputs: a.outputs } : {}),
          }),
        });
        return;
      case "AcquireConcurrencySlot":
      case "ReleaseConcurrencySlot":
        out.push({ topic: t.commands, key: a.flowKey, value: encodeConcurrency(this.codec, a) });
        return;
      case "ExecutionEnded":
        // announced in the same commit as the ending, so a listener hears of it exactly once
        if (this.opts.flowTriggers) out.push(...await this.opts.flowTriggers.route({ ...a.execution, seq: state.seq }, this.clock()));
        return;
      case "ScheduleTimer":
        timerOps.push({ executionId: a.executionId, timerId: a.timerId, at: a.at });
        return;
      case "CancelTimer":
        timerOps.push({ executionId: a.executionId, timerId: a.timerId, at: undefined });
        return;
    }
  }

  /** Moves a timer in the partition's timer index (the wheel follows after the commit). */
  private applyTimerOp(ps: PartitionState, uow: UnitOfWork, op: TimerOp): void {
    const prev = uow.timerAt(op.executionId, op.timerId, (e, id) => ps.timers.dueAt(e, id));
    if (prev !== undefined) uow.state.delete(timerKey(prev, op.executionId, op.timerId));
    if (op.at !== undefined) uow.state.put(timerKey(op.at, op.executionId, op.timerId), toBytes({ at: op.at }));
    uow.setTimer(op.executionId, op.timerId, op.at);
  }

  private applyConcurrency(ps: PartitionState, uow: UnitOfWork, input: ConcurrencyInput): void {
    const r = reduceConcurrency(ps.concurrency.get(input.flowKey), input);
    if (r.state.running.length === 0 && r.state.queue.length === 0) {
      ps.concurrency.delete(input.flowKey);
      uow.state.delete(concurrencyKey(input.flowKey));
    } else {
      ps.concurrency.set(input.flowKey, r.state);
      uow.state.put(concurrencyKey(input.flowKey), toBytes(r.state));
    }
    for (const reply of r.replies) {
      uow.produce.push({ topic: this.topics.commands, key: reply.executionId, value: encodeCommand(this.codec, reply) });
    }
  }

  /** Reloads one execution from its snapshot, the `executions` topic since the checkpoint and this unit's events. */
  private async rebuild(ps: PartitionState, uow: UnitOfWork, executionId: string): Promise<void> {
    ps.forget(executionId);
    const store = this.log.stateStore(STORE_NAME, ps.partition);
    const live = await store.get(liveKey(executionId));
    let st: ExecutionState | undefined = live ? (fromBytes(live) as ExecutionState) : await this.loadFinal(ps.partition, executionId);
    const fold = (e: ExecutionEvent) => {
      if (e.executionId !== executionId || (st && e.seq <= st.seq) || (!st && e.type !== "ExecutionCreated")) return;
      st = applyEvent(st, e);
    };
    for await (const rec of this.log.readPartition(this.topics.executions, ps.partition, (await store.checkpoint()) ?? 0n)) {
      try {
        fold(decodeEvent(this.codec, rec.value));
      } catch {
        // an event that does not decode or apply was already reported when it was written or restored
      }
    }
    for (const e of uow.events.get(executionId) ?? []) fold(e);
    if (st) {
      ps.executions.set(executionId, st);
      ps.indexAttempts(st);
    }
  }

  /** Writes the snapshots of changed executions (and final states of ended ones past their grace). */
  private writeSnapshot(ps: PartitionState, uow: UnitOfWork, now: number): void {
    const ids = new Set([...ps.dirty, ...uow.changed]);
    for (const [id, since] of ps.ended) if (now - since >= this.endedGraceMs) ids.add(id);
    for (const id of ids) {
      const st = ps.executions.get(id);
      if (!st) continue;
      const since = ps.ended.get(id);
      const bytes = toBytes(st);
      uow.snapshotBytes += bytes.length;
      if (since !== undefined && now - since >= this.endedGraceMs) {
        uow.done.put(finalKey(id), bytes);
        uow.done.put(doneKey(id), toBytes({ state: st.execution.state.current }));
        uow.state.delete(liveKey(id));
        uow.dropped.push(id);
      } else uow.state.put(liveKey(id), bytes);
    }
    uow.snapshot = true;
  }

  private dropsDue(ps: PartitionState, now: number): boolean {
    for (const since of ps.ended.values()) if (now - since >= this.endedGraceMs) return true;
    return false;
  }

  /** The unit's single commit, then its in-memory side effects. */
  private async commit(ps: PartitionState, uow: UnitOfWork, offsets: CommittedOffset[], now: number): Promise<void> {
    const m = this.membership;
    if (!m || ps.closed) return;
    const changed = ps.dirty.size + uow.changed.size;
    const since = now - ps.lastSnapshot;
    const due = since >= this.snapshotGap(ps) || (changed >= this.snapshotMaxDirty && since >= this.snapshotGap(ps) - this.snapshotIntervalMs);
    if ((changed > 0 || ps.ended.size > 0) && due) {
      if (changed > 0 || this.dropsDue(ps, now)) this.writeSnapshot(ps, uow, now);
    }
    const p = ps.partition;
    const batches: StateBatch[] = [];
    if (!uow.state.empty || uow.snapshot) {
      batches.push({ store: STORE_NAME, partition: p, ...uow.state.toBatch(), ...(uow.snapshot ? { changelogTopic: this.topics.executions } : {}) });
    }
    if (!uow.done.empty) batches.push({ store: DONE_STORE_NAME, partition: p, ...uow.done.toBatch() });
    if (uow.produce.length === 0 && offsets.length === 0 && batches.length === 0) return;
    // owning the execution state of partition p means owning both input partitions p
    const fence = [this.topics.commands, this.topics.results]
      .filter((topic) => !offsets.some((o) => o.topic === topic))
      .map((topic) => ({ topic, partition: p }));
    const accepted = m.commit({ produce: uow.produce, offsets, fence }, batches);
    if (!this.log.commitsInOrder) {
      try {
        await accepted;
      } catch (err) {
        await this.commitFailed(ps, err);
        throw err;
      }
      this.afterCommit(ps, uow, now);
      return;
    }
    // One ordered writer (embedded, memory): the unit is already placed after every earlier one,
    // so the next unit can be reduced while this one is being written — a chain of tasks then
    // costs one write per task or less instead of two, the writer grouping the units that queue
    // up. Only the side effects below wait for durability, in order. A snapshot taken now moves
    // the next one out at once, so the units in flight do not each take one.
    if (uow.snapshot) ps.lastSnapshot = now;
    const outcome = accepted.then(() => undefined, (err: unknown) => ({ err }));
    ps.inFlight++;
    ps.durable = ps.durable.then(async () => {
      const failed = await outcome;
      ps.inFlight--;
      if (failed) await this.commitFailed(ps, failed.err).catch(() => undefined);
      else this.afterCommit(ps, uow, now);
    });
    // Bounded: past this many units in flight, wait for the writer (it is behind).
    if (ps.inFlight >= MAX_UNITS_IN_FLIGHT) await ps.durable;
  }

  /**
   * A commit failed: fenced → this partition moved, drop it; otherwise memory is ahead of what is
   * durable, so restore the partition from the store and the log. With pipelined commits the
   * failure is seen after later batches were delivered: the next batch of the partition is
   * failed instead, so delivery rewinds to the committed offset and nothing is skipped.
   */
  private async commitFailed(ps: PartitionState, err: unknown): Promise<void> {
    const p = ps.partition;
    if (isLannerError(err, "FENCED")) {
      this.logger.warn({ partition: p }, "executor partition moved to another instance; dropping its state");
      ps.close();
      if (this.partitions.get(p) === ps) this.partitions.delete(p);
      return;
    }
    if (isLannerError(err, "LOG_CLOSED") || this.stopping) return;
    this.logger.error({ partition: p, err: describeError(err) }, "executor commit failed; restoring the partition");
    if (!this.log.commitsInOrder) {
      await this.reload(ps);
      return;
    }
    // Seen from the chain of durable units, outside the partition's queue: the restore is queued
    // behind the unit running now (never awaited here, which could wait on this very chain).
    // On the embedded log a failed write is also fatal — the log reports it and the process
    // exits — so this only matters for a log that fails one unit and goes on.
    ps.rewind = err;
    void ps.queue.run(() => this.reload(ps)).catch((reloadErr: unknown) => {
      this.logger.error({ partition: p, err: describeError(reloadErr) }, "executor partition restore failed");
    });
  }

  /** In-memory side effects of a durable unit: snapshot bookkeeping, timers, the next flush. */
  private afterCommit(ps: PartitionState, uow: UnitOfWork, now: number): void {
    for (const id of uow.changed) ps.dirty.add(id);
    if (uow.snapshot) {
      ps.dirty.clear();
      ps.lastSnapshot = now;
      ps.lastSnapshotBytes = uow.snapshotBytes;
      for (const id of uow.dropped) ps.forget(id);
    }
    for (const w of uow.lostWorkers) ps.forgetWorker(w);
    for (const op of uow.wheelOps()) {
      if (op.add) ps.timers.add(op.add);
      else if (op.remove) ps.timers.remove(op.remove.executionId, op.remove.timerId);
    }
    ps.timers.rearm();
    this.scheduleFlush(ps);
  }

  /**
   * Least time between two snapshots of the partition: the interval, stretched in proportion to
   * the bytes the last one wrote past the per-interval budget. Serialising and writing snapshots
   * then costs at most a fixed share of the time however large the executions grow, while the
   * events replayed on restore stay bounded by what happens in a few snapshot times.
   */
  private snapshotGap(ps: PartitionState): number {
    return this.snapshotIntervalMs * Math.max(1, ps.lastSnapshotBytes / this.snapshotBytesPerInterval);
  }

  /** Remembers when a worker was declared lost, in the partition's store; forgets those lost long ago. */
  private rememberLost(ps: PartitionState, uow: UnitOfWork, workerId: string, lostAt: number, now: number): void {
    const at = Math.max(lostAt, ps.lostWorkers.get(workerId) ?? 0);
    ps.lostWorkers.set(workerId, at);
    uow.state.put(lostWorkerKey(workerId), toBytes(at));
    for (const [w, at] of ps.lostWorkers) {
      if (now - at > FORGET_LOST_WORKERS_AFTER_MS) {
        ps.lostWorkers.delete(w);
        uow.state.delete(lostWorkerKey(w));
      }
    }
  }

  /** Throws away a partition's memory and restores it (after a failed commit). */
  private async reload(ps: PartitionState): Promise<void> {
    ps.executions.clear();
    ps.dirty.clear();
    ps.ended.clear();
    ps.byWorker.clear();
    ps.lostWorkers.clear();
    ps.concurrency.clear();
    ps.timers.takeDue(Number.POSITIVE_INFINITY);
    await this.restore(ps);
  }

  /** Arms a flush so changed executions are snapshotted (and ended ones dropped) even when inputs stop. */
  private scheduleFlush(ps: PartitionState): void {
    if (ps.flushTimer || ps.closed || (ps.dirty.size === 0 && ps.ended.size === 0)) return;
    const now = this.clock();
    let at = Number.POSITIVE_INFINITY;
    if (ps.dirty.size > 0) at = ps.lastSnapshot + this.snapshotGap(ps);
    for (const since of ps.ended.values()) at = Math.min(at, since + this.endedGraceMs);
    ps.flushTimer = setTimeout(() => {
      ps.flushTimer = undefined;
      ps.queue
        .run(() => (ps.closed ? Promise.resolve() : this.commit(ps, new UnitOfWork(), [], this.clock())))
        .catch((err: unknown) => {
          if (!isLannerError(err, "FENCED")) this.logger.error({ partition: ps.partition, err: describeError(err) }, "snapshot flush failed");
        });
    }, Math.max(0, at - now));
    ps.flushTimer.unref();
  }

  private logLine(state: ExecutionState, taskRunId: string, attempt: number, level: LogLine["level"], message: string): ProduceRecord {
    const e = state.execution;
    const line: LogLine = {
      tenantId: e.tenantId, namespace: e.namespace, flowId: e.flowId, executionId: e.id, taskRunId,
      taskId: state.taskRuns[taskRunId]?.taskId ?? "", attempt, level, message, timestamp: this.clock(), workerId: "",
    };
    return { topic: this.topics.logs, key: e.id, value: encodeLogLine(this.codec, line) };
  }

  private deadLetter(uow: UnitOfWork, rec: LogRecord, reason: string): void {
    deadLettered.inc({ topic: rec.topic });
    this.logger.warn({ topic: rec.topic, partition: rec.partition, offset: String(rec.offset), reason }, "record sent to dead letters");
    uow.produce.push(deadLetter(rec, reason, this.topics.deadLetters));
  }
}
