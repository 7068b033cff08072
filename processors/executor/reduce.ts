import { LannerError, describeError } from "../../common/errors.js";
import type { Task } from "../../schemas/flow-types.js";
import type { WorkerResult } from "../worker/protocol.js";
import type { Action } from "./actions.js";
import {
  Decider, ROOT, sequentialBlock, withErrorsAndFinally, type Hints,
} from "./decider.js";
import type { ExecutionEvent } from "./events.js";
import { FLOWABLE, enabled, isExecutorFlowable } from "./flow-index.js";
import { flowableLogic } from "./flowables/index.js";
import { batchSubflowEnded, internalJobVars, killBatches } from "./flowables/for-each-item.js";
import { endPause } from "./flowables/pause.js";
import { subflowEnded } from "./flowables/subflow.js";
import { workingDirectoryResult } from "./flowables/working-directory.js";
import { taskRunId } from "./ids.js";
import type {
  CreateExecutionCommand, ExecutorInput, ReduceContext,
} from "./inputs.js";
import { isFailure, isTerminal, isoDate, type ExecutionHeader, type ExecutionState, type State, type TaskRun } from "./model.js";
import { executionVars } from "./variables.js";

export interface ReduceResult {
  state: ExecutionState;
  events: ExecutionEvent[];
  actions: Action[];
}

/** Key of a flow for concurrency limits: tenant/namespace/flowId. */
export function flowKey(tenantId: string, namespace: string, flowId: string): string {
  return `${tenantId}/${namespace}/${flowId}`;
}

/**
 * The executor's pure step: from the state of one execution (undefined before it exists) and one
 * input, the events that record what happened (already folded into the returned state with
 * `applyEvent`) and the actions the shell runs after committing them. Deterministic: time comes
 * from `ctx.now`, ids from hashes. For O(changed task runs) cost the given state object is
 * updated in place and returned; keep a `cloneState` copy if the old one is still needed.
 * Throws LannerError EXECUTION_UNKNOWN for a command (other than a create) without a state.
 */
export function reduce(state: ExecutionState | undefined, input: ExecutorInput, ctx: ReduceContext): ReduceResult {
  if (!state && input.type !== "CreateExecution") {
    throw new LannerError("EXECUTION_UNKNOWN", `${input.type} for execution ${input.executionId}, which does not exist`);
  }
  const d = new Decider(state, ctx, input.executionId);
  d.startHook = (dd, tr, task) => flowableLogic[task.type]?.start?.(dd, tr, task) ?? false;
  d.jobVarsHook = internalJobVars;
  decide(d, input);
  d.drain((id, hints) => step(d, id, hints));
  if (!d.state) throw new LannerError("EXECUTION_UNKNOWN", `execution ${input.executionId} was not created`);
  return { state: d.state, events: d.events, actions: d.actions };
}

function decide(d: Decider, input: ExecutorInput): void {
  if (input.type === "CreateExecution") return create(d, input);
  const exec = d.s.execution;
  switch (input.type) {
    case "WorkerResult":
      return workerResult(d, input.result);
    case "Kill":
      return kill(d, input.cascade !== false);
    case "Restart":
      return restart(d);
    case "Pause":
      if (exec.state.current === "RUNNING") d.emit({ type: "ExecutionStateChanged", state: "PAUSED", reason: "pause requested" });
      return;
    case "Resume":
      // A sender acting for a flow (the Resume task) resumes only the execution it names: never another tenant's.
      if ((input.tenantId !== undefined && input.tenantId !== exec.tenantId) || (input.namespace !== undefined && input.namespace !== exec.namespace)
        || (input.flowId !== undefined && input.flowId !== exec.flowId)) return;
      return resume(d, input.inputs);
    case "SetLabels":
      d.emit({ type: "LabelsChanged", labels: input.labels });
      return;
    case "WorkerLost":
      return workerLost(d, input.workerId);
    case "TimerFired":
      return timerFired(d, input.timerId);
    case "SubflowEnded": {
      const tr = d.s.taskRuns[input.parentTaskRunId];
      if (tr && d.s.batches?.[tr.id]) return batchSubflowEnded(d, tr, input);
      if (!tr || tr.childExecutionId !== input.childExecutionId || tr.state.current !== "RUNNING") {
        d.emit({ type: "ResultIgnored", taskRunId: input.parentTaskRunId, attempt: 0, reason: `subflow ${input.childExecutionId} ended ${input.state} but its task run no longer waits` });
        return;
      }
      subflowEnded(d, tr, d.taskOf(tr), input.state, input.outputs);
      return;
    }
    case "ConcurrencySlot":
      if (exec.state.current !== "CREATED" && exec.state.current !== "QUEUED") return;
      if (input.decision === "granted") begin(d, "concurrency slot granted");
      else if (input.decision === "queued") {
        if (exec.state.current === "CREATED") d.emit({ type: "ExecutionStateChanged", state: "QUEUED", reason: "concurrency limit reached" });
      } else {
        finish(d, input.state ?? "CANCELLED", "concurrency limit reached", false);
      }
      return;
  }
}

// ---- creation ---------------------------------------------------------------------------------

function create(d: Decider, cmd: CreateExecutionCommand): void {
  if (d.state) return; // duplicate create: a no-op by contract
  const flow = cmd.flow;
  const now = isoDate(d.ctx.now);
  const header: ExecutionHeader = {
    id: cmd.executionId, tenantId: flow.tenantId ?? "main", namespace: flow.namespace, flowId: flow.id,
    flowRevision: flow.revision ?? 1, state: { current: "CREATED", histories: [{ state: "CREATED", date: now }] },
    inputs: cmd.inputs, labels: Decider.mergeLabels(flow.labels ?? [], cmd.labels), originalId: cmd.executionId,
    attemptNumber: cmd.attemptNumber ?? 1, startDate: now,
  };
  if (cmd.trigger) header.trigger = cmd.trigger;
  if (cmd.parent) {
    header.parentId = cmd.parent.executionId;
    header.parentTaskRunId = cmd.parent.taskRunId;
  }
  if (cmd.replay) header.originalId = cmd.replay.source.execution.originalId;
  d.emit({ type: "ExecutionCreated", execution: header, flow });
  if (cmd.replay) copyForReplay(d, cmd.replay.source, cmd.replay.fromTaskRunId);
  if (flow.concurrency && flow.concurrency.limit > 0) {
    d.act({
      type: "AcquireConcurrencySlot", flowKey: flowKey(header.tenantId, header.namespace, header.flowId),
      executionId: header.id, limit: flow.concurrency.limit, behavior: flow.concurrency.behavior,
    });
    return;
  }
  begin(d, "created");
}

function begin(d: Decider, reason: string): void {
  d.emit({ type: "ExecutionStateChanged", state: "RUNNING", reason });
  reevaluateAll(d);
}

/** Steps the top level and every running flowable (after a pause, a restart, a replay). */
function reevaluateAll(d: Decider): void {
  for (const id of Object.keys(d.s.active)) {
    const tr = d.s.taskRuns[id];
    if (tr.state.current === "RUNNING" && isExecutorFlowable(d.taskOf(tr).type)) d.enqueue(id, "all");
  }
  d.enqueue(ROOT);
}

/**
 * Replay: task runs of the source created before `fromId` are copied (new ids for this
 * execution, same states and outputs), except that `fromId`'s ancestors are copied as running so
 * they step again; `fromId` and everything after it run anew.
 */
function copyForReplay(d: Decider, source: ExecutionState, fromId: string): void {
  const from = source.taskRuns[fromId];
  if (!from) return;
  const ancestors = new Set<string>();
  for (let p = from.parentTaskRunId; p; p = source.taskRuns[p]?.parentTaskRunId) ancestors.add(p);
  const newIds = new Map<string, string>();
  const date = isoDate(d.ctx.now);
  for (const id of source.order) {
    if (id === fromId) break;
    const src = source.taskRuns[id];
    if (!ancestors.has(id) && !isTerminal(src.state.current)) continue;
    if (src.parentTaskRunId !== undefined && !newIds.has(src.parentTaskRunId)) continue;
    const parentNew = src.parentTaskRunId === undefined ? undefined : newIds.get(src.parentTaskRunId);
    const newId = taskRunId(d.s.execution.id, parentNew, src.taskId, src.slot);
    newIds.set(id, newId);
    const copy: TaskRun = structuredClone(src);
    copy.id = newId;
    copy.executionId = d.s.execution.id;
    if (parentNew !== undefined) copy.parentTaskRunId = parentNew;
    if (ancestors.has(id)) {
      copy.state = { current: "RUNNING", histories: [{ state: "RUNNING", date }] };
      delete copy.error;
      delete copy.outputs;
      if (copy.iter) {
        // the group being replayed (and any failed one) runs again
        for (const [k, v] of Object.entries(copy.iter.endedSlots)) {
          if (v === "FAILED" || v === "KILLED" || Number(k) === from.slot) {
            delete copy.iter.endedSlots[Number(k)];
            copy.iter.ended--;
          }
        }
        copy.iter.failed = 0;
        copy.iter.killed = 0;
      }
    }
    d.emit({ type: "TaskRunCopied", taskRun: copy });
  }
}

// ---- stepping ---------------------------------------------------------------------------------

function step(d: Decider, id: string, hints: Hints): void {
  const st = d.s.execution.state.current;
  if (st === "CREATED" || st === "QUEUED" || st === "PAUSED" || st === "RESTARTED") return; // stepped again on resume
  if (st === "KILLING") return checkKilled(d);
  if (id === ROOT) return stepRoot(d);
  const tr = d.s.taskRuns[id];
  if (!tr || tr.state.current !== "RUNNING") return;
  const task = d.taskOf(tr);
  const logic = flowableLogic[task.type];
  if (!logic?.next) return;
  let final: State | undefined;
  try {
    const main = logic.next(d, tr, task, hints);
    if (main === undefined) return;
    final = withErrorsAndFinally(d, tr, main, task.errors as Task[] | undefined, task.finally as Task[] | undefined);
  } catch (err) {
    d.endTaskRun(tr, "FAILED", "flowable failed", { message: `${task.id}: ${describeError(err)}` });
    return;
  }
  if (final === undefined) return;
  if (logic.finish) final = logic.finish(final);
  d.endTaskRun(tr, final, "children ended");
}

function stepRoot(d: Decider): void {
  const flow = d.flow;
  const exec = d.s.execution;
  if (isTerminal(exec.state.current)) {
    if (enabled(flow.afterExecution).length > 0) sequentialBlock(d, undefined, flow.afterExecution);
    return;
  }
  if (exec.state.current !== "RUNNING") return;
  const main = sequentialBlock(d, undefined, flow.tasks);
  if (main === undefined) return;
  const final = withErrorsAndFinally(d, undefined, main, flow.errors, flow.finally);
  if (final === undefined) return;
  let end: State = final;
  if (end === "FAILED" && d.s.retriedAsNewExecution) end = "RETRIED";
  finish(d, end, "every task ended", true);
}

/** Sets the execution's terminal state, renders flow outputs, tells parent / triggers / concurrency. */
function finish(d: Decider, state: State, reason: string, acquired: boolean): void {
  let end = state;
  let why = reason;
  const flow = d.flow;
  if ((end === "SUCCESS" || end === "WARNING") && flow.outputs?.length) {
    const vars = executionVars(d.s, d.ctx.envs, flow.outputs);
    const outputs: Record<string, unknown> = {};
    try {
      for (const o of flow.outputs) outputs[o.id] = d.render.typed(o.value, vars);
      d.emit({ type: "ExecutionOutputs", outputs });
    } catch (err) {
      end = "FAILED";
      why = `flow outputs did not render: ${describeError(err)}`;
    }
  }
  d.emit({ type: "ExecutionStateChanged", state: end, reason: why });
  const e = d.s.execution;
  d.act({
    type: "ExecutionEnded",
    execution: { id: e.id, tenantId: e.tenantId, namespace: e.namespace, flowId: e.flowId, flowRevision: e.flowRevision,
      state: end, labels: e.labels, ...(e.outputs ? { outputs: e.outputs } : {}) },
  });
  if (e.parentId && e.parentTaskRunId) {
    d.act({ type: "NotifyParent", parentExecutionId: e.parentId, parentTaskRunId: e.parentTaskRunId, childExecutionId: e.id, state: end, ...(e.outputs ? { outputs: e.outputs } : {}) });
  }
  if (acquired && flow.concurrency && flow.concurrency.limit > 0) {
    d.act({ type: "ReleaseConcurrencySlot", flowKey: flowKey(e.tenantId, e.namespace, e.flowId), executionId: e.id });
  }
  d.enqueue(ROOT); // afterExecution
}

// ---- worker results ---------------------------------------------------------------------------

function workerResult(d: Decider, r: WorkerResult): void {
  const tr = d.s.taskRuns[r.taskRunId];
  const ignore = (reason: string) => d.emit({ type: "ResultIgnored", taskRunId: r.taskRunId, attempt: r.attempt, reason });
  if (!tr) return ignore(`${r.kind} result for an unknown task run`);
  const a = tr.attempts[tr.attempts.length - 1];
  if (!a || a.number !== r.attempt) return ignore(`${r.kind} result for attempt ${r.attempt}, current is ${a?.number ?? "none"}`);
  if (isTerminal(a.state.current)) return ignore(`${r.kind} result for attempt ${r.attempt}, which already ended ${a.state.current}`);
  if (r.kind === "started") {
    if (a.state.current !== "CREATED") return ignore(`duplicate started result for attempt ${r.attempt}`);
    d.emit({ type: "AttemptStarted", taskRunId: tr.id, attempt: a.number, workerId: r.workerId });
    d.setState(tr, "RUNNING", `attempt ${a.number} started on ${r.workerId}`);
    return;
  }
  if (a.state.current === "CREATED") {
    d.emit({ type: "AttemptStarted", taskRunId: tr.id, attempt: a.number, workerId: r.workerId });
    d.setState(tr, "RUNNING", `attempt ${a.number} started on ${r.workerId}`);
  }
  d.clearTimer(`timeout:${tr.id}:${a.number}`, "attempt ended");
  d.emit({ type: "AttemptEnded", taskRunId: tr.id, attempt: a.number, state: r.state, reason: r.error?.message ?? `worker reported ${r.state}` });
  const task = d.taskOf(tr);
  let state: State = r.state;
  let outputs = r.outputs;
  if (task.type === FLOWABLE.WorkingDirectory) {
    const wd = workingDirectoryResult(d, tr, task, r.state, r.outputs);
    state = wd.state;
    outputs = wd.outputs;
  }
  if (outputs) d.emit({ type: "TaskRunOutputs", taskRunId: tr.id, outputs });
  if (state === "FAILED") {
    d.attemptFailed(tr, task, r.error ?? { message: `task ${task.id} failed` });
    return;
  }
  if (state === "SUCCESS" && a.number > 1 && d.retryPolicy(task)?.warningOnRetry) state = "WARNING";
  d.endTaskRun(tr, state, `attempt ${a.number} ended ${r.state}`);
}

function workerLost(d: Decider, workerId: string): void {
  const exec = d.s.execution.state.current;
  const stop = isTerminal(exec) || exec === "KILLING";
  for (const id of Object.keys(d.s.active)) {
    const tr = d.s.taskRuns[id];
    const a = tr.attempts[tr.attempts.length - 1];
    if (!a || a.state.current !== "RUNNING" || a.workerId !== workerId) continue;
    d.clearTimer(`timeout:${tr.id}:${a.number}`, "worker lost");
    if (stop) {
      d.emit({ type: "AttemptEnded", taskRunId: tr.id, attempt: a.number, state: "KILLED", reason: `worker ${workerId} lost` });
      d.endTaskRun(tr, "KILLED", `worker ${workerId} lost while the execution was being killed`);
    } else {
      d.emit({ type: "AttemptEnded", taskRunId: tr.id, attempt: a.number, state: "FAILED", reason: `worker ${workerId} lost` });
      d.newAttempt(tr, d.taskOf(tr));
    }
  }
}

// ---- timers -----------------------------------------------------------------------------------

function timerFired(d: Decider, timerId: string): void {
  const t = d.s.timers[timerId];
  if (!t) return;
  d.emit({ type: "TimerCleared", timerId, reason: "fired" });
  const tr = d.s.taskRuns[t.taskRunId];
  const task = d.taskOf(tr);
  switch (t.kind) {
    case "retry":
      if (tr.state.current === "RETRYING") d.newAttempt(tr, task);
      return;
    case "timeout": {
      const a = tr.attempts[tr.attempts.length - 1];
      if (!a || a.number !== t.attempt || isTerminal(a.state.current)) return;
      d.act({ type: "CancelJob", executionId: tr.executionId, taskRunId: tr.id, attempt: a.number, ...(a.workerId ? { workerId: a.workerId } : {}) });
      const message = `task ${task.id} timed out after ${task.timeout}`;
      d.emit({ type: "AttemptEnded", taskRunId: tr.id, attempt: a.number, state: "FAILED", reason: message });
      d.attemptFailed(tr, task, { message, code: "TASK_TIMEOUT" });
      return;
    }
    case "pause-delay":
    case "pause-timeout":
      if (tr.state.current !== "PAUSED") return;
      endPause(d, tr, task, t.kind === "pause-delay" ? { resumed: undefined } : { timedOut: true });
      resumeExecutionIfUnpaused(d, `task ${task.id} resumed`);
      return;
    case "waitfor":
      if (tr.state.current !== "RUNNING") return;
      d.emit({ type: "LoopTurnStarted", taskRunId: tr.id, turn: (tr.loopTurn ?? 0) + 1 });
      d.enqueue(tr.id);
      return;
  }
}

// ---- pause / resume ---------------------------------------------------------------------------

function pausedTasks(d: Decider): TaskRun[] {
  return Object.keys(d.s.active).map((id) => d.s.taskRuns[id]).filter((tr) => tr.state.current === "PAUSED");
}

function resumeExecutionIfUnpaused(d: Decider, reason: string): void {
  if (d.s.execution.state.current !== "PAUSED" || pausedTasks(d).length > 0) return;
  d.emit({ type: "ExecutionStateChanged", state: "RUNNING", reason });
  reevaluateAll(d);
}

function resume(d: Decider, inputs: Record<string, unknown> | undefined): void {
  if (d.s.execution.state.current !== "PAUSED") return;
  for (const tr of pausedTasks(d)) {
    d.clearTimersOf(tr);
    endPause(d, tr, d.taskOf(tr), { resumed: inputs ?? {} });
  }
  resumeExecutionIfUnpaused(d, "resumed");
}

// ---- kill -------------------------------------------------------------------------------------

function kill(d: Decider, cascade: boolean): void {
  const cur = d.s.execution.state.current;
  if (isTerminal(cur) || cur === "KILLING") return;
  if (cur === "CREATED" || cur === "QUEUED") {
    d.emit({ type: "ExecutionStateChanged", state: "KILLING", reason: "kill requested" });
    finish(d, "KILLED", "killed before it started", true);
    return;
  }
  d.emit({ type: "ExecutionStateChanged", state: "KILLING", reason: "kill requested" });
  for (const id of Object.keys(d.s.active)) {
    const tr = d.s.taskRuns[id];
    const a = tr.attempts[tr.attempts.length - 1];
    if (a && !isTerminal(a.state.current)) {
      d.act({ type: "CancelJob", executionId: tr.executionId, taskRunId: tr.id, attempt: a.number, ...(a.workerId ? { workerId: a.workerId } : {}) });
      if (a.state.current === "CREATED") {
        // never started: no worker will report it, so it ends here
        d.emit({ type: "AttemptEnded", taskRunId: tr.id, attempt: a.number, state: "KILLED", reason: "killed before it started" });
        d.endTaskRun(tr, "KILLED", "killed");
      }
      continue;
    }
    if (tr.childExecutionId && tr.state.current === "RUNNING") {
      if (cascade) d.act({ type: "KillExecution", executionId: tr.childExecutionId });
      d.endTaskRun(tr, "KILLED", "killed");
    } else if (d.s.batches?.[tr.id] && tr.state.current === "RUNNING") {
      killBatches(d, tr, cascade);
    } else if (!isExecutorFlowable(d.taskOf(tr).type)) {
      d.endTaskRun(tr, "KILLED", "killed");
    }
  }
  checkKilled(d);
}

/** While KILLING: once no attempt runs on a worker, every remaining task run and the execution end KILLED. */
function checkKilled(d: Decider): void {
  if (d.s.execution.state.current !== "KILLING") return;
  const ids = Object.keys(d.s.active);
  for (const id of ids) {
    const a = d.s.taskRuns[id].attempts.at(-1);
    if (a && a.state.current === "RUNNING") return;
  }
  for (const id of ids.reverse()) {
    const tr = d.s.taskRuns[id];
    if (!isTerminal(tr.state.current)) {
      d.clearTimersOf(tr);
      d.setState(tr, "KILLED", "killed");
    }
  }
  finish(d, "KILLED", "killed", true);
}

// ---- restart ----------------------------------------------------------------------------------

function restart(d: Decider): void {
  const cur = d.s.execution.state.current;
  if (cur !== "FAILED" && cur !== "KILLED") return;
  d.emit({ type: "ExecutionStateChanged", state: "RESTARTED", reason: "restart requested" });
  const restarted: TaskRun[] = [];
  for (const id of d.s.order) {
    const tr = d.s.taskRuns[id];
    if (!isFailure(tr.state.current)) continue;
    const place = d.placeOf(tr);
    if (!place || place.list === "errors" || place.list === "afterExecution") continue;
    // children of a WorkingDirectory run again with it, as one job, not on their own
    const parent = tr.parentTaskRunId ? d.s.taskRuns[tr.parentTaskRunId] : undefined;
    if (parent && d.taskOf(parent).type === FLOWABLE.WorkingDirectory) continue;
    d.emit({ type: "TaskRunStateChanged", taskRunId: tr.id, state: "RESTARTED", reason: "restart requested" });
    restarted.push(tr);
  }
  d.emit({ type: "ExecutionStateChanged", state: "RUNNING", reason: "restarted" });
  for (const tr of restarted) {
    const task = d.taskOf(tr);
    const logic = flowableLogic[task.type];
    if (logic?.start) logic.start(d, tr, task);
    else if (isExecutorFlowable(task.type)) d.setState(tr, "RUNNING", "restarted");
    else d.newAttempt(tr, task);
  }
  reevaluateAll(d);
}
