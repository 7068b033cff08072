import type { ExecutionEvent } from "../processors/executor/events.js";
import type { Execution, TaskRun } from "../processors/executor/model.js";
import { causeOf, type HistoryEntry } from "../projections/history.js";
import type { Flow, Label } from "../schemas/flow-types.js";

/** A task run as the API shows it (Kestra's fields; the executor's bookkeeping left out). */
export type ApiTaskRun = Omit<TaskRun, "valuePath" | "slot" | "iter" | "loopTurn"> & { namespace: string; flowId: string };

/** An execution as the API shows it. */
export type ApiExecution = Omit<Execution, "taskRunList"> & { taskRunList: ApiTaskRun[]; deleted: boolean };

/** The Kestra-shaped JSON of an execution. */
export function toApiExecution(e: Execution): ApiExecution {
  const { taskRunList, ...rest } = e;
  return {
    ...rest,
    taskRunList: taskRunList.map((tr) => {
      const { valuePath: _valuePath, slot: _slot, iter: _iter, loopTurn: _loopTurn, ...kept } = tr;
      return { ...kept, namespace: e.namespace, flowId: e.flowId };
    }),
    deleted: false,
  };
}

/**
 * The execution as it is the moment it is created (state CREATED, no task run), built like the
 * executor builds it; answered until the read side has the real one.
 */
export function createdExecution(p: { id: string; flow: Flow; tenantId: string; revision: number; inputs: Record<string, unknown>; labels: Label[]; now: number }): Execution {
  const date = new Date(p.now).toISOString();
  // Flow labels, overridden by the execution's (as the executor merges them).
  const merged = new Map<string, string>();
  for (const l of [...(p.flow.labels ?? []), ...p.labels]) merged.set(l.key, l.value);
  const labels = [...merged].map(([key, value]) => ({ key, value }));
  return {
    id: p.id, tenantId: p.tenantId, namespace: p.flow.namespace, flowId: p.flow.id, flowRevision: p.revision,
    state: { current: "CREATED", histories: [{ state: "CREATED", date }] },
    inputs: p.inputs, labels, taskRunList: [], originalId: p.id, attemptNumber: 1, startDate: date,
  };
}

/** One event of an execution's audit trail as the API shows it. */
export interface ApiHistoryEntry {
  /** The event's offset on the `executions` topic (what `asOf` and `Last-Event-ID` take). */
  offset: string;
  partition: number;
  seq: number;
  /** ISO-8601 instant at which the executor emitted it. */
  date: string;
  /** ISO-8601 instant at which it was appended to the log. */
  appended: string;
  type: string;
  /** Why it happened, when the event says (`kill requested`, `concurrency limit reached`…). */
  cause?: string;
  /** Who acted, when the event names it (`worker:<id>`). */
  actor?: string;
  event: ExecutionEvent;
}

/** The JSON of one history entry (offsets as strings: they may exceed 2^53). */
export function toApiHistoryEntry(h: HistoryEntry): ApiHistoryEntry {
  const { event } = h;
  return {
    offset: String(h.offset), partition: h.partition, seq: event.seq, date: new Date(event.at).toISOString(), appended: h.timestamp,
    type: event.type, ...causeOf(event), event,
  };
}
