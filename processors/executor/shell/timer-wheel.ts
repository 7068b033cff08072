/**
 * The in-memory timer wheel of one executor partition: every armed execution timer, with ONE
 * `setTimeout` for the earliest due one. The durable copy of the timers is the partition's timer
 * index in the state store (`timer/<at>/<executionId>/<timerId>`, see state-keys.ts); this wheel
 * is rebuilt from it on assignment and only tells the shell when to run a TimerFired unit of work.
 */

/** One armed timer. */
export interface ArmedTimer {
  executionId: string;
  timerId: string;
  /** Due time, epoch ms. */
  at: number;
}

/** setTimeout's largest delay (about 24.8 days); longer timers re-arm when it elapses. */
const MAX_DELAY = 2_147_483_647;

const idOf = (executionId: string, timerId: string) => `${executionId}\u0000${timerId}`;

export class TimerWheel {
  private readonly timers = new Map<string, ArmedTimer>();
  /** Min-heap by `at`; entries that no longer match `timers` are skipped lazily. */
  private heap: ArmedTimer[] = [];
  private handle: NodeJS.Timeout | undefined;
  private handleAt = Number.POSITIVE_INFINITY;
  private stopped = false;

  /**
   * @param onDue called (outside any lock) when at least one timer is due; it should take them
   *   with `takeDue(now)` and fire them. Not called again until `rearm()` after it ran.
   * @param clock the wall clock (tests may pass their own).
   */
  constructor(
    private readonly onDue: () => void,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Number of armed timers. */
  get size(): number {
    return this.timers.size;
  }

  /** The due time of an armed timer, or undefined. */
  dueAt(executionId: string, timerId: string): number | undefined {
    return this.timers.get(idOf(executionId, timerId))?.at;
  }

  /** Arms (or moves) a timer. Call `rearm()` after a group of changes. */
  add(t: ArmedTimer): void {
    const copy = { ...t };
    this.timers.set(idOf(t.executionId, t.timerId), copy);
    this.push(copy);
  }

  /** Disarms a timer; returns it when it was armed. */
  remove(executionId: string, timerId: string): ArmedTimer | undefined {
    const id = idOf(executionId, timerId);
    const t = this.timers.get(id);
    if (t) this.timers.delete(id);
    return t;
  }

  /** Removes and returns every armed timer due at `now` or earlier, earliest first. */
  takeDue(now: number = this.clock()): ArmedTimer[] {
    const due: ArmedTimer[] = [];
    while (this.heap.length > 0 && this.heap[0].at <= now) {
      const t = this.pop();
      const id = idOf(t.executionId, t.timerId);
      if (this.timers.get(id) !== t) continue; // removed or moved since it was pushed
      this.timers.delete(id);
      due.push(t);
    }
    return due;
  }

  /** Sets the single setTimeout for the earliest armed timer (or clears it when none is left). */
  rearm(): void {
    if (this.stopped) return;
    while (this.heap.length > 0) {
      const top = this.heap[0];
      if (this.timers.get(idOf(top.executionId, top.timerId)) === top) break;
      this.pop();
    }
    const next = this.heap.length > 0 ? this.heap[0].at : Number.POSITIVE_INFINITY;
    if (next === this.handleAt && this.handle !== undefined) return;
    if (this.handle !== undefined) clearTimeout(this.handle);
    this.handle = undefined;
    this.handleAt = next;
    if (next === Number.POSITIVE_INFINITY) return;
    const delay = Math.min(MAX_DELAY, Math.max(0, next - this.clock()));
    this.handle = setTimeout(() => {
      this.handle = undefined;
      this.handleAt = Number.POSITIVE_INFINITY;
      if (this.stopped) return;
      if (this.heap.length > 0 && this.heap[0].at <= this.clock()) this.onDue();
      else this.rearm();
    }, delay);
    // an armed timer alone must not keep the process alive: the log's members do
    this.handle.unref();
  }

  /** Disarms everything and stops calling `onDue`. */
  stop(): void {
    this.stopped = true;
    if (this.handle !== undefined) clearTimeout(this.handle);
    this.handle = undefined;
    this.timers.clear();
    this.heap = [];
  }

  private push(t: ArmedTimer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent].at <= h[i].at) break;
      [h[parent], h[i]] = [h[i], h[parent]];
      i = parent;
    }
  }

  private pop(): ArmedTimer {
    const h = this.heap;
    const top = h[0];
    const last = h.pop() as ArmedTimer;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l].at < h[m].at) m = l;
        if (r < h.length && h[r].at < h[m].at) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }
}
