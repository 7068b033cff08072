import { EventEmitter } from "node:events";
import { isTerminal, type Execution } from "../processors/executor/model.js";

/**
 * Callers waiting for executions to end. A waiter re-reads its execution when woken (by the
 * repository's own writes, or by a notification from a writer in another process) and when its
 * timeout fires — never on a fixed polling sleep.
 */
export class TerminalWaiters {
  private readonly emitter = new EventEmitter();
  private readonly closers = new Set<() => void>();

  constructor() {
    // Any number of HTTP requests may wait on the same execution.
    this.emitter.setMaxListeners(0);
  }

  /** Number of executions somebody waits for (for tests and metrics). */
  get size(): number {
    return this.emitter.eventNames().length;
  }

  /** Wakes the waiters of these executions: they re-read their execution. */
  wake(ids: Iterable<string>): void {
    for (const id of ids) this.emitter.emit(id);
  }

  /** Wakes every waiter (after a reconnection, when notifications may have been lost). */
  wakeAll(): void {
    for (const name of this.emitter.eventNames()) this.emitter.emit(name);
  }

  /**
   * Resolves with the execution once `read` answers it in a terminal state, or after `timeoutMs`
   * with what `read` answers then (undefined when unknown or unreadable). Rejects when `read` fails
   * before the timeout.
   */
  wait(id: string, timeoutMs: number, read: () => Promise<Execution | undefined>): Promise<Execution | undefined> {
    return new Promise<Execution | undefined>((resolve, reject) => {
      let done = false;
      let reading = false;
      let again = false;
      const cleanup = () => {
        done = true;
        clearTimeout(timer);
        this.emitter.off(id, onWake);
        this.closers.delete(onClose);
      };
      const check = async (): Promise<void> => {
        if (reading) {
          again = true;
          return;
        }
        reading = true;
        try {
          do {
            again = false;
            const e = await read();
            if (done) return;
            if (e && isTerminal(e.state.current)) {
              cleanup();
              resolve(e);
              return;
            }
          } while (again);
        } catch (err) {
          if (!done) {
            cleanup();
            reject(err);
          }
        } finally {
          reading = false;
        }
      };
      const onWake = () => void check();
      const onClose = () => {
        if (done) return;
        cleanup();
        resolve(undefined);
      };
      const timer = setTimeout(() => {
        if (done) return;
        cleanup();
        read().then(resolve, () => resolve(undefined));
      }, Math.max(0, timeoutMs));
      this.emitter.on(id, onWake);
      this.closers.add(onClose);
      void check();
    });
  }

  /** Resolves every pending waiter with undefined. */
  closeAll(): void {
    for (const c of [...this.closers]) c();
  }
}
