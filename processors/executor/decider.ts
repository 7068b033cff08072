import type { Flow, Label, RetryPolicy, Task } from "../../schemas/flow-types.js";
import { parseDuration } from "../../schemas/duration.js";
import { describeError } from "../../common/errors.js";
import { registry } from "../../tasks/registry.js";
import type { WorkerJob } from "../worker/protocol.js";
import type { Action } from "./actions.js";
import { applyEvent } from "./apply.js";
import type { EventBody, ExecutionEvent } from "./events.js";
import { enabled, flowIndex, isExecutorFlowable, FLOWABLE } from "./flow-index.js";
import { retryExecutionId, taskRunId } from "./ids.js";
import type { ReduceContext } from "./inputs.js";
import { isFailure, isTerminal, type ExecutionState, type State, type TaskRun, type Timer } from "./model.js";
import { ReducerRenderer } from "./render.js";
import { nextRetryAt } from "./retry.js";
import { taskRunVars } from "./variables.js";

/** The id the work queue uses for the flow's top level. */
export const ROOT = "";

/** What a flowable's main logic says: still running (undefined) or the state its children reached. */
export type Outcome = State | undefined;

/** Which loop slots to look at when a flowable is stepped: those whose children just ended, or all. */
export type Hints = Set<number> | "all" | undefined;

/** Failure of a flowable's own logic (a template that does not render, a bad value list). */
export class FlowableFailure extends Error {}

const SEVERITY: Partial<Record<State, number>> = { SUCCESS: 0, WARNING: 1, FAILED: 2, KILLED: 3 };

/** The worse of two outcomes (SUCCESS < WARNING < FAILED < KILLED). */
export function worse(a: State, b: State): State {
  return (SEVERITY[b] ?? 2) > (SEVERITY[a] ?? 2) ? b : a;
}

/** How a finished child counts for its parent: allowFailure, allowWarning and SKIPPED applied. */
export function effective(tr: TaskRun, task: Task | undefined): State {
  const s = tr.state.current;
  if (s === "SKIPPED") return "SUCCESS";
  if (s === "FAILED" && task?.allowFailure) return "WARNING";
  if (s === "WARNING" && task?.allowWarning) return "SUCCESS";
  if (s === "KILLED") return "KILLED";
  if (isFailure(s)) return task?.allowFailure ? "WARNING" : "FAILED";
  return s;
}

export interface ChildPlacement {
  value?: string;
  valuePath?: string[];
  slot?: number;
  iteration?: number;
}

/**
 * The working side of one `reduce`: events are applied as they are emitted (so every decision
 * sees the state so far), actions are collected, and flowables whose children changed are
 * stepped through a de-duplicated work queue instead of recursively.
 */
export class Decider {
  state: ExecutionState | undefined;
  readonly events: ExecutionEvent[] = [];
  readonly actions: Action[] = [];
  readonly ctx: ReduceContext;
  private readonly queue: string[] = [];
  private readonly hints = new Map<string, Hints | null>();
  private renderer?: ReducerRenderer;
  /** Starts flowables that start in their own way (Subflow, Pause); true when it did. */
  startHook?: (d: Decider, tr: TaskRun, task: Task) => boolean;
  /** Variables some internal worker-side tasks need beyond their templates' (ForEachItem's merge). */
  jobVarsHook?: (d: Decider, tr: TaskRun, task: Task) => Record<string, unknown> | undefined;

  constructor(state: ExecutionState | undefined, ctx: ReduceContext, private readonly executionId: string) {
    this.state = state;
    this.ctx = ctx;
  }

  /** The state (once the execution exists). */
  get s(): ExecutionState {
    if (!this.state) throw new Error("execution state used before ExecutionCreated");
    return this.state;
  }

  /** The execution's flow snapshot. */
  get flow(): Flow {
    return this.s.flow;
  }

  /** A renderer bound to the reducer's clock and deterministic uuids. */
  get render(): ReducerRenderer {
    this.renderer ??= new ReducerRenderer(this.ctx.now, `${this.executionId}/${this.state?.seq ?? 0}`);
    return this.renderer;
  }

  /** Emits an event: stamps seq/at, applies it, records it. */
  emit(body: EventBody): void {
    const e = { ...body, executionId: this.executionId, seq: (this.state?.seq ?? 0) + 1, at: this.ctx.now } as ExecutionEvent;
    this.state = applyEvent(this.state, e);
    this.events.push(e);
  }

  /** Records an action for the shell to run after the commit. */
  act(a: Action): void {
    this.actions.push(a);
  }

  /** The flow's task a task run runs (throws when the flow snapshot lacks it: a corrupt state). */
  taskOf(tr: TaskRun): Task {
    const place = flowIndex(this.flow).byId.get(tr.taskId);
    if (!place) throw new Error(`task ${tr.taskId} is not in flow ${this.flow.namespace}.${this.flow.id}`);
    return place.task;
  }

  /** Where a task run's task sits in the flow (its list and parent task). */
  placeOf(tr: TaskRun) {
    return flowIndex(this.flow).byId.get(tr.taskId);
  }

  /** Expression variables for a task run (only the outputs its templates reference). */
  vars(tr: TaskRun, task: Task): Record<string, unknown> {
    return taskRunVars(this.s, tr, task, this.ctx.envs);
  }

  // ---- work queue ---------------------------------------------------------------------------

  /** Asks for `id` (a flowable task run, or ROOT) to be stepped, looking at loop slot `slot`. */
  enqueue(id: string, slot?: number | "all"): void {
    const prev = this.hints.get(id);
    if (prev === undefined) this.queue.push(id);
    let h: Hints = prev ?? undefined;
    if (slot === "all" || h === "all") h = "all";
    else if (slot !== undefined) {
      h = h ?? new Set<number>();
      h.add(slot);
    }
    this.hints.set(id, h ?? null);
  }

  /** Steps queued flowables until nothing changes (bounded by the events they emit). */
  drain(step: (id: string, hints: Hints) => void): void {
    let guard = 0;
    let head = 0;
    while (head < this.queue.length) {
      if (++guard > 10_000_000) throw new Error("executor work queue did not settle");
      const id = this.queue[head++];
      const h = this.hints.get(id);
      this.hints.delete(id);
      step(id, h ?? undefined);
    }
    this.queue.length = 0;
  }

  // ---- task runs ----------------------------------------------------------------------------

  /** The deterministic id of `taskId`'s task run under `parent` in loop slot `slot`. */
  childId(parent: TaskRun | undefined, taskId: string, slot?: number): string {
    return taskRunId(this.executionId, parent?.id, taskId, slot);
  }

  /** Creates the task run of `task` under `parent` and starts it (or skips it when runIf is false). */
  createChild(parent: TaskRun | undefined, task: Task, place: ChildPlacement = {}): TaskRun {
    const id = this.childId(parent, task.id, place.slot);
    const value = place.value ?? parent?.value;
    const body: EventBody = {
      type: "TaskRunCreated", taskRunId: id, taskId: task.id, valuePath: place.valuePath ?? parent?.valuePath ?? [],
    };
    if (parent) body.parentTaskRunId = parent.id;
    if (value !== undefined) body.value = value;
    if (place.slot !== undefined) body.slot = place.slot;
    if (place.iteration !== undefined) body.iteration = place.iteration;
    this.emit(body);
    const tr = this.s.taskRuns[id];
    if (task.runIf !== undefined) {
      let run: boolean;
      try {
        run = this.render.condition(task.runIf, this.vars(tr, task));
      } catch (err) {
        this.endTaskRun(tr, "FAILED", "runIf did not render", { message: `runIf: ${describeError(err)}` });
        return tr;
      }
      if (!run) {
        this.endTaskRun(tr, "SKIPPED", "runIf is false");
        return tr;
      }
    }
    this.startTaskRun(tr, task);
    return tr;
  }

  /** Starts a created (or restarted) task run according to its kind. */
  startTaskRun(tr: TaskRun, task: Task): void {
    if (this.startHook?.(this, tr, task)) return;
    if (!isExecutorFlowable(task.type) && registry.resolve(task.type)?.kind === "flowable" && task.type !== FLOWABLE.WorkingDirectory) {
      this.endTaskRun(tr, "FAILED", "unsupported flowable", { message: `${task.type} is not supported by this executor yet`, code: "TASK_UNSUPPORTED" });
      return;
    }
    if (isExecutorFlowable(task.type)) {
      this.setState(tr, "RUNNING", "flowable started");
      this.enqueue(tr.id, "all");
      return;
    }
    this.newAttempt(tr, task);
  }

  /** Moves a task run to `state` (no event when it is already there). */
  setState(tr: TaskRun, state: State, reason: string, error?: { message: string; code?: string }): void {
    if (tr.state.current === state) return;
    const body: EventBody = { type: "TaskRunStateChanged", taskRunId: tr.id, state, reason };
    if (error) body.error = error;
    this.emit(body);
  }

  /** Ends a task run and asks its parent to step. */
  endTaskRun(tr: TaskRun, state: State, reason: string, error?: { message: string; code?: string }): void {
    this.clearTimersOf(tr);
    this.setState(tr, state, reason, error);
    this.enqueue(tr.parentTaskRunId ?? ROOT, tr.slot);
  }

  /** A new attempt dispatched to a worker (with its timeout timer). */
  newAttempt(tr: TaskRun, task: Task): void {
    const n = tr.attempts.length + 1;
    this.emit({ type: "AttemptCreated", taskRunId: tr.id, attempt: n });
    const e = this.s.execution;
    const job: WorkerJob = {
      tenantId: e.tenantId, namespace: e.namespace, flowId: e.flowId, executionId: e.id, taskRunId: tr.id,
      attempt: n, task, vars: this.vars(tr, task),
    };
    const extra = this.jobVarsHook?.(this, tr, task);
    if (extra) Object.assign(job.vars, extra);
    if (task.workerGroup?.key) job.workerGroup = task.workerGroup.key;
    if (task.timeout) {
      const at = this.ctx.now + parseDuration(task.timeout);
      job.deadline = at;
      this.scheduleTimer({ id: `timeout:${tr.id}:${n}`, at, kind: "timeout", taskRunId: tr.id, attempt: n });
    }
    this.act({ type: "DispatchJob", job });
  }

  /** Records a timer and asks the shell to fire it at `timer.at`. */
  scheduleTimer(timer: Timer): void {
    this.emit({ type: "TimerScheduled", timer });
    this.act({ type: "ScheduleTimer", executionId: this.executionId, timerId: timer.id, at: timer.at });
  }

  /** Drops a pending timer (no-op when it is not pending) and cancels it in the shell. */
  clearTimer(id: string, reason: string): void {
    if (!this.s.timers[id]) return;
    this.emit({ type: "TimerCleared", timerId: id, reason });
    this.act({ type: "CancelTimer", executionId: this.executionId, timerId: id });
  }

  /** Drops every pending timer of a task run. */
  clearTimersOf(tr: TaskRun): void {
    // timer ids are derived from the task run, so the candidates are known: O(1), not O(timers)
    const n = tr.attempts.length;
    const ids = [`timeout:${tr.id}:${n}`, `retry:${tr.id}:${n}`, `pause-delay:${tr.id}`, `pause-timeout:${tr.id}`];
    if (tr.loopTurn !== undefined) ids.push(`waitfor:${tr.id}:${tr.loopTurn}`);
    for (const id of ids) this.clearTimer(id, "task run ended");
  }

  /** The task's retry policy, or the flow's as the default. */
  retryPolicy(task: Task): RetryPolicy | undefined {
    return task.retry ?? this.flow.retry;
  }

  /** The current attempt failed: retry per policy, or fail the task run. */
  attemptFailed(tr: TaskRun, task: Task, error: { message: string; code?: string }): void {
    const policy = this.retryPolicy(task);
    const e = this.s.execution;
    if (policy && e.state.current !== "KILLING" && !isTerminal(e.state.current)) {
      if (policy.behavior === "CREATE_NEW_EXECUTION") {
        if (policy.maxAttempt === undefined || e.attemptNumber < policy.maxAttempt) {
          const newId = retryExecutionId(e.id, tr.id);
          this.emit({ type: "RetriedAsNewExecution", taskRunId: tr.id, newExecutionId: newId });
          this.endTaskRun(tr, "RETRIED", "retried as a new execution", error);
          this.act({
            type: "CreateExecution", executionId: newId, tenantId: e.tenantId, namespace: e.namespace, flowId: e.flowId,
            revision: e.flowRevision, inputs: e.inputs, labels: e.labels, attemptNumber: e.attemptNumber + 1,
            ...(e.parentId && e.parentTaskRunId ? { parent: { executionId: e.parentId, taskRunId: e.parentTaskRunId } } : {}),
          });
          return;
        }
      } else {
        const n = tr.attempts.length;
        const firstStart = Date.parse(tr.attempts[0].state.histories[0].date);
        const at = nextRetryAt(policy, n, `${tr.id}/${n}`, firstStart, this.ctx.now);
        if (at !== undefined) {
          this.setState(tr, "RETRYING", `attempt ${n} failed: ${error.message}`, error);
          this.scheduleTimer({ id: `retry:${tr.id}:${n}`, at, kind: "retry", taskRunId: tr.id, attempt: n });
          return;
        }
      }
    }
    this.endTaskRun(tr, "FAILED", error.message, error);
  }

  /** Every label as a map, the flow's first, overridden by the execution's. */
  static mergeLabels(a: Label[], b: Label[] | undefined): Label[] {
    const m = new Map<string, string>();
    for (const l of a) m.set(l.key, l.value);
    for (const l of b ?? []) m.set(l.key, l.value);
    return [...m].map(([key, value]) => ({ key, value }));
  }
}


/**
 * Runs `tasks` one after the other under `parent` in loop slot `place.slot`: creates the first
 * task that has no task run yet once every earlier one has ended; stops at the first failure.
 * O(tasks in the list).
 */
export function sequentialBlock(d: Decider, parent: TaskRun | undefined, tasks: readonly Task[] | undefined, place: ChildPlacement = {}): Outcome {
  let worst: State = "SUCCESS";
  for (const t of enabled(tasks)) {
    const tr = d.s.taskRuns[d.childId(parent, t.id, place.slot)];
    if (!tr) {
      if (!canCreate(d)) return undefined;
      d.createChild(parent, t, place);
      return undefined;
    }
    if (!isTerminal(tr.state.current)) return undefined;
    const e = effective(tr, t);
    if (e === "FAILED" || e === "KILLED") return e;
    worst = worse(worst, e);
  }
  return worst;
}

/** Runs `tasks` side by side, at most `concurrent` at once (0: all); no new start after a failure. */
export function parallelBlock(d: Decider, parent: TaskRun | undefined, tasks: readonly Task[] | undefined, concurrent: number, place: ChildPlacement = {}): Outcome {
  let worst: State = "SUCCESS";
  let running = 0;
  let failed = false;
  const toCreate: Task[] = [];
  for (const t of enabled(tasks)) {
    const tr = d.s.taskRuns[d.childId(parent, t.id, place.slot)];
    if (!tr) toCreate.push(t);
    else if (!isTerminal(tr.state.current)) running++;
    else {
      const e = effective(tr, t);
      if (e === "FAILED" || e === "KILLED") failed = true;
      worst = worse(worst, e);
    }
  }
  if (failed) return running > 0 ? undefined : worst;
  if (toCreate.length === 0 && running === 0) return worst;
  if (!canCreate(d)) return undefined;
  const n = concurrent > 0 ? Math.max(0, concurrent - running) : toCreate.length;
  for (const t of toCreate.slice(0, n)) d.createChild(parent, t, place);
  return undefined;
}

/** New task runs start only while the execution runs (or, after its end, for afterExecution). */
export function canCreate(d: Decider): boolean {
  const s = d.s.execution.state.current;
  return s === "RUNNING" || isTerminal(s);
}

/**
 * After the main children: the `errors` list when they failed, then `finally`, then the
 * combined outcome (a handled failure still fails; a failing handler fails too).
 */
export function withErrorsAndFinally(d: Decider, parent: TaskRun | undefined, main: State, errors: readonly Task[] | undefined, fin: readonly Task[] | undefined, place: ChildPlacement = {}): Outcome {
  if (main === "KILLED") return main;
  let st: State = main;
  if (isFailure(main) && enabled(errors).length > 0) {
    const e = sequentialBlock(d, parent, errors, place);
    if (e === undefined) return undefined;
    st = worse(st, e);
  }
  if (enabled(fin).length > 0) {
    const f = sequentialBlock(d, parent, fin, place);
    if (f === undefined) return undefined;
    st = worse(st, f);
  }
  return st;
}

export { FLOWABLE };
