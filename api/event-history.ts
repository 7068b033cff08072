/**
 * The audit trail of one execution, read from the `executions` topic (its partition holds every
 * event of the execution, keyed by its id): each event with its offset, time and type, and the
 * execution as it was at any of those offsets. Bounded by the topic's retention (7 days by default).
 */
import { applyEvent } from "../processors/executor/apply.js";
import type { ExecutionEvent } from "../processors/executor/events.js";
import { executionView, type Execution, type ExecutionState } from "../processors/executor/model.js";
import { decodeEvent } from "../processors/executor/shell/records.js";
import { partitionForKey } from "../topology/partitioner.js";
import type { ApiContext } from "./context.js";

/** One event of an execution's history. */
export interface HistoryEntry {
  /** The event's offset on the `executions` topic (what `asOf` and `Last-Event-ID` take). */
  offset: string;
  partition: number;
  seq: number;
  /** ISO-8601 instant at which the executor emitted it. */
  date: string;
  type: string;
  /** Why it happened, when the event says (state changes, ignored results…). */
  reason?: string;
  event: ExecutionEvent;
}

/** Every stored event of execution `id`, oldest first (empty when none is left on the log). */
export async function* executionEvents(ctx: ApiContext, id: string, upTo?: bigint): AsyncGenerator<{ offset: bigint; partition: number; event: ExecutionEvent }> {
  const topic = ctx.topics.executions;
  const partition = partitionForKey(id, ctx.log.partitionsOf(topic));
  for await (const rec of ctx.log.readPartition(topic, partition, 0n)) {
    if (upTo !== undefined && rec.offset > upTo) return;
    if (rec.key !== id) continue;
    let event: ExecutionEvent;
    try {
      event = decodeEvent(ctx.codec, rec.value);
    } catch {
      continue; // dead-lettered by the indexer: not part of the history
    }
    if (event.executionId === id) yield { offset: rec.offset, partition, event };
  }
}

/** The history of execution `id` as the API answers it. */
export async function executionHistory(ctx: ApiContext, id: string): Promise<HistoryEntry[]> {
  const out: HistoryEntry[] = [];
  for await (const { offset, partition, event } of executionEvents(ctx, id)) {
    const reason = "reason" in event && typeof event.reason === "string" ? event.reason : undefined;
    out.push({ offset: String(offset), partition, seq: event.seq, date: new Date(event.at).toISOString(), type: event.type, ...(reason ? { reason } : {}), event });
  }
  return out;
}

/** The execution as it was right after the event at `offset`; undefined when no event of it is at or before it. */
export async function executionAsOf(ctx: ApiContext, id: string, offset: bigint): Promise<Execution | undefined> {
  let state: ExecutionState | undefined;
  for await (const { event } of executionEvents(ctx, id, offset)) {
    if (!state && event.type !== "ExecutionCreated") continue;
    if (state && event.seq <= state.seq) continue;
    state = applyEvent(state, event);
  }
  return state ? executionView(state) : undefined;
}
