/**
 * The liveness role: consumes `heartbeats` (group `liveness`, one partition), keeps when each
 * worker was last heard of (in memory and in its state store), and declares a worker lost when
 * it has been silent for `timeoutMs` or when it said STOPPED while still holding attempts. A lost
 * worker gets a `WorkerLost` record on EVERY partition of `execution-commands`, so every executor
 * partition resubmits the attempts it had on it; the worker is marked lost in the store so it is
 * never declared twice. (A restarted worker picks a new id, so a lost id never comes back.)
 */
import { Gauge } from "prom-client";
import { describeError, LannerError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { deadLetter } from "../../topology/dead-letter.js";
import type { AssignedPartition, GroupMember, Log, LogRecord, Membership, ProduceRecord } from "../../topology/log.js";
import { SerialQueue } from "../executor/shell/partition-state.js";
import { encodeWorkerLost, type RecordCodec } from "../executor/shell/records.js";
import { fromBytes, toBytes } from "../executor/shell/state-keys.js";
import { asHeartbeat, groupName } from "./heartbeat.js";
import { WorkerGroupWatch } from "./worker-group-watch.js";

export const LIVENESS_GROUP = "liveness";
const STORE = "liveness";
/** Lost workers are remembered this long (so a late heartbeat is recognised), then forgotten. */
const FORGET_LOST_AFTER_MS = 24 * 3600_000;

export interface LivenessOptions {
  log: Log;
  logger: Logger;
  codec: RecordCodec;
  /** Silence after which a worker is lost (ms); default 8000. */
  timeoutMs?: number;
  /** Workers' heartbeat interval (ms); the check runs every half of it. Default 2000. */
  heartbeatIntervalMs?: number;
  /** Shared with the executor of the same process; default a new one. */
  watch?: WorkerGroupWatch;
  topics?: { heartbeats?: string; commands?: string; deadLetters?: string };
  clock?: () => number;
  /**
   * Every worker heard of before this instance started is dead: declare it lost at once instead
   * of giving it a fresh timeout. True only where every worker runs in the process of this
   * liveness (the embedded backend: its log is one process's database), so a worker of an earlier
   * run of the process cannot be alive. Heartbeats sent before the start (`at` earlier than the
   * start, by `clock`) and consumed after it count as earlier runs' too. Default false.
   */
  priorWorkersDead?: boolean;
}

/** What liveness remembers of a worker. */
interface WorkerEntry {
  group: string;
  lastSeen: number;
  status: "RUNNING" | "STOPPING" | "STOPPED";
  running: number;
  lostAt?: number;
  lostReason?: string;
}

const liveWorkersGauge = new Gauge({
  name: "lanner_live_workers",
  help: "Workers heard from within the liveness timeout, per worker group",
  labelNames: ["group"],
});

const workerKey = (id: string) => `worker/${id}`;

export class Liveness {
  readonly watch: WorkerGroupWatch;
  private readonly log: Log;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly intervalMs: number;
  private readonly clock: () => number;
  private readonly topics: { heartbeats: string; commands: string; deadLetters: string };
  private readonly workers = new Map<string, WorkerEntry>();
  private readonly queue = new SerialQueue();
  private membership: Membership | undefined;
  private owned = false;
  private checker: NodeJS.Timeout | undefined;
  /** When start() was called (by `clock`): with `priorWorkersDead`, anything heard of before is dead. */
  private startedAt = Number.NEGATIVE_INFINITY;
  /** Workers restored from the store that `priorWorkersDead` condemns; declared by the next check. */
  private readonly prior = new Set<string>();
  /** Workers declared lost since start (for inspection and tests). */
  declared = 0;

  constructor(private readonly opts: LivenessOptions) {
    this.log = opts.log;
    this.logger = opts.logger.child({ role: "liveness" });
    this.timeoutMs = opts.timeoutMs ?? 8_000;
    this.intervalMs = opts.heartbeatIntervalMs ?? 2_000;
    this.clock = opts.clock ?? Date.now;
    this.watch = opts.watch ?? new WorkerGroupWatch(this.timeoutMs, this.clock);
    this.topics = {
      heartbeats: opts.topics?.heartbeats ?? "heartbeats",
      commands: opts.topics?.commands ?? "execution-commands",
      deadLetters: opts.topics?.deadLetters ?? "dead-letters",
    };
  }

  async start(): Promise<void> {
    this.startedAt = this.clock();
    const member: GroupMember = {
      onAssign: (a) => this.queue.run(() => this.onAssign(a)),
      onRevoke: () =>
        this.queue.run(async () => {
          this.owned = false;
          this.workers.clear();
        }),
      onRecords: (batch) => this.queue.run(() => this.onRecords(batch)),
      onError: (err) => this.logger.error({ err: describeError(err) }, "heartbeat batch failed; it will be delivered again"),
    };
    this.membership = await this.log.join(LIVENESS_GROUP, [this.topics.heartbeats], member, { maxBatch: 512 });
    this.checker = setInterval(() => {
      void this.queue.run(() => this.check()).catch((err: unknown) => this.logger.error({ err: describeError(err) }, "liveness check failed"));
    }, Math.max(50, Math.floor(this.intervalMs / 2)));
    this.checker.unref();
    if (this.opts.priorWorkersDead) {
      // declare the previous run's workers now rather than at the first tick
      await this.queue.run(() => this.check()).catch((err: unknown) => this.logger.error({ err: describeError(err) }, "liveness check failed"));
    }
  }

  async stop(): Promise<void> {
    if (this.checker) clearInterval(this.checker);
    this.checker = undefined;
    const m = this.membership;
    this.membership = undefined;
    if (m) await m.leave();
    await this.queue.idle();
  }

  /** Live workers serving `group` (the default group when undefined). */
  liveWorkers(group?: string): number {
    return this.watch.liveWorkers(group);
  }

  private async onAssign(assigned: AssignedPartition[]): Promise<void> {
    if (!assigned.some((a) => a.topic === this.topics.heartbeats)) return;
    this.owned = true;
    await this.restoreFromStore();
  }

  /** Loads what the store holds (the durable decisions) into memory. */
  private async restoreFromStore(): Promise<void> {
    this.workers.clear();
    this.prior.clear();
    const now = this.clock();
    for await (const [key, value] of this.log.stateStore(STORE, 0).entries()) {
      if (!key.startsWith("worker/")) continue;
      const e = fromBytes(value) as WorkerEntry;
      const id = key.slice("worker/".length);
      // silence is counted from when this instance took over: it did not hear anything before
      if (e.lostAt === undefined) e.lastSeen = Math.max(e.lastSeen, now);
      this.workers.set(id, e);
      if (e.lostAt === undefined && this.opts.priorWorkersDead) this.prior.add(id);
      if (e.lostAt !== undefined) this.watch.markLost(id);
      else this.watch.observe({ workerId: id, group: e.group, threads: 0, running: e.running, at: e.lastSeen, status: e.status }, e.lastSeen);
    }
    this.logger.info({ workers: this.workers.size }, "liveness restored");
  }

  private async onRecords(batch: LogRecord[]): Promise<void> {
    const m = this.membership;
    if (!m || batch.length === 0) return;
    const now = this.clock();
    const produce: ProduceRecord[] = [];
    const puts = new Map<string, WorkerEntry>();
    const deletes = new Set<string>();
    for (const rec of batch) {
      let hb;
      try {
        const { type, value } = this.opts.codec.decode(rec.value);
        hb = type === "Heartbeat" ? asHeartbeat(value) : undefined;
        if (!hb) throw new LannerError("RECORD_MALFORMED", `a ${type} record is not a heartbeat`);
      } catch (err) {
        produce.push(deadLetter(rec, `undecodable heartbeat: ${describeError(err)}`, this.topics.deadLetters));
        continue;
      }
      const known = this.workers.get(hb.workerId);
      if (known?.lostAt !== undefined) {
        this.logger.warn({ workerId: hb.workerId, lostAt: new Date(known.lostAt).toISOString() }, "heartbeat from a worker already declared lost; ignored");
        continue;
      }
      const entry: WorkerEntry = { group: groupName(hb.group), lastSeen: now, status: hb.status, running: hb.running };
      const fromEarlierRun = this.opts.priorWorkersDead === true && hb.at < this.startedAt;
      if (!fromEarlierRun) this.watch.observe(hb, now);
      if (fromEarlierRun && !(hb.status === "STOPPED" && hb.running === 0)) {
        this.prior.delete(hb.workerId);
        this.lose(hb.workerId, entry, "heartbeat sent before this process started: its worker ran in an earlier run", now, produce);
        puts.set(hb.workerId, entry);
        deletes.delete(hb.workerId);
      } else if (hb.status === "STOPPED" && hb.running > 0) {
        this.lose(hb.workerId, entry, `stopped with ${hb.running} attempt(s) handed back`, now, produce);
        puts.set(hb.workerId, entry);
        deletes.delete(hb.workerId);
      } else if (hb.status === "STOPPED") {
        // stopped cleanly with nothing running: nothing to resubmit, nothing to watch
        this.workers.delete(hb.workerId);
        this.prior.delete(hb.workerId);
        puts.delete(hb.workerId);
        deletes.add(hb.workerId);
      } else {
        this.workers.set(hb.workerId, entry);
        puts.set(hb.workerId, entry);
        deletes.delete(hb.workerId);
      }
    }
    const last = batch[batch.length - 1];
    try {
      await m.commit(
        { produce, offsets: [{ topic: last.topic, partition: last.partition, next: last.offset + 1n }] },
        { store: STORE, partition: 0, puts: [...puts].map(([id, e]) => [workerKey(id), toBytes(e)]), deletes: [...deletes].map(workerKey) },
      );
    } catch (err) {
      await this.afterFailedCommit(err);
      throw err;
    }
  }

  /** Declares silent workers lost; forgets workers lost long ago. */
  private async check(): Promise<void> {
    const m = this.membership;
    if (!m || !this.owned) return;
    const now = this.clock();
    const produce: ProduceRecord[] = [];
    const puts: Array<[string, Uint8Array]> = [];
    const deletes: string[] = [];
    for (const [id, e] of this.workers) {
      if (e.lostAt !== undefined) {
        if (now - e.lostAt > FORGET_LOST_AFTER_MS) {
          this.workers.delete(id);
          deletes.push(workerKey(id));
        }
        continue;
      }
      if (this.prior.has(id)) {
        this.prior.delete(id);
        this.lose(id, e, "known from before this process started: it ran in an earlier run of this process", now, produce);
        puts.push([workerKey(id), toBytes(e)]);
      } else if (now - e.lastSeen > this.timeoutMs) {
        this.lose(id, e, `no heartbeat for ${now - e.lastSeen} ms (timeout ${this.timeoutMs} ms)`, now, produce);
        puts.push([workerKey(id), toBytes(e)]);
      }
    }
    for (const [group, n] of this.watch.liveByGroup(now)) liveWorkersGauge.set({ group }, n);
    if (produce.length === 0 && deletes.length === 0) return;
    try {
      await m.commit(
        { produce, offsets: [], fence: [{ topic: this.topics.heartbeats, partition: 0 }] },
        { store: STORE, partition: 0, puts, deletes },
      );
    } catch (err) {
      await this.afterFailedCommit(err);
      if (!(err instanceof LannerError && err.code === "FENCED")) throw err;
    }
  }

  /** Memory went ahead of what is durable: fenced → stop deciding; else reload the store's view. */
  private async afterFailedCommit(err: unknown): Promise<void> {
    if (err instanceof LannerError && err.code === "FENCED") {
      this.owned = false;
      this.workers.clear();
      return;
    }
    if (this.owned) await this.restoreFromStore().catch(() => undefined);
  }

  /** Marks `entry` lost and adds a WorkerLost for every executor partition to `produce`. */
  private lose(workerId: string, entry: WorkerEntry, reason: string, now: number, produce: ProduceRecord[]): void {
    entry.lostAt = now;
    entry.lostReason = reason;
    this.workers.set(workerId, entry);
    this.watch.markLost(workerId);
    this.declared++;
    const n = this.log.partitionsOf(this.topics.commands);
    const value = encodeWorkerLost(this.opts.codec, { workerId, at: now });
    for (let partition = 0; partition < n; partition++) produce.push({ topic: this.topics.commands, key: workerId, partition, value });
    this.logger.warn({ workerId, group: entry.group, reason }, "worker declared lost; its attempts will be resubmitted");
  }
}
