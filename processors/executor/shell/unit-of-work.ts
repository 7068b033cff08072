/**
 * What one unit of work of an executor partition accumulates before its single commit: the
 * records to produce, the state-store changes (puts and deletes, last write wins), the timer
 * changes to apply to the in-memory wheel once the commit resolved, and the executions touched.
 */
import type { ProduceRecord } from "../../../topology/log.js";
import type { ExecutionEvent } from "../events.js";
import type { ArmedTimer } from "./timer-wheel.js";

export class StateChanges {
  private readonly puts = new Map<string, Uint8Array>();
  private readonly deletes = new Set<string>();

  put(key: string, value: Uint8Array): void {
    this.deletes.delete(key);
    this.puts.set(key, value);
  }

  delete(key: string): void {
    this.puts.delete(key);
    this.deletes.add(key);
  }

  get empty(): boolean {
    return this.puts.size === 0 && this.deletes.size === 0;
  }

  /** The batch parts, in insertion order. */
  toBatch(): { puts: Array<[string, Uint8Array]>; deletes: string[] } {
    return { puts: [...this.puts], deletes: [...this.deletes] };
  }
}

export class UnitOfWork {
  readonly produce: ProduceRecord[] = [];
  /** Store `executor` of the partition (live snapshots, timers, concurrency). */
  readonly state = new StateChanges();
  /** Store `executor-done` of the partition (final states and done markers). */
  readonly done = new StateChanges();
  /** executionId/timerId → the timer's due time after this unit (undefined: disarmed). */
  readonly timerChanges = new Map<string, { executionId: string; timerId: string; at: number | undefined }>();
  /** Events of this unit per execution (to rebuild an execution whose reduce failed mid-unit). */
  readonly events = new Map<string, ExecutionEvent[]>();
  /** Executions changed by this unit (they become dirty once it commits). */
  readonly changed = new Set<string>();
  /** Executions whose final state this unit writes (dropped from memory once it commits). */
  readonly dropped: string[] = [];
  /** Workers whose lost attempts this unit handled. */
  readonly lostWorkers = new Set<string>();
  /** The unit writes a snapshot (checkpoint moves to the end of `executions`). */
  snapshot = false;
  /** Bytes of the execution states this unit's snapshot writes. */
  snapshotBytes = 0;

  /** The due time a timer has at this point of the unit (pending change, else the wheel's). */
  timerAt(executionId: string, timerId: string, armed: (e: string, t: string) => number | undefined): number | undefined {
    const c = this.timerChanges.get(`${executionId}\u0000${timerId}`);
    return c ? c.at : armed(executionId, timerId);
  }

  setTimer(executionId: string, timerId: string, at: number | undefined): void {
    this.timerChanges.set(`${executionId}\u0000${timerId}`, { executionId, timerId, at });
  }

  /** Timer changes as wheel operations. */
  wheelOps(): Array<{ add?: ArmedTimer; remove?: { executionId: string; timerId: string } }> {
    return [...this.timerChanges.values()].map((c) =>
      c.at === undefined ? { remove: { executionId: c.executionId, timerId: c.timerId } } : { add: { executionId: c.executionId, timerId: c.timerId, at: c.at } },
    );
  }
}
