import { LannerError } from "../../common/errors.js";

/** Rejection of a pending `acquire` when the worker stops taking jobs. */
export const SLOTS_CLOSED = "WORKER_SLOTS_CLOSED";

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
  /** True: takes a slot; false: only waits until one is free. */
  take: boolean;
}

/**
 * A counting semaphore for the worker's execution threads: at most `capacity` attempts run at
 * once. Waiters are served in arrival order, so the jobs of one partition start in offset order.
 * `close()` rejects every waiter (the worker is stopping: undelivered jobs go back to the log).
 */
export class Slots {
  private used = 0;
  private readonly waiters: Waiter[] = [];
  private closed = false;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new LannerError("WORKER_THREADS_INVALID", `threads must be a positive integer, got ${String(capacity)}`);
    }
  }

  /** Slots in use. */
  get inUse(): number {
    return this.used;
  }

  /** Resolves once a slot is taken for the caller; rejects with `WORKER_SLOTS_CLOSED` after `close()`. */
  acquire(): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    if (this.used < this.capacity && this.waiters.length === 0) {
      this.used++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject, take: true }));
  }

  /**
   * Resolves when at least one slot is free (without taking it), so a consumer asks for more jobs
   * only when it can run one; rejects with `WORKER_SLOTS_CLOSED` after `close()`.
   */
  whenFree(): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    if (this.used < this.capacity && this.waiters.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject, take: false }));
  }

  /** Gives a slot back and wakes the waiters it makes room for. */
  release(): void {
    if (this.used === 0) throw new LannerError("WORKER_SLOTS_UNDERFLOW", "a worker slot was released twice");
    this.used--;
    this.drain();
  }

  /** Rejects every waiter, present and future; slots in use stay counted until released. */
  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.reject(closedError());
  }

  private drain(): void {
    while (this.waiters.length > 0 && this.used < this.capacity) {
      const w = this.waiters.shift();
      if (w === undefined) break;
      if (w.take) this.used++;
      w.resolve();
    }
  }
}

function closedError(): LannerError {
  return new LannerError(SLOTS_CLOSED, "the worker is stopping and takes no more jobs");
}
