import { LannerError } from "../../common/errors.js";
import type { ExecutionEvent, ExecutionEventType } from "./events.js";
import { batchExecutionId } from "./ids.js";
import { isTerminal, isoDate, type ExecutionState, type State, type StateHistory, type TaskRun } from "./model.js";

/** A history that cannot have been produced by `reduce` (gap, unknown task run, illegal move). */
export class HistoryError extends LannerError {
  constructor(message: string, details?: unknown) {
    super("HISTORY_INVALID", message, { retriable: false, details });
    this.name = "HistoryError";
  }
}

/** True when a state may move from `from` to `to`: terminal states only leave through a restart. */
export function canTransition(from: State, to: State): boolean {
  if (from === to || to === "CREATED") return false;
  if (isTerminal(from)) return to === "RESTARTED";
  return true;
}

function move(h: StateHistory, to: State, at: number, what: string, seq: number): void {
  if (!canTransition(h.current, to)) {
    throw new HistoryError(`event ${seq}: ${what} cannot go from ${h.current} to ${to}`);
  }
  h.current = to;
  h.histories.push({ state: to, date: isoDate(at) });
}

function taskRun(s: ExecutionState, id: string, seq: number): TaskRun {
  const tr = s.taskRuns[id];
  if (!tr) throw new HistoryError(`event ${seq} names task run ${id}, which this execution does not have`);
  return tr;
}

function setOutputs(tree: Record<string, unknown>, tr: TaskRun, outputs: Record<string, unknown>): void {
  if (tr.valuePath.length === 0) {
    tree[tr.taskId] = outputs;
    return;
  }
  const existing = tree[tr.taskId];
  let node: Record<string, unknown>;
  if (existing && typeof existing === "object") node = existing as Record<string, unknown>;
  else tree[tr.taskId] = node = {};
  for (let i = 0; i < tr.valuePath.length - 1; i++) {
    const key = tr.valuePath[i];
    const next = node[key];
    if (next && typeof next === "object") node = next as Record<string, unknown>;
    else node = node[key] = {};
  }
  node[tr.valuePath[tr.valuePath.length - 1]] = outputs;
}

function currentAttempt(tr: TaskRun, n: number, seq: number) {
  const a = tr.attempts[tr.attempts.length - 1];
  if (!a || a.number !== n) throw new HistoryError(`event ${seq}: attempt ${n} is not the current attempt of task run ${tr.id}`);
  return a;
}

type Handlers = {
  [K in ExecutionEventType]: (
    s: K extends "ExecutionCreated" ? undefined : ExecutionState,
    e: Extract<ExecutionEvent, { type: K }>,
  ) => ExecutionState;
};

/**
 * One handler per event type (a missing one is a compile error). Handlers update the state in
 * place, touching only what the event changes, and return it.
 */
const handlers: Handlers = {
  ExecutionCreated(_s, e) {
    return {
      seq: e.seq, flow: e.flow, execution: structuredClone(e.execution), taskRuns: {}, order: [], active: {},
      outputsTree: {}, timers: {},
    };
  },
  ExecutionStateChanged(s, e) {
    move(s.execution.state, e.state, e.at, "the execution", e.seq);
    if (isTerminal(e.state)) s.execution.endDate = isoDate(e.at);
    else if (e.state === "RESTARTED") delete s.execution.endDate;
    return s;
  },
  TaskRunCreated(s, e) {
    if (s.taskRuns[e.taskRunId]) throw new HistoryError(`event ${e.seq} creates task run ${e.taskRunId} twice`);
    if (e.parentTaskRunId !== undefined) taskRun(s, e.parentTaskRunId, e.seq);
    const tr: TaskRun = {
      id: e.taskRunId, executionId: e.executionId, taskId: e.taskId, state: { current: "CREATED", histories: [{ state: "CREATED", date: isoDate(e.at) }] },
      attempts: [], valuePath: e.valuePath,
    };
    if (e.parentTaskRunId !== undefined) tr.parentTaskRunId = e.parentTaskRunId;
    if (e.value !== undefined) tr.value = e.value;
    if (e.slot !== undefined) tr.slot = e.slot;
    if (e.iteration !== undefined) tr.iteration = e.iteration;
    s.taskRuns[tr.id] = tr;
    s.order.push(tr.id);
    s.active[tr.id] = true;
    return s;
  },
  TaskRunCopied(s, e) {
    const tr = structuredClone(e.taskRun);
    if (s.taskRuns[tr.id]) throw new HistoryError(`event ${e.seq} copies task run ${tr.id} twice`);
    tr.executionId = e.executionId;
    s.taskRuns[tr.id] = tr;
    s.order.push(tr.id);
    if (!isTerminal(tr.state.current)) s.active[tr.id] = true;
    if (tr.outputs) setOutputs(s.outputsTree, tr, tr.outputs);
    return s;
  },
  TaskRunStateChanged(s, e) {
    const tr = taskRun(s, e.taskRunId, e.seq);
    move(tr.state, e.state, e.at, `task run ${tr.id} (${tr.taskId})`, e.seq);
    if (isTerminal(e.state)) delete s.active[tr.id];
    else s.active[tr.id] = true;
    if (e.error) tr.error = e.error;
    if (e.state === "RESTARTED") {
      delete tr.error;
      if (tr.iter) {
        // failed groups run again: they are no longer counted as ended
        tr.iter.ended -= tr.iter.failed + tr.iter.killed;
        for (const [k, v] of Object.entries(tr.iter.endedSlots)) if (v === "FAILED" || v === "KILLED") delete tr.iter.endedSlots[Number(k)];
        tr.iter.failed = 0;
        tr.iter.killed = 0;
      }
    }
    return s;
  },
  AttemptCreated(s, e) {
    const tr = taskRun(s, e.taskRunId, e.seq);
    const last = tr.attempts[tr.attempts.length - 1];
    if (e.attempt !== tr.attempts.length + 1 || (last && !isTerminal(last.state.current))) {
      throw new HistoryError(`event ${e.seq}: attempt ${e.attempt} of task run ${tr.id} out of order`);
    }
    tr.attempts.push({ number: e.attempt, state: { current: "CREATED", histories: [{ state: "CREATED", date: isoDate(e.at) }] } });
    return s;
  },
  AttemptStarted(s, e) {
    const a = currentAttempt(taskRun(s, e.taskRunId, e.seq), e.attempt, e.seq);
    move(a.state, "RUNNING", e.at, `attempt ${e.attempt} of ${e.taskRunId}`, e.seq);
    a.workerId = e.workerId;
    return s;
  },
  AttemptEnded(s, e) {
    const a = currentAttempt(taskRun(s, e.taskRunId, e.seq), e.attempt, e.seq);
    if (!isTerminal(e.state)) throw new HistoryError(`event ${e.seq}: an attempt cannot end in ${e.state}`);
    move(a.state, e.state, e.at, `attempt ${e.attempt} of ${e.taskRunId}`, e.seq);
    return s;
  },
  TaskRunOutputs(s, e) {
    const tr = taskRun(s, e.taskRunId, e.seq);
    tr.outputs = e.outputs;
    setOutputs(s.outputsTree, tr, e.outputs);
    return s;
  },
  SubflowLinked(s, e) {
    taskRun(s, e.taskRunId, e.seq).childExecutionId = e.childExecutionId;
    return s;
  },
  BatchesPlanned(s, e) {
    const tr = taskRun(s, e.taskRunId, e.seq);
    if (!Number.isSafeInteger(e.count) || e.count < 0) throw new HistoryError(`event ${e.seq}: ${e.count} batches is not a count`);
    const prev = s.batches?.[tr.id];
    if (e.rerun && prev && prev.count === e.count) {
      for (const i of e.rerun) {
        if (!Number.isSafeInteger(i) || i < 0 || i >= prev.count) throw new HistoryError(`event ${e.seq}: ${tr.id} has no batch ${i} to run again`);
        if (prev.ended[i] !== undefined) {
          delete prev.ended[i];
          delete prev.outputs[i];
          prev.endedCount--;
        }
        // the executions of earlier generations no longer answer for this batch
        for (let g = 0; g < e.generation; g++) delete prev.children[batchExecutionId(e.executionId, tr.id, g, i)];
        prev.children[batchExecutionId(e.executionId, tr.id, e.generation, i)] = i;
      }
      prev.generation = e.generation;
      return s;
    }
    const children: Record<string, number> = {};
    for (let i = 0; i < e.count; i++) children[batchExecutionId(e.executionId, tr.id, e.generation, i)] = i;
    s.batches ??= {};
    s.batches[tr.id] = {
      count: e.count, uriPrefix: e.uriPrefix, uriSuffix: e.uriSuffix, generation: e.generation, children, ended: {}, endedCount: 0, outputs: {},
    };
    return s;
  },
  BatchEnded(s, e) {
    const tr = taskRun(s, e.taskRunId, e.seq);
    const b = s.batches?.[tr.id];
    if (!b || e.index < 0 || e.index >= b.count || b.ended[e.index] !== undefined) {
      throw new HistoryError(`event ${e.seq}: batch ${e.index} of ${e.taskRunId} ended but was not running`);
    }
    b.ended[e.index] = e.state;
    b.endedCount++;
    if (e.outputs && Object.keys(e.outputs).length > 0) b.outputs[e.index] = e.outputs;
    // Kestra's `iterations` output follows the subflow executions as they end
    const counts = tr.outputs?.iterations;
    if (counts && typeof counts === "object") {
      const next = { ...(counts as Record<string, number>) };
      if ((next.CREATED ?? 0) > 1) next.CREATED--;
      else delete next.CREATED;
      next[e.state] = (next[e.state] ?? 0) + 1;
      tr.outputs = { ...tr.outputs, iterations: next };
      setOutputs(s.outputsTree, tr, tr.outputs);
    }
    return s;
  },
  IterationPlanned(s, e) {
    taskRun(s, e.taskRunId, e.seq).iter = { values: e.values, started: 0, ended: 0, failed: 0, warned: 0, killed: 0, endedSlots: {} };
    return s;
  },
  IterationStarted(s, e) {
    const it = taskRun(s, e.taskRunId, e.seq).iter;
    if (!it || e.index !== it.started || e.index >= it.values.length) {
      throw new HistoryError(`event ${e.seq}: iteration ${e.index} of ${e.taskRunId} started out of order`);
    }
    it.started++;
    return s;
  },
  IterationEnded(s, e) {
    const it = taskRun(s, e.taskRunId, e.seq).iter;
    if (!it || e.index >= it.started || it.ended >= it.started || it.endedSlots[e.index] !== undefined) {
      throw new HistoryError(`event ${e.seq}: iteration ${e.index} of ${e.taskRunId} ended but was not running`);
    }
    it.ended++;
    it.endedSlots[e.index] = e.state;
    if (e.state === "FAILED") it.failed++;
    else if (e.state === "KILLED") it.killed++;
    else if (e.state === "WARNING") it.warned++;
    return s;
  },
  LoopTurnStarted(s, e) {
    const tr = taskRun(s, e.taskRunId, e.seq);
    if (e.turn !== (tr.loopTurn ?? -1) + 1) throw new HistoryError(`event ${e.seq}: loop turn ${e.turn} of ${tr.id} out of order`);
    tr.loopTurn = e.turn;
    return s;
  },
  ResultIgnored(s) {
    return s;
  },
  TimerScheduled(s, e) {
    if (e.timer.taskRunId) taskRun(s, e.timer.taskRunId, e.seq);
    s.timers[e.timer.id] = e.timer;
    return s;
  },
  TimerCleared(s, e) {
    if (!s.timers[e.timerId]) throw new HistoryError(`event ${e.seq} clears timer ${e.timerId}, which is not scheduled`);
    delete s.timers[e.timerId];
    return s;
  },
  LabelsChanged(s, e) {
    s.execution.labels = e.labels;
    return s;
  },
  ExecutionOutputs(s, e) {
    s.execution.outputs = e.outputs;
    return s;
  },
  RetriedAsNewExecution(s, e) {
    taskRun(s, e.taskRunId, e.seq);
    s.retriedAsNewExecution = true;
    return s;
  },
};

/**
 * Folds one event into the state. Updates `state` in place (cost proportional to what the event
 * changes) and returns it; the first event of an execution (`ExecutionCreated`, seq 1) takes
 * `undefined`. Throws `HistoryError` (code HISTORY_INVALID) for a gap in `seq`, an event for
 * another execution or an unknown task run, or an illegal state move.
 */
export function applyEvent(state: ExecutionState | undefined, event: ExecutionEvent): ExecutionState {
  if (event.type === "ExecutionCreated") {
    if (state !== undefined) throw new HistoryError(`event ${event.seq}: execution ${event.executionId} is created twice`);
    if (event.seq !== 1) throw new HistoryError(`the first event must have seq 1, got ${event.seq}`);
    return handlers.ExecutionCreated(undefined, event);
  }
  if (state === undefined) throw new HistoryError(`event ${event.seq} (${event.type}) comes before ExecutionCreated`);
  if (event.seq !== state.seq + 1) throw new HistoryError(`expected event ${state.seq + 1}, got ${event.seq} (${event.type})`);
  if (event.executionId !== state.execution.id) {
    throw new HistoryError(`event ${event.seq} belongs to execution ${event.executionId}, not ${state.execution.id}`);
  }
  // the union of handlers is not callable with the union of events; each is indexed by its own type
  const handler = handlers[event.type] as (s: ExecutionState, e: ExecutionEvent) => ExecutionState;
  const next = handler(state, event);
  next.seq = event.seq;
  return next;
}

/** Rebuilds an execution's state from its whole history (throws HistoryError when it is not valid). */
export function replayHistory(events: readonly ExecutionEvent[]): ExecutionState {
  let s: ExecutionState | undefined;
  for (const e of events) s = applyEvent(s, e);
  if (!s) throw new HistoryError("an empty history has no execution");
  return s;
}
