/**
 * What the executor keeps in memory for one owned partition: the live execution states, which of
 * them changed since the last snapshot, the timer wheel, the index of running attempts per worker
 * and the flow-concurrency states of flows whose key hashes to this partition. Every unit of work
 * of the partition (a batch of either input topic, a timer firing, a snapshot flush) runs through
 * its serial queue, so they never interleave.
 */
import type { ConcurrencyState } from "../concurrency.js";
import type { ExecutionEvent } from "../events.js";
import { isTerminal, type ExecutionState } from "../model.js";
import { TimerWheel } from "./timer-wheel.js";

/** Runs async jobs one at a time, in order. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `job` after every job queued before it; resolves or rejects with its outcome. */
  run<T>(job: () => Promise<T>): Promise<T> {
    const next = this.tail.then(job, job);
    this.tail = next.catch(() => undefined);
    return next;
  }

  /** Resolves once every job queued so far has settled. */
  idle(): Promise<void> {
    return this.run(() => Promise.resolve());
  }
}

export class PartitionState {
  readonly executions = new Map<string, ExecutionState>();
  /** Executions changed since the last snapshot commit. */
  readonly dirty = new Set<string>();
  /** Executions that ended (nothing active, no timer), with when: dropped from memory after a grace. */
  readonly ended = new Map<string, number>();
  /** workerId → executionId → running attempts on that worker. */
  readonly byWorker = new Map<string, Map<string, number>>();
  /** When each lost worker was declared lost (epoch ms), kept in the store: results it sent before may be read later. */
  readonly lostWorkers = new Map<string, number>();
  readonly concurrency = new Map<string, ConcurrencyState>();
  readonly queue = new SerialQueue();
  readonly timers: TimerWheel;
  /** Topics of the pair (commands, results) this member owns for the partition. */
  readonly topics = new Set<string>();
  lastSnapshot = 0;
  /** Bytes of execution states the last snapshot wrote (spaces the next one out when large). */
  lastSnapshotBytes = 0;
  flushTimer: NodeJS.Timeout | undefined;
  /** Units accepted by an ordered writer and not yet durable (pipelined commits). */
  inFlight = 0;
  /** Settles once every accepted unit is durable and its side effects ran, in order. */
  durable: Promise<void> = Promise.resolve();
  /** A pipelined commit failed after later batches were delivered: fail the next one so delivery rewinds. */
  rewind: unknown = undefined;
  /** Set when a commit was fenced or the partition was revoked: no more work here. */
  closed = false;

  constructor(
    readonly partition: number,
    onTimersDue: () => void,
    clock: () => number,
  ) {
    this.timers = new TimerWheel(onTimersDue, clock);
  }

  /** Follows running attempts per worker from the events a reduce emitted (O(events)). */
  trackAttempts(state: ExecutionState, events: readonly ExecutionEvent[]): void {
    for (const e of events) {
      if (e.type === "AttemptStarted") this.addAttempt(e.workerId, e.executionId, 1);
      else if (e.type === "AttemptEnded") {
        const workerId = state.taskRuns[e.taskRunId]?.attempts[e.attempt - 1]?.workerId;
        if (workerId !== undefined) this.addAttempt(workerId, e.executionId, -1);
      }
    }
  }

  /** Rebuilds the running-attempt index of one execution from its state (O(active task runs)). */
  indexAttempts(state: ExecutionState): void {
    for (const id of Object.keys(state.active)) {
      const tr = state.taskRuns[id];
      const a = tr?.attempts[tr.attempts.length - 1];
      if (a && a.state.current === "RUNNING" && a.workerId !== undefined) this.addAttempt(a.workerId, state.execution.id, 1);
    }
  }

  /** Executions with a running attempt on `workerId`, in a stable order. */
  executionsOnWorker(workerId: string): string[] {
    return [...(this.byWorker.get(workerId)?.keys() ?? [])].sort();
  }

  forgetWorker(workerId: string): void {
    this.byWorker.delete(workerId);
  }

  /** Removes an execution from memory (after its final snapshot was committed). */
  forget(executionId: string): void {
    this.executions.delete(executionId);
    this.dirty.delete(executionId);
    this.ended.delete(executionId);
    for (const [w, m] of this.byWorker) {
      if (m.delete(executionId) && m.size === 0) this.byWorker.delete(w);
    }
  }

  /** Stops timers; the partition's memory is dropped by the caller. */
  close(): void {
    this.closed = true;
    this.timers.stop();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
  }

  private addAttempt(workerId: string, executionId: string, delta: number): void {
    let m = this.byWorker.get(workerId);
    if (!m) {
      if (delta <= 0) return;
      m = new Map();
      this.byWorker.set(workerId, m);
    }
    const n = (m.get(executionId) ?? 0) + delta;
    if (n > 0) m.set(executionId, n);
    else m.delete(executionId);
    if (m.size === 0) this.byWorker.delete(workerId);
  }
}

/** True when nothing can happen to the execution any more without a new command (restart…). */
export function hasEnded(state: ExecutionState): boolean {
  if (!isTerminal(state.execution.state.current)) return false;
  for (const _ in state.active) return false;
  for (const _ in state.timers) return false;
  return true;
}
