import { render, renderDeep } from "../../expressions/index.js";
import { parseFlowOrThrow } from "../../schemas/flow-parser.js";
import type { Flow, Label, Task } from "../../schemas/flow-types.js";
import type { WorkerJob, WorkerResult } from "../../processors/worker/protocol.js";
import {
  applyEvent, executionView, isTerminal, reduce, reduceConcurrency, replayHistory,
  type Action, type ConcurrencyState, type Execution, type ExecutionEvent, type ExecutionState,
  type ExecutorInput, type State,
} from "../../processors/executor/index.js";

/** What the scripted worker answers for one job. */
export type WorkerAnswer =
  | { state: "SUCCESS" | "WARNING" | "FAILED" | "KILLED"; outputs?: Record<string, unknown>; error?: { message: string; code?: string } }
  | "hang";

/** A scripted behaviour for a task id. */
export type Script =
  | { succeed: Record<string, unknown> | true; warning?: boolean }
  | { fail: number; message?: string; outputs?: Record<string, unknown> }
  | { hang: true }
  | ((job: WorkerJob) => WorkerAnswer);

interface PendingTimer { executionId: string; timerId: string; at: number; order: number }

const T = {
  Return: "io.kestra.plugin.core.debug.Return",
  Log: "io.kestra.plugin.core.log.Log",
  OutputValues: "io.kestra.plugin.core.output.OutputValues",
  Fail: "io.kestra.plugin.core.execution.Fail",
  WorkingDirectory: "io.kestra.plugin.core.flow.WorkingDirectory",
};

/** Epoch ms the harness clock starts at: 2026-01-01T00:00:00Z. */
export const HARNESS_EPOCH = Date.UTC(2026, 0, 1);

/**
 * Drives the pure executor with a manual clock and a scripted worker. Inputs go through a FIFO
 * queue processed to quiescence; actions are routed like the real shell would (jobs to the
 * worker, timers to the clock, subflows and parents across the flows it knows, concurrency
 * through `reduceConcurrency`). Every event is recorded per execution.
 */
export class ExecutorHarness {
  now = HARNESS_EPOCH;
  envs: Record<string, string> = {};
  readonly states = new Map<string, ExecutionState>();
  readonly history = new Map<string, ExecutionEvent[]>();
  readonly actions: Action[] = [];
  readonly flows = new Map<string, Flow>();
  readonly scripts = new Map<string, Script>();
  readonly concurrency = new Map<string, ConcurrencyState>();
  /** Jobs handed to the worker, in order. */
  readonly dispatched: WorkerJob[] = [];
  /** Jobs the worker holds without answering (hang, or `autoWork` off). */
  readonly pendingJobs: WorkerJob[] = [];
  readonly ended: Array<{ executionId: string; state: State }> = [];
  /** When false, dispatched jobs wait in `pendingJobs` for `startJob` / `completeJob`. */
  autoWork = true;
  /** When false, CancelJob is not acknowledged (the job keeps running). */
  ackCancel = true;
  workerId = "worker-1";
  private readonly queue: ExecutorInput[] = [];
  private timers: PendingTimer[] = [];
  private timerOrder = 0;
  private idCounter = 0;

  /** Parses and registers a flow (so subflow creation finds it); returns it. */
  addFlow(yaml: string | Flow): Flow {
    const flow = typeof yaml === "string" ? parseFlowOrThrow(yaml) : yaml;
    this.flows.set(`${flow.namespace}/${flow.id}`, flow);
    return flow;
  }

  /** Scripts the worker for every task run of `taskId`. */
  script(taskId: string, s: Script): this {
    this.scripts.set(taskId, s);
    return this;
  }

  /** Starts an execution of `flow` and runs until nothing moves; returns its id. */
  start(flow: Flow | string, inputs: Record<string, unknown> = {}, opts: { executionId?: string; labels?: Label[]; trigger?: Record<string, unknown> } = {}): string {
    const f = typeof flow === "string" ? this.addFlow(flow) : flow;
    if (!this.flows.has(`${f.namespace}/${f.id}`)) this.flows.set(`${f.namespace}/${f.id}`, f);
    const executionId = opts.executionId ?? `exec${++this.idCounter}`;
    this.send({ type: "CreateExecution", executionId, flow: f, inputs, ...(opts.labels ? { labels: opts.labels } : {}), ...(opts.trigger ? { trigger: opts.trigger } : {}) });
    return executionId;
  }

  /** Runs a flow to its end (firing timers as the clock reaches them); returns the execution. */
  runFlow(flow: Flow | string, inputs: Record<string, unknown> = {}): Execution {
    const id = this.start(flow, inputs);
    this.runTimersUntil(() => this.isDone(id));
    return this.execution(id);
  }

  isDone(executionId: string): boolean {
    const s = this.states.get(executionId);
    return !!s && isTerminal(s.execution.state.current);
  }

  /** Fires the next timers (advancing the clock to each) until `stop()` or no timer is left (bounded). */
  runTimersUntil(stop: () => boolean, maxTimers = 100_000): void {
    for (let i = 0; i < maxTimers && !stop() && this.timers.length > 0; i++) {
      const next = this.nextTimer();
      if (!next) break;
      this.advance(Math.max(0, next.at - this.now));
    }
  }

  /** Pending timers, soonest first. */
  pendingTimers(): Array<{ executionId: string; timerId: string; at: number }> {
    return [...this.timers].sort((a, b) => a.at - b.at || a.order - b.order).map(({ executionId, timerId, at }) => ({ executionId, timerId, at }));
  }

  private nextTimer(): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const t of this.timers) if (!best || t.at < best.at || (t.at === best.at && t.order < best.order)) best = t;
    return best;
  }

  /** Moves the clock forward, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (let guard = 0; guard < 1_000_000; guard++) {
      const next = this.nextTimer();
      if (!next || next.at > target) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.now = Math.max(this.now, next.at);
      this.send({ type: "TimerFired", executionId: next.executionId, timerId: next.timerId });
    }
    this.now = target;
  }

  /** Queues an input and processes the queue until nothing moves. */
  send(input: ExecutorInput): void {
    this.queue.push(input);
    this.settle();
  }

  settle(): void {
    // index-based FIFO: Array#shift is O(queue length), which a 10,000-item ForEach would feel
    let head = 0;
    for (let guard = 0; head < this.queue.length; guard++) {
      if (guard > 5_000_000) throw new Error("harness did not settle");
      this.process(this.queue[head++]);
      if (head > 1024 && head * 2 > this.queue.length) {
        this.queue.splice(0, head);
        head = 0;
      }
    }
    this.queue.length = 0;
  }

  private process(input: ExecutorInput): void {
    const before = this.states.get(input.executionId);
    if (!before && input.type !== "CreateExecution") return;
    const r = reduce(before, input, { now: this.now, envs: this.envs });
    this.states.set(input.executionId, r.state);
    let log = this.history.get(input.executionId);
    if (!log) this.history.set(input.executionId, (log = []));
    log.push(...r.events);
    for (const a of r.actions) this.route(a);
  }

  private route(a: Action): void {
    this.actions.push(a);
    switch (a.type) {
      case "DispatchJob": {
        // a real shell serializes the job after the commit; copying keeps later state changes out of it
        const job = structuredClone(a.job);
        this.dispatched.push(job);
        if (!this.autoWork) {
          this.pendingJobs.push(job);
          return;
        }
        this.work(job);
        return;
      }
      case "CancelJob": {
        const i = this.pendingJobs.findIndex((j) => j.executionId === a.executionId && j.taskRunId === a.taskRunId && j.attempt === a.attempt);
        if (i >= 0 && this.ackCancel) {
          const [job] = this.pendingJobs.splice(i, 1);
          this.queue.push(this.result(job, { state: "KILLED" }));
        }
        return;
      }
      case "ScheduleTimer":
        this.timers.push({ executionId: a.executionId, timerId: a.timerId, at: a.at, order: this.timerOrder++ });
        return;
      case "CancelTimer":
        this.timers = this.timers.filter((t) => !(t.executionId === a.executionId && t.timerId === a.timerId));
        return;
      case "CreateExecution": {
        const flow = this.flows.get(`${a.namespace}/${a.flowId}`);
        if (!flow) throw new Error(`harness: no flow ${a.namespace}/${a.flowId}`);
        this.queue.push({
          type: "CreateExecution", executionId: a.executionId, flow, inputs: a.inputs, labels: a.labels,
          ...(a.parent ? { parent: a.parent } : {}), ...(a.attemptNumber ? { attemptNumber: a.attemptNumber } : {}),
        });
        return;
      }
      case "KillExecution":
        this.queue.push({ type: "Kill", executionId: a.executionId });
        return;
      case "NotifyParent":
        this.queue.push({ type: "SubflowEnded", executionId: a.parentExecutionId, childExecutionId: a.childExecutionId, parentTaskRunId: a.parentTaskRunId, state: a.state, ...(a.outputs ? { outputs: a.outputs } : {}) });
        return;
      case "ExecutionEnded":
        this.ended.push({ executionId: a.execution.id, state: a.execution.state });
        return;
      case "AcquireConcurrencySlot":
      case "ReleaseConcurrencySlot": {
        const r = reduceConcurrency(this.concurrency.get(a.flowKey), a);
        this.concurrency.set(a.flowKey, r.state);
        this.queue.push(...r.replies);
        return;
      }
    }
  }

  private result(job: WorkerJob, answer: Exclude<WorkerAnswer, "hang">, workerId = this.workerId): ExecutorInput {
    const result: WorkerResult = {
      kind: "completed", executionId: job.executionId, taskRunId: job.taskRunId, attempt: job.attempt, workerId, state: answer.state,
      ...(answer.outputs ? { outputs: answer.outputs } : {}), ...(answer.error ? { error: answer.error } : {}),
    };
    return { type: "WorkerResult", executionId: job.executionId, result };
  }

  private startedInput(job: WorkerJob, workerId = this.workerId): ExecutorInput {
    return { type: "WorkerResult", executionId: job.executionId, result: { kind: "started", executionId: job.executionId, taskRunId: job.taskRunId, attempt: job.attempt, workerId } };
  }

  private work(job: WorkerJob): void {
    this.queue.push(this.startedInput(job));
    let answer: WorkerAnswer;
    try {
      answer = this.answer(job.task, job.vars, job);
    } catch (err) {
      // a real worker reports a task that throws (a template that does not render…) as FAILED
      answer = { state: "FAILED", error: { message: err instanceof Error ? err.message : String(err) } };
    }
    if (answer === "hang") this.pendingJobs.push(job);
    else this.queue.push(this.result(job, answer));
  }

  /** The scripted (or default) answer for a task. */
  answer(task: Task, vars: Record<string, unknown>, job: WorkerJob): WorkerAnswer {
    const s = this.scripts.get(task.id);
    if (typeof s === "function") return s(job);
    if (s && "hang" in s) return "hang";
    if (s && "fail" in s) {
      if (job.attempt <= s.fail) return { state: "FAILED", error: { message: s.message ?? `${task.id} failed (scripted)` }, ...(s.outputs ? { outputs: s.outputs } : {}) };
      return { state: "SUCCESS", outputs: { attempt: job.attempt } };
    }
    if (s && "succeed" in s) return { state: s.warning ? "WARNING" : "SUCCESS", ...(s.succeed === true ? {} : { outputs: s.succeed }) };
    return this.defaultAnswer(task, vars, job);
  }

  private defaultAnswer(task: Task, vars: Record<string, unknown>, job: WorkerJob): WorkerAnswer {
    switch (task.type) {
      case T.Return:
        return { state: "SUCCESS", outputs: { value: render(String(task.format ?? ""), vars) } };
      case T.OutputValues:
        return { state: "SUCCESS", outputs: { values: renderDeep(task.values ?? {}, vars) } };
      case T.Fail:
        return { state: "FAILED", error: { message: render(String(task.errorMessage ?? "Task failure"), vars) } };
      case T.Log:
        render(String(task.message ?? ""), vars);
        return { state: "SUCCESS" };
      case T.WorkingDirectory:
        return this.workingDirectory(task, vars, job);
      default:
        return { state: "SUCCESS" };
    }
  }

  /** Runs a WorkingDirectory's children in order on this one "worker", as one job. */
  private workingDirectory(task: Task, vars: Record<string, unknown>, job: WorkerJob): WorkerAnswer {
    const taskRuns: Array<{ taskId: string; state: State; outputs?: Record<string, unknown> }> = [];
    const outputs = { ...(vars.outputs as Record<string, unknown>) };
    let state: "SUCCESS" | "WARNING" | "FAILED" = "SUCCESS";
    for (const child of (task.tasks ?? []) as Task[]) {
      if (child.disabled) continue;
      const a = this.answer(child, { ...vars, outputs }, { ...job, task: child });
      if (a === "hang") return "hang";
      taskRuns.push({ taskId: child.id, state: a.state, ...(a.outputs ? { outputs: a.outputs } : {}) });
      if (a.outputs) outputs[child.id] = a.outputs;
      if (a.state === "FAILED" && !child.allowFailure) {
        state = "FAILED";
        break;
      }
      if (a.state === "WARNING" || a.state === "FAILED") state = "WARNING";
    }
    return { state, outputs: { taskRuns } };
  }

  // ---- step-by-step control -----------------------------------------------------------------

  /** Reports a pending job as started by `workerId` (autoWork off). */
  startJob(job: WorkerJob, workerId = this.workerId): void {
    this.send(this.startedInput(job, workerId));
  }

  /** Completes a pending job with `answer` (removing it from the pending list). */
  completeJob(job: WorkerJob, answer: Exclude<WorkerAnswer, "hang">, workerId = this.workerId): void {
    const i = this.pendingJobs.indexOf(job);
    if (i >= 0) this.pendingJobs.splice(i, 1);
    this.send(this.result(job, answer, workerId));
  }

  /** The pending job of a task (first match). */
  pendingJob(taskId: string): WorkerJob | undefined {
    return this.pendingJobs.find((j) => j.task.id === taskId);
  }

  // ---- reading ------------------------------------------------------------------------------

  state(executionId: string): ExecutionState {
    const s = this.states.get(executionId);
    if (!s) throw new Error(`harness: no execution ${executionId}`);
    return s;
  }

  execution(executionId: string): Execution {
    return executionView(this.state(executionId));
  }

  events(executionId: string): ExecutionEvent[] {
    return this.history.get(executionId) ?? [];
  }

  /** Task runs of a task id, in creation order. */
  taskRuns(executionId: string, taskId: string) {
    return this.execution(executionId).taskRunList.filter((t) => t.taskId === taskId);
  }

  /** The state of the single task run of `taskId` (throws when there is not exactly one). */
  taskState(executionId: string, taskId: string): State {
    const trs = this.taskRuns(executionId, taskId);
    if (trs.length !== 1) throw new Error(`harness: ${trs.length} task runs of ${taskId}`);
    return trs[0].state.current;
  }

  /** The execution rebuilt from its recorded events (must equal the live state). */
  replayed(executionId: string): ExecutionState {
    return replayHistory(this.events(executionId));
  }

  /** Every execution id created, in creation order. */
  executionIds(): string[] {
    return [...this.states.keys()];
  }
}

export { applyEvent };
