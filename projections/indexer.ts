/**
 * The indexer role: folds the `executions` topic (execution events) and the `logs` topic into the
 * repository, and copies flow revisions (`flows`) and trigger states (`triggers`) into it. Per delivered batch it writes once, then commits the batch's offsets — only after
 * the repository acknowledged, so a crash in between replays the batch, which the idempotent
 * writes (versioned executions, log line ids) make harmless. When the repository is down it
 * retries with a growing back-off and commits nothing: executions keep running, only the read
 * side lags, and it catches up.
 */
import type { Logger } from "pino";
import { Gauge } from "prom-client";
import { LannerError, describeError } from "../common/errors.js";
import { applyEvent } from "../processors/executor/apply.js";
import type { ExecutionEvent } from "../processors/executor/events.js";
import { executionView, isTerminal, type ExecutionState } from "../processors/executor/model.js";
import { flowRecordDecoder } from "../processors/executor/shell/flow-resolver.js";
import { decodeEvent, KIND, MalformedRecordError, type LogLine, type RecordCodec } from "../processors/executor/shell/records.js";
import { decodeTriggerRecord } from "../processors/scheduler/trigger-records.js";
import { parseFlow } from "../schemas/flow-parser.js";
import type { AssignedPartition, Log, LogRecord, Membership, ProduceRecord, TopicPartition } from "../topology/log.js";
import { foldOf, stateFrom } from "./fold-state.js";
import { truncateMessage } from "./query.js";
import { LOG_LEVELS, type ExecutionUpsert, type FlowRevision, type LogEntry, type LogLevel, type Repository, type TriggerUpsert } from "./repository.js";

/** Names of the topics the indexer reads and writes. */
export interface IndexerTopics {
  executions: string;
  logs: string;
  flows: string;
  triggers: string;
  deadLetters: string;
}

export const DEFAULT_INDEXER_TOPICS: IndexerTopics = { executions: "executions", logs: "logs", flows: "flows", triggers: "triggers", deadLetters: "dead-letters" };

/** What the indexer can project; each kind reads one topic. */
export const INDEXED_KINDS = ["executions", "logs", "flows", "triggers"] as const;
export type IndexedKind = (typeof INDEXED_KINDS)[number];

/**
 * The consumer group of every indexer instance, for executions and logs (co-partitioned). Flows
 * and triggers have their own partition counts, so they are read by `<group>-flows` and
 * `<group>-triggers`.
 */
export const INDEXER_GROUP = "indexer";

/** Sum of the lag of every indexer of the process, for /metrics (registered on creation). */
new Gauge({
  name: "lanner_indexer_lag_records",
  help: "Records of the indexed topics not yet in the read side (summed over the indexers of this process)",
  async collect() {
    let total = 0n;
    for (const ix of liveIndexers) total += await ix.lag().catch(() => 0n);
    this.set(Number(total));
  },
});
const liveIndexers = new Set<Indexer>();

export interface IndexerOptions {
  log: Log;
  repository: Repository;
  logger: Logger;
  /** Record codec (the same the executor and workers write with). */
  codec: RecordCodec;
  topics?: Partial<IndexerTopics>;
  /** Most records per delivered batch; default 512. */
  maxBatch?: number;
  /** Back-off while the repository fails: first and largest delay (ms); default 100 and 10,000. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Executions kept folded in memory per partition (the rest are reloaded from the repository); default 5,000. */
  cacheSize?: number;
  /**
   * From this many task runs on, a running execution's view is rewritten at most once per
   * `viewWriteMsPerTaskRun` × its task runs (default 1,000 task runs, 1 ms): each write stores the
   * whole view, so writing a 10,000-task-run ForEach on every batch would cost O(n²) bytes. Its
   * end, and any change of its execution state, are still written at once.
   */
  largeExecutionTaskRuns?: number;
  viewWriteMsPerTaskRun?: number;
  memberId?: string;
  /** What to project; default every kind whose topic exists on the log. */
  kinds?: readonly IndexedKind[];
  /** Consumer group (and prefix of the flows/triggers groups); default INDEXER_GROUP. */
  group?: string;
  /** Join as an ephemeral group (a one-off reindex that nobody resumes). */
  ephemeral?: boolean;
}

/** Counters for metrics and tests. */
export interface IndexerStats {
  /** Events folded into executions. */
  events: number;
  /** Log lines stored. */
  logLines: number;
  /** Flow revisions and trigger states stored. */
  flows: number;
  triggers: number;
  /** Records sent to the dead-letters topic. */
  deadLetters: number;
  /** Failed repository writes (each retried). */
  retries: number;
}

interface Cached {
  state: ExecutionState;
}

/** A large execution folded past what the repository holds (its write was deferred). */
interface Deferred {
  /** Offset of its first event not yet written: the partition's commit may not pass it. */
  firstOffset: bigint;
  /** Offset of its last event folded: the version of the row once written. */
  lastOffset: bigint;
}

/** When a large execution's view was last written, and in which execution state. */
interface Written {
  at: number;
  state: string;
}

class Stopping extends LannerError {
  constructor() {
    super("INDEXER_STOPPING", "the indexer is stopping", { retriable: true });
  }
}

/** setTimeout's largest delay (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export class Indexer {
  readonly stats: IndexerStats = { events: 0, logLines: 0, flows: 0, triggers: 0, deadLetters: 0, retries: 0 };
  private readonly log: Log;
  private readonly repository: Repository;
  private readonly logger: Logger;
  private readonly codec: RecordCodec;
  private readonly topics: IndexerTopics;
  private readonly cacheSize: number;
  private readonly largeExecutionTaskRuns: number;
  private readonly viewWriteMsPerTaskRun: number;
  /** Per `executions` partition: large executions whose latest fold is not written yet. */
  private readonly deferred = new Map<number, Map<string, Deferred>>();
  /** Per `executions` partition: last write of each large execution. */
  private readonly written = new Map<number, Map<string, Written>>();
  /** Per `executions` partition: end of the last batch folded (what a flush may commit). */
  private readonly delivered = new Map<number, bigint>();
  private readonly flushTimers = new Map<number, NodeJS.Timeout>();
  /** Per `executions` partition: batches and flushes run one at a time. */
  private readonly queues = new Map<number, Promise<unknown>>();
  /** Folded executions per `executions` partition, oldest use first (Map order). */
  private readonly cache = new Map<number, Map<string, Cached>>();
  private membership: Membership | undefined;
  private joined: Promise<Membership> | undefined;
  /** Memberships of the other groups (flows, triggers), by topic. */
  private readonly others = new Map<string, Membership>();
  private readonly otherJoins = new Map<string, Promise<Membership>>();
  private readonly group: string;
  private readonly kinds: Set<IndexedKind>;
  private readonly decodeFlow: (value: Uint8Array) => ReturnType<ReturnType<typeof flowRecordDecoder>>;
  private stopping = false;
  private readonly stopWaiters = new Set<() => void>();

  constructor(private readonly opts: IndexerOptions) {
    this.log = opts.log;
    this.repository = opts.repository;
    this.logger = opts.logger.child({ role: "indexer" });
    this.codec = opts.codec;
    this.topics = { ...DEFAULT_INDEXER_TOPICS, ...opts.topics };
    this.cacheSize = opts.cacheSize ?? 5_000;
    this.largeExecutionTaskRuns = opts.largeExecutionTaskRuns ?? 1_000;
    this.viewWriteMsPerTaskRun = opts.viewWriteMsPerTaskRun ?? 1;
    this.group = opts.group ?? INDEXER_GROUP;
    const exists = (topic: string) => {
      try {
        this.log.partitionsOf(topic);
        return true;
      } catch {
        return false;
      }
    };
    const topicOf: Record<IndexedKind, string> = { executions: this.topics.executions, logs: this.topics.logs, flows: this.topics.flows, triggers: this.topics.triggers };
    this.kinds = new Set((opts.kinds ?? INDEXED_KINDS).filter((k) => opts.kinds !== undefined || exists(topicOf[k])));
    this.decodeFlow = flowRecordDecoder(this.codec);
  }

  /** The topics this indexer reads, each with its consumer group. */
  private subscriptions(): Array<{ topic: string; group: string }> {
    const out: Array<{ topic: string; group: string }> = [];
    if (this.kinds.has("executions")) out.push({ topic: this.topics.executions, group: this.group });
    if (this.kinds.has("logs")) out.push({ topic: this.topics.logs, group: this.group });
    if (this.kinds.has("flows")) out.push({ topic: this.topics.flows, group: `${this.group}-flows` });
    if (this.kinds.has("triggers")) out.push({ topic: this.topics.triggers, group: `${this.group}-triggers` });
    return out;
  }

  /**
   * Joins group `indexer` on the executions and logs topics, and `indexer-flows` /
   * `indexer-triggers` on those topics (for the kinds it projects); resolves once joined.
   */
  async start(): Promise<void> {
    if (this.joined) {
      await this.joined;
      return;
    }
    this.stopping = false;
    const joinOptions = { maxBatch: this.opts.maxBatch ?? 512, memberId: this.opts.memberId, ephemeral: this.opts.ephemeral ?? false };
    const member = {
      onAssign: (assigned: AssignedPartition[]) => this.onAssign(assigned),
      onRevoke: (revoked: TopicPartition[]) => this.onRevoke(revoked),
      onRecords: (batch: LogRecord[]) => this.onRecords(batch),
      onError: (err: unknown, where: TopicPartition) => this.logger.warn({ err: describeError(err), topic: where.topic, partition: where.partition }, "indexer delivery failed; retrying"),
    };
    const main = this.subscriptions().filter((s) => s.group === this.group).map((s) => s.topic);
    const join = async () => {
      for (const s of this.subscriptions().filter((x) => x.group !== this.group)) {
        // Registered before it resolves: records may be delivered while the join completes.
        const joining = this.log.join(s.group, [s.topic], member, joinOptions);
        this.otherJoins.set(s.topic, joining);
        this.others.set(s.topic, await joining);
      }
      // The main group last: `membership` is what onRecords of executions and logs commit through.
      if (main.length > 0) return this.log.join(this.group, main, member, joinOptions);
      return undefined;
    };
    this.joined = join().then((m) => m ?? ({ memberId: "none", assignment: () => [], commit: async () => [], leave: async () => {} } satisfies Membership));
    this.membership = await this.joined;
    liveIndexers.add(this);
    this.logger.info({ topics: this.subscriptions().map((s) => s.topic), group: this.group }, "indexer started");
  }

  /** Leaves the groups (a batch waiting for the repository gives up; it is delivered again later). */
  async stop(): Promise<void> {
    this.stopping = true;
    liveIndexers.delete(this);
    for (const wake of [...this.stopWaiters]) wake();
    const m = this.membership ?? (await this.joined?.catch(() => undefined));
    this.membership = undefined;
    this.joined = undefined;
    if (m) await m.leave();
    for (const o of [...this.others.values()]) await o.leave();
    this.others.clear();
    this.otherJoins.clear();
    for (const p of [...this.cache.keys()]) this.dropPartition(p);
    this.cache.clear();
  }

  /** Forgets a partition's folds and deferred writes (its uncommitted events are delivered again). */
  private dropPartition(partition: number): void {
    this.cache.delete(partition);
    this.deferred.delete(partition);
    this.written.delete(partition);
    this.delivered.delete(partition);
    const t = this.flushTimers.get(partition);
    if (t) clearTimeout(t);
    this.flushTimers.delete(partition);
  }

  /** Runs `job` after every batch and flush of the partition queued before it. */
  private serial<T>(partition: number, job: () => Promise<T>): Promise<T> {
    const next = (this.queues.get(partition) ?? Promise.resolve()).then(job, job);
    this.queues.set(partition, next.catch(() => undefined));
    return next;
  }

  /**
   * Records of the indexer's topics not yet committed by its groups (the read side's delay),
   * summed over every partition of every topic it reads.
   */
  async lag(): Promise<bigint> {
    let total = 0n;
    for (const { topic, group } of this.subscriptions()) {
      for (let p = 0; p < this.log.partitionsOf(topic); p++) {
        const [end, committed] = await Promise.all([this.log.endOffset(topic, p), this.log.committed(group, topic, p)]);
        if (end > committed) total += end - committed;
      }
    }
    return total;
  }

  private async onAssign(assigned: AssignedPartition[]): Promise<void> {
    for (const a of assigned) {
      if (a.topic !== this.topics.executions) continue;
      this.dropPartition(a.partition);
      this.cache.set(a.partition, new Map());
    }
  }

  private async onRevoke(revoked: TopicPartition[]): Promise<void> {
    for (const r of revoked) if (r.topic === this.topics.executions) this.dropPartition(r.partition);
  }

  private async onRecords(batch: LogRecord[]): Promise<void> {
    if (batch.length === 0) return;
    const { topic, partition } = batch[0];
    const other = this.otherJoins.get(topic);
    const membership = other ? await other : this.membership ?? (await this.joined);
    if (!membership) return;
    if (topic === this.topics.executions) return this.serial(partition, () => this.deliver(membership, batch));
    return this.deliver(membership, batch);
  }

  private async deliver(membership: Membership, batch: LogRecord[]): Promise<void> {
    const { topic, partition } = batch[0];
    const end = batch[batch.length - 1].offset + 1n;
    for (let attempt = 0; ; attempt++) {
      let deadLetters: ProduceRecord[];
      try {
        deadLetters = topic === this.topics.executions ? await this.indexEvents(partition, batch)
          : topic === this.topics.logs ? await this.indexLogs(partition, batch)
          : topic === this.topics.flows ? await this.indexFlows(batch)
          : await this.indexTriggers(batch);
      } catch (err) {
        // The fold may have been half-applied in memory: reload from the repository next time.
        const hadDeferred = (this.deferred.get(partition)?.size ?? 0) > 0;
        if (topic === this.topics.executions) this.dropPartition(partition);
        this.cache.set(partition, new Map());
        if (this.stopping) throw new Stopping();
        // Folds of earlier batches were never written: only a delivery from the committed offset
        // (which did not pass them) rebuilds them.
        if (hadDeferred) throw err;
        this.stats.retries++;
        const delay = Math.min(this.opts.retryMaxMs ?? 10_000, (this.opts.retryInitialMs ?? 100) * 2 ** Math.min(attempt, 16));
        const lag = await this.lag().catch(() => undefined);
        this.logger.warn({ err: describeError(err), topic, partition, attempt: attempt + 1, retryInMs: delay, lag: lag?.toString() },
          "the repository did not take the batch; retrying (executions keep running, the read side lags)");
        await this.pause(delay);
        if (this.stopping) throw new Stopping();
        continue;
      }
      let next = end;
      if (topic === this.topics.executions) {
        this.delivered.set(partition, end);
        next = this.committable(partition, end);
        this.armFlush(partition, membership);
      }
      try {
        await membership.commit({ produce: deadLetters, offsets: [{ topic, partition, next }] });
      } catch (err) {
        if (err instanceof LannerError && err.code === "FENCED") {
          // The partition moved to another indexer; it replays from the committed offset.
          this.dropPartition(partition);
          return;
        }
        throw err;
      }
      this.stats.deadLetters += deadLetters.length;
      return;
    }
  }

  /** The offset the partition may commit: `end`, held back before the first deferred event. */
  private committable(partition: number, end: bigint): bigint {
    let next = end;
    for (const d of this.deferred.get(partition)?.values() ?? []) if (d.firstOffset < next) next = d.firstOffset;
    return next;
  }

  /** Arms a write of the partition's deferred views when the first of them is due. */
  private armFlush(partition: number, membership: Membership): void {
    const deferred = this.deferred.get(partition);
    if (!deferred || deferred.size === 0 || this.flushTimers.has(partition) || this.stopping) return;
    const now = Date.now();
    let at = Number.POSITIVE_INFINITY;
    const cache = this.cache.get(partition);
    for (const id of deferred.keys()) {
      const state = cache?.get(id)?.state;
      const last = this.written.get(partition)?.get(id)?.at ?? now;
      at = Math.min(at, state ? last + state.order.length * this.viewWriteMsPerTaskRun : now);
    }
    const timer = setTimeout(() => {
      this.flushTimers.delete(partition);
      void this.serial(partition, () => this.flush(partition, membership)).catch((err: unknown) => {
        this.logger.warn({ err: describeError(err), partition }, "deferred execution views not written; retrying");
        this.armFlush(partition, membership);
      });
    }, Math.min(MAX_TIMER_MS, Math.max(0, at - now)));
    timer.unref();
    this.flushTimers.set(partition, timer);
  }

  /** Writes every deferred view of the partition and commits up to the last batch folded. */
  private async flush(partition: number, membership: Membership): Promise<void> {
    const deferred = this.deferred.get(partition);
    const cache = this.cache.get(partition);
    if (!deferred || deferred.size === 0 || !cache || this.stopping) return;
    const rows: ExecutionUpsert[] = [];
    for (const [id, d] of deferred) {
      const state = cache.get(id)?.state;
      if (state) rows.push({ execution: executionView(state), version: d.lastOffset, fold: foldOf(state) });
    }
    await this.repository.upsertExecutions(rows);
    const now = Date.now();
    const written = this.writtenOf(partition);
    for (const id of deferred.keys()) {
      const state = cache.get(id)?.state;
      if (state) written.set(id, { at: now, state: state.execution.state.current });
    }
    deferred.clear();
    const next = this.delivered.get(partition);
    if (next === undefined) return;
    try {
      await membership.commit({ produce: [], offsets: [{ topic: this.topics.executions, partition, next }] });
    } catch (err) {
      if (err instanceof LannerError && err.code === "FENCED") {
        this.dropPartition(partition);
        return;
      }
      throw err;
    }
  }

  private writtenOf(partition: number): Map<string, Written> {
    let w = this.written.get(partition);
    if (!w) {
      w = new Map();
      this.written.set(partition, w);
    }
    return w;
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.stopWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.stopWaiters.add(done);
    });
  }

  private deadLetter(rec: LogRecord, reason: string): ProduceRecord {
    this.logger.warn({ topic: rec.topic, partition: rec.partition, offset: String(rec.offset), reason }, "record sent to dead letters");
    return {
      topic: this.topics.deadLetters, key: rec.key, value: rec.value,
      headers: {
        ...rec.headers, "lanner-dead-letter-reason": reason, "lanner-source-topic": rec.topic,
        "lanner-source-partition": String(rec.partition), "lanner-source-offset": String(rec.offset),
      },
    };
  }

  /** Folds a batch of events into the executions they belong to and writes each changed one once. */
  private async indexEvents(partition: number, batch: LogRecord[]): Promise<ProduceRecord[]> {
    const dead: ProduceRecord[] = [];
    const events: Array<{ rec: LogRecord; event: ExecutionEvent }> = [];
    for (const rec of batch) {
      try {
        events.push({ rec, event: decodeEvent(this.codec, rec.value) });
      } catch (err) {
        dead.push(this.deadLetter(rec, `undecodable execution event: ${describeError(err)}`));
      }
    }
    let cache = this.cache.get(partition);
    if (!cache) {
      cache = new Map();
      this.cache.set(partition, cache);
    }
    const missing = [...new Set(events.map((e) => e.event.executionId))].filter((id) => !cache.has(id));
    if (missing.length > 0) {
      const stored = await this.repository.getStoredExecutions(missing);
      for (const [id, row] of stored) {
        const state = stateFrom(row.execution, row.fold);
        if (state) cache.set(id, { state });
        else this.logger.warn({ executionId: id }, "stored execution has no fold state; it is rebuilt from its creation event only");
      }
    }
    const changed = new Map<string, bigint>();
    /** Offset of each changed execution's first event in this batch. */
    const firstChange = new Map<string, bigint>();
    let folded = 0;
    for (const { rec, event } of events) {
      const cached = cache.get(event.executionId);
      // Already folded (a replay after a crash between write and commit): skip.
      if (cached && event.seq <= cached.state.seq) continue;
      if (!cached && event.type !== "ExecutionCreated") {
        dead.push(this.deadLetter(rec, `event ${event.seq} (${event.type}) of execution ${event.executionId} comes without the execution's earlier history`));
        continue;
      }
      try {
        const state = applyEvent(cached?.state, event);
        if (cached) {
          // Move to the back: most recently used.
          cache.delete(event.executionId);
        }
        cache.set(event.executionId, { state });
        changed.set(event.executionId, rec.offset);
        if (!firstChange.has(event.executionId)) firstChange.set(event.executionId, rec.offset);
        folded++;
      } catch (err) {
        dead.push(this.deadLetter(rec, `event cannot be folded: ${describeError(err)}`));
      }
    }
    const rows: ExecutionUpsert[] = [];
    const now = Date.now();
    let deferred = this.deferred.get(partition);
    const written = this.writtenOf(partition);
    for (const [id, version] of changed) {
      const state = cache.get(id)?.state;
      if (!state) continue;
      const current = state.execution.state.current;
      const last = written.get(id);
      const large = state.order.length >= this.largeExecutionTaskRuns && !isTerminal(current);
      if (large && last && last.state === current && now - last.at < state.order.length * this.viewWriteMsPerTaskRun) {
        if (!deferred) {
          deferred = new Map();
          this.deferred.set(partition, deferred);
        }
        const d = deferred.get(id);
        if (d) d.lastOffset = version;
        else deferred.set(id, { firstOffset: firstChange.get(id) ?? version, lastOffset: version });
        continue;
      }
      rows.push({ execution: executionView(state), version, fold: foldOf(state) });
      deferred?.delete(id);
      if (large) written.set(id, { at: now, state: current });
      else written.delete(id);
    }
    await this.repository.upsertExecutions(rows);
    this.stats.events += folded;
    // Ended executions rarely change again; a late event reloads them from the repository.
    for (const [id] of changed) {
      const state = cache.get(id)?.state;
      if (state && isTerminal(state.execution.state.current)) cache.delete(id);
    }
    // Least recently used first; a deferred execution stays (its fold is not in the repository).
    for (const id of cache.keys()) {
      if (cache.size <= this.cacheSize) break;
      if (deferred?.has(id)) continue;
      cache.delete(id);
      written.delete(id);
    }
    return dead;
  }

  /** Stores the flow revisions of a batch of `flows` records (each revision once). */
  private async indexFlows(batch: LogRecord[]): Promise<ProduceRecord[]> {
    const dead: ProduceRecord[] = [];
    for (const rec of batch) {
      const r = this.decodeFlow(rec.value);
      if (!r) {
        dead.push(this.deadLetter(rec, "undecodable flow revision"));
        continue;
      }
      const parsed = parseFlow(r.source);
      if (!parsed.ok) {
        dead.push(this.deadLetter(rec, `flow ${r.namespace}.${r.id} revision ${r.revision} does not parse: ${parsed.errors[0]?.message ?? "invalid"}`));
        continue;
      }
      const rev: FlowRevision = {
        tenantId: r.tenantId, namespace: r.namespace, id: r.id, revision: r.revision, source: r.source,
        flow: { ...parsed.flow, tenantId: r.tenantId, revision: r.revision }, deleted: r.deleted, updated: new Date(rec.timestamp).toISOString(),
      };
      await this.repository.putFlowRevision(rev);
      this.stats.flows++;
    }
    return dead;
  }

  /** Stores the trigger states of a batch of `triggers` records (commands are the scheduler's business). */
  private async indexTriggers(batch: LogRecord[]): Promise<ProduceRecord[]> {
    const dead: ProduceRecord[] = [];
    const rows: TriggerUpsert[] = [];
    for (const rec of batch) {
      try {
        const r = decodeTriggerRecord(this.codec, rec.value);
        if (r.kind !== "state") continue;
        const st = r.state;
        const { deleted, ...value } = st;
        rows.push({
          key: `${st.tenantId}/${st.namespace}/${st.flowId}/${st.triggerId}`, tenantId: st.tenantId, namespace: st.namespace,
          flowId: st.flowId, triggerId: st.triggerId, value: deleted ? null : value, version: rec.offset, updated: new Date(rec.timestamp).toISOString(),
        });
      } catch (err) {
        dead.push(this.deadLetter(rec, `undecodable trigger record: ${describeError(err)}`));
      }
    }
    await this.repository.upsertTriggers(rows);
    this.stats.triggers += rows.length;
    return dead;
  }

  /** Stores a batch of log lines; each line's id is its record's place, so a replay stores nothing twice. */
  private async indexLogs(partition: number, batch: LogRecord[]): Promise<ProduceRecord[]> {
    const dead: ProduceRecord[] = [];
    const entries: LogEntry[] = [];
    for (const rec of batch) {
      try {
        const { type, value } = this.codec.decode(rec.value);
        if (type !== KIND.logLine) throw new MalformedRecordError(`a ${type} record does not belong on ${rec.topic}`);
        const lines = Array.isArray(value) ? value : [value];
        lines.forEach((line, i) => entries.push(toEntry(line, lines.length === 1 ? `${partition}:${rec.offset}` : `${partition}:${rec.offset}:${i}`)));
      } catch (err) {
        dead.push(this.deadLetter(rec, `undecodable log line: ${describeError(err)}`));
      }
    }
    await this.repository.appendLogs(entries);
    this.stats.logLines += entries.length;
    return dead;
  }
}

/** A `logs` record value → the stored entry; throws MalformedRecordError when it is not a log line. */
function toEntry(v: unknown, id: string): LogEntry {
  if (!isObject(v)) throw new MalformedRecordError("LogLine: the value is not an object");
  const line = v as Partial<LogLine>;
  if (typeof line.executionId !== "string" || line.executionId === "") throw new MalformedRecordError("LogLine: executionId must be a non-empty string");
  if (typeof line.message !== "string") throw new MalformedRecordError("LogLine: message must be a string");
  const level = (typeof line.level === "string" && (LOG_LEVELS as readonly string[]).includes(line.level.toUpperCase()) ? line.level.toUpperCase() : "INFO") as LogLevel;
  const ts = typeof line.timestamp === "number" ? line.timestamp : typeof line.timestamp === "string" ? Date.parse(line.timestamp) : NaN;
  const entry: LogEntry = {
    id,
    tenantId: typeof line.tenantId === "string" ? line.tenantId : "main",
    namespace: typeof line.namespace === "string" ? line.namespace : "",
    flowId: typeof line.flowId === "string" ? line.flowId : "",
    executionId: line.executionId,
    level,
    message: truncateMessage(line.message),
    timestamp: new Date(Number.isFinite(ts) ? ts : 0).toISOString(),
  };
  if (typeof line.taskRunId === "string" && line.taskRunId !== "") entry.taskRunId = line.taskRunId;
  if (typeof line.taskId === "string" && line.taskId !== "") entry.taskId = line.taskId;
  if (typeof line.attempt === "number") entry.attemptNumber = line.attempt;
  if (typeof line.workerId === "string" && line.workerId !== "") entry.workerId = line.workerId;
  return entry;
}
