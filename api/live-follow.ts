/**
 * Live follow of one execution and of its log lines, from the log itself: the `executions` topic
 * (and `logs`) is keyed by execution id, so everything about one execution is in one partition.
 * A follower starts from what the read side already holds (the stored fold and its version, which
 * is the offset of the last event folded into it), then reads the partition from there, folding
 * the execution's events as they arrive. It waits on the change feed (the in-process indexer)
 * between reads; without one in the process it re-checks on a bounded interval.
 */
import { applyEvent } from "../processors/executor/apply.js";
import type { ExecutionEvent } from "../processors/executor/events.js";
import { executionView, isTerminal, type Execution, type ExecutionState } from "../processors/executor/model.js";
import { decodeEvent } from "../processors/executor/shell/records.js";
import { stateFrom } from "../projections/fold-state.js";
import { LOG_LEVELS, type LogEntry, type LogLevel } from "../projections/repository.js";
import { partitionForKey } from "../topology/partitioner.js";
import { INDEXER_GROUP_NAME, type ApiContext } from "./context.js";

/** One step of a followed execution: the execution after the event at `offset`. */
export interface FollowStep {
  offset: bigint;
  /** The event type, or `snapshot` for the starting point. */
  type: string;
  execution: Execution;
}

/** Events that change nothing a follower sees. */
const QUIET = new Set(["TimerScheduled", "TimerCleared", "ResultIgnored"]);

/** How long a follower without a change feed waits before looking again (ms). */
const RECHECK_MS = 1_000;

/** Resolves on the next change of `id`, on `signal`, or after `recheckMs` (when nothing announces changes). */
class Waker {
  private dirty = false;
  private wake: (() => void) | undefined;
  private readonly unsubscribe: () => void;

  constructor(private readonly ctx: ApiContext, id: string, logs: boolean, private readonly signal: AbortSignal) {
    // A log follower also wakes on execution changes: the execution's end is what ends it.
    const offs = [ctx.changes.subscribe(id, () => this.fire(), false), ...(logs ? [ctx.changes.subscribe(id, () => this.fire(), true)] : [])];
    this.unsubscribe = () => offs.forEach((off) => off());
    signal.addEventListener("abort", this.onAbort, { once: true });
  }

  private readonly onAbort = () => this.fire();

  private fire(): void {
    this.dirty = true;
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Clears the pending flag: call before reading, so a change during the read is not lost. */
  arm(): void {
    this.dirty = false;
  }

  wait(): Promise<void> {
    if (this.dirty || this.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.fire(), this.ctx.changes.live ? 30_000 : RECHECK_MS);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  close(): void {
    this.unsubscribe();
    this.signal.removeEventListener("abort", this.onAbort);
    this.fire();
  }
}

/**
 * Follows execution `id` of tenant `tenantId`: yields its current state (unless the client already
 * saw it: `after` is the last offset it got), then one step per event as it happens; ends once the
 * execution is terminal, or when `signal` aborts. Yields nothing when the execution is unknown.
 */
export async function* followExecution(ctx: ApiContext, id: string, opts: { after?: bigint; signal: AbortSignal }): AsyncGenerator<FollowStep> {
  const topic = ctx.topics.executions;
  const partition = partitionForKey(id, ctx.log.partitionsOf(topic));
  const waker = new Waker(ctx, id, false, opts.signal);
  try {
    // The committed offset first: whatever the read side lacks after this read is at or after it.
    const committed = await ctx.log.committed(INDEXER_GROUP_NAME, topic, partition);
    const stored = (await ctx.repository.getStoredExecutions([id])).get(id);
    let state: ExecutionState | undefined = stored ? stateFrom(stored.execution, stored.fold) : undefined;
    // A row without a fold state cannot be continued: its events are read from the start.
    let from = state && stored ? stored.version + 1n : stored ? 0n : committed;
    if (state && stored && (opts.after === undefined || opts.after < stored.version)) {
      yield { offset: stored.version, type: "snapshot", execution: executionView(state) };
    }
    while (!opts.signal.aborted) {
      waker.arm();
      for await (const rec of ctx.log.readPartition(topic, partition, from)) {
        from = rec.offset + 1n;
        if (rec.key !== id) continue;
        let event: ExecutionEvent;
        try {
          event = decodeEvent(ctx.codec, rec.value);
        } catch {
          continue; // dead-lettered by the indexer; nothing to show
        }
        if (event.executionId !== id || (state && event.seq <= state.seq)) continue;
        if (!state && event.type !== "ExecutionCreated") continue;
        state = applyEvent(state, event);
        if (QUIET.has(event.type)) continue;
        if (opts.after !== undefined && rec.offset <= opts.after) continue;
        yield { offset: rec.offset, type: event.type, execution: executionView(state) };
      }
      if (state && isTerminal(state.execution.state.current)) return;
      await waker.wait();
    }
  } finally {
    waker.close();
  }
}

/**
 * Follows the log lines of execution `id`: the stored ones first, then new ones from the `logs`
 * partition as they are appended; ends when `isDone()` says the execution ended and the partition
 * was read to its end after that, or when `signal` aborts. Line ids are the indexer's, so a line is
 * sent once.
 */
export async function* followLogs(
  ctx: ApiContext, id: string, opts: { signal: AbortSignal; isDone: () => Promise<boolean>; keep?: (l: LogEntry) => boolean },
): AsyncGenerator<LogEntry> {
  const topic = ctx.topics.logs;
  const partition = partitionForKey(id, ctx.log.partitionsOf(topic));
  const waker = new Waker(ctx, id, true, opts.signal);
  const keep = opts.keep ?? (() => true);
  const seen = new Set<string>();
  try {
    let from = await ctx.log.committed(INDEXER_GROUP_NAME, topic, partition);
    for (const line of await ctx.repository.listLogs(id)) {
      seen.add(line.id);
      if (keep(line)) yield line;
    }
    while (!opts.signal.aborted) {
      waker.arm();
      const done = await opts.isDone();
      for await (const rec of ctx.log.readPartition(topic, partition, from)) {
        from = rec.offset + 1n;
        if (rec.key !== id) continue;
        let value: unknown;
        try {
          value = ctx.codec.decode(rec.value).value;
        } catch {
          continue;
        }
        const lines = Array.isArray(value) ? value : [value];
        for (let i = 0; i < lines.length; i++) {
          const entry = logEntryOf(lines[i], lines.length === 1 ? `${partition}:${rec.offset}` : `${partition}:${rec.offset}:${i}`);
          if (!entry || entry.executionId !== id || seen.has(entry.id)) continue;
          seen.add(entry.id);
          if (keep(entry)) yield entry;
        }
      }
      if (done) return;
      await waker.wait();
    }
  } finally {
    waker.close();
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A `logs` record value as the indexer stores it (same id scheme), or undefined when it is not a log line. */
function logEntryOf(v: unknown, id: string): LogEntry | undefined {
  if (!isObject(v) || typeof v.executionId !== "string" || typeof v.message !== "string") return undefined;
  const level = typeof v.level === "string" && (LOG_LEVELS as readonly string[]).includes(v.level.toUpperCase()) ? (v.level.toUpperCase() as LogLevel) : "INFO";
  const ts = typeof v.timestamp === "number" ? v.timestamp : typeof v.timestamp === "string" ? Date.parse(v.timestamp) : NaN;
  const entry: LogEntry = {
    id, executionId: v.executionId, level, message: v.message,
    tenantId: typeof v.tenantId === "string" ? v.tenantId : "main",
    namespace: typeof v.namespace === "string" ? v.namespace : "",
    flowId: typeof v.flowId === "string" ? v.flowId : "",
    timestamp: new Date(Number.isFinite(ts) ? ts : 0).toISOString(),
  };
  if (typeof v.taskRunId === "string" && v.taskRunId !== "") entry.taskRunId = v.taskRunId;
  if (typeof v.taskId === "string" && v.taskId !== "") entry.taskId = v.taskId;
  if (typeof v.attempt === "number") entry.attemptNumber = v.attempt;
  if (typeof v.workerId === "string" && v.workerId !== "") entry.workerId = v.workerId;
  return entry;
}
