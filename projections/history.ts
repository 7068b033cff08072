/**
 * The audit trail of an execution, read from the log itself (the `executions` topic is the
 * source of truth; the repository only holds the latest view). Events are keyed by execution id,
 * so one partition holds an execution's whole history, in order. The trail reaches back as far
 * as the topic's retention (`retention.executionsMs`, 7 days by default).
 */
import { applyEvent } from "../processors/executor/apply.js";
import type { ExecutionEvent } from "../processors/executor/events.js";
import { executionView, type Execution, type ExecutionState } from "../processors/executor/model.js";
import { decodeEvent, type RecordCodec } from "../processors/executor/shell/records.js";
import type { Log } from "../topology/log.js";
import { partitionForKey } from "../topology/partitioner.js";

/** One event of an execution's history and where it sits on the log. */
export interface HistoryEntry {
  partition: number;
  offset: bigint;
  /** ISO-8601 instant the record was appended. */
  timestamp: string;
  event: ExecutionEvent;
}

export interface HistoryReaderOptions {
  log: Log;
  codec: RecordCodec;
  /** The physical name of the `executions` topic; default `executions`. */
  topic?: string;
}

/** Why an event happened and who did it, when the event says. */
export interface EventCause {
  /** The event's own reason (`kill requested`, `concurrency limit reached`, `fired`…). */
  cause?: string;
  /** Who acted, when the event names it: `worker:<id>` for an attempt a worker started. */
  actor?: string;
}

/** The cause and actor an event carries (both absent for events that carry neither). */
export function causeOf(event: ExecutionEvent): EventCause {
  const out: EventCause = {};
  if ("reason" in event && typeof event.reason === "string" && event.reason !== "") out.cause = event.reason;
  if (event.type === "AttemptStarted") out.actor = `worker:${event.workerId}`;
  return out;
}

/** Reads execution histories from the log, and folds them to any point (time travel). */
export class HistoryReader {
  private readonly topic: string;

  constructor(private readonly opts: HistoryReaderOptions) {
    this.topic = opts.topic ?? "executions";
  }

  /**
   * Every event of the execution still on the log, oldest first, with its offset and time; empty
   * when the log holds none. With `upTo`, only the events at or before that offset. An event
   * written twice (a unit of work replayed after a crash re-appends its events with the same
   * `seq`) appears once, at its first offset, as the indexer folds it. Scans the execution's
   * partition from its oldest retained record, so its cost grows with the partition, not with
   * the execution: an audit call, not a hot path.
   */
  async history(executionId: string, upTo?: bigint): Promise<HistoryEntry[]> {
    const out: HistoryEntry[] = [];
    for await (const entry of this.entries(executionId, upTo)) out.push(entry);
    return out;
  }

  /**
   * The execution as it was right after the event at `offset` (events up to and including that
   * offset folded with the executor's own `applyEvent`); undefined when no event of it is at or
   * before that offset, or when what is left of its history no longer starts at its creation
   * (retention removed the beginning).
   */
  async executionAsOf(executionId: string, offset: bigint): Promise<Execution | undefined> {
    let state: ExecutionState | undefined;
    for await (const entry of this.entries(executionId, offset)) {
      if (!state && entry.event.type !== "ExecutionCreated") return undefined;
      state = applyEvent(state, entry.event);
    }
    return state ? executionView(state) : undefined;
  }

  /** The execution's events in log order, without repeated seqs, stopping after `upTo`. */
  private async *entries(executionId: string, upTo?: bigint): AsyncGenerator<HistoryEntry> {
    const partition = partitionForKey(executionId, this.opts.log.partitionsOf(this.topic));
    let lastSeq = 0;
    for await (const rec of this.opts.log.readPartition(this.topic, partition, 0n)) {
      if (upTo !== undefined && rec.offset > upTo) return;
      if (rec.key !== executionId) continue;
      let event: ExecutionEvent;
      try {
        event = decodeEvent(this.opts.codec, rec.value);
      } catch {
        // An undecodable record went to the dead letters when the indexer met it; the trail skips it too.
        continue;
      }
      if (event.executionId !== executionId || event.seq <= lastSeq) continue;
      lastSeq = event.seq;
      yield { partition, offset: rec.offset, timestamp: new Date(rec.timestamp).toISOString(), event };
    }
  }
}
