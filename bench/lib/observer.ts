/**
 * Follows the `executions` topic in its own consumer group and keeps every event of the
 * executions it is asked about, with the high-resolution time it arrived, so a workload can both
 * rebuild the execution (state histories) and time the hops between events below a millisecond.
 */
import type { ExecutionEvent } from "../../processors/executor/events.js";
import { decodeEvent, type RecordCodec } from "../../processors/executor/shell/records.js";
import type { Log, Membership } from "../../topology/log.js";

/** An event and `performance.now()` when the observer received it. */
export interface SeenEvent {
  event: ExecutionEvent;
  seenAt: number;
}

/** States an execution ends in. */
export const TERMINAL_STATES: ReadonlySet<string> = new Set(["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED"]);

export class ExecutionObserver {
  private readonly seen = new Map<string, SeenEvent[]>();
  private waiters: Array<{ check: () => boolean; resolve: () => void }> = [];
  private membership: Membership | undefined;
  /** Terminal state per execution, and who waits for one (resolved directly: O(1) per event). */
  private readonly terminal = new Map<string, string>();
  private readonly terminalWaiters = new Map<string, Array<(state: string) => void>>();

  constructor(
    private readonly log: Log,
    private readonly codec: RecordCodec,
    private readonly topic: string,
    private readonly group = `bench-observer-${process.pid}-${Date.now()}`,
  ) {}

  /** Joins the group; resolves once the member is in. */
  async start(): Promise<void> {
    this.membership = await this.log.join(this.group, [this.topic], {
      onAssign: async () => undefined,
      onRevoke: async () => undefined,
      onRecords: async (batch) => {
        const now = performance.now();
        for (const rec of batch) {
          const event = decodeEvent(this.codec, rec.value);
          const list = this.seen.get(event.executionId);
          if (list) list.push({ event, seenAt: now });
          else this.seen.set(event.executionId, [{ event, seenAt: now }]);
          if (event.type === "ExecutionStateChanged" && TERMINAL_STATES.has(event.state) && !this.terminal.has(event.executionId)) {
            this.terminal.set(event.executionId, event.state);
            const ws = this.terminalWaiters.get(event.executionId);
            this.terminalWaiters.delete(event.executionId);
            for (const w of ws ?? []) w(event.state);
          }
        }
        this.waiters = this.waiters.filter((w) => {
          if (!w.check()) return true;
          w.resolve();
          return false;
        });
      },
    });
  }

  /** Leaves the group. */
  async stop(): Promise<void> {
    await this.membership?.leave();
  }

  /** Events seen so far for `executionId`, in arrival order. */
  events(executionId: string): SeenEvent[] {
    return this.seen.get(executionId) ?? [];
  }

  /** Executions seen so far. */
  executionIds(): string[] {
    return [...this.seen.keys()];
  }

  /** Forgets an execution (keeps memory flat across repetitions). */
  forget(executionId: string): void {
    this.seen.delete(executionId);
    this.terminal.delete(executionId);
  }

  /**
   * Resolves with the execution's terminal state once its terminal ExecutionStateChanged was seen
   * (at once when it already was); rejects after `timeoutMs`.
   */
  whenTerminal(executionId: string, timeoutMs: number): Promise<string> {
    const known = this.terminal.get(executionId);
    if (known) return Promise.resolve(known);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const ws = this.terminalWaiters.get(executionId)?.filter((w) => w !== done);
        if (ws?.length) this.terminalWaiters.set(executionId, ws);
        else this.terminalWaiters.delete(executionId);
        reject(new Error(`bench: execution ${executionId} not terminal after ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (state: string) => {
        clearTimeout(timer);
        resolve(state);
      };
      const ws = this.terminalWaiters.get(executionId);
      if (ws) ws.push(done);
      else this.terminalWaiters.set(executionId, [done]);
    });
  }

  /**
   * Resolves once `check` holds (checked after each delivered batch), rejects after `timeoutMs`
   * with `what` in the message so a stuck benchmark says what it waited for.
   */
  until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`bench: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ check, resolve: done });
    });
  }
}
