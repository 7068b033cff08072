import { EventEmitter } from "node:events";
import type { ExecutionUpsert, LogEntry, Repository } from "../projections/repository.js";

/**
 * Wake-ups for live followers (SSE). The in-process indexer's repository (`notifyingRepository`)
 * calls `notify` after each write with the executions it changed (and `notifyLogs` for log lines);
 * a follower then reads what is new on the log. A webserver without an in-process indexer has no source: `live` is false and followers
 * re-check on their own (bounded) interval instead.
 */
export class ChangeFeed {
  private readonly emitter = new EventEmitter();
  private sources = 0;

  constructor() {
    // Any number of followers may listen.
    this.emitter.setMaxListeners(0);
  }

  /** True when something in this process announces changes. */
  get live(): boolean {
    return this.sources > 0;
  }

  /** Registers a source of notifications; returns a function that unregisters it. */
  attachSource(): () => void {
    this.sources++;
    let attached = true;
    return () => {
      if (attached) this.sources--;
      attached = false;
    };
  }

  /** Announces changed executions (their events were indexed). */
  notify(executionIds: Iterable<string>): void {
    for (const id of executionIds) this.emitter.emit(`e:${id}`);
  }

  /** Announces new log lines of these executions. */
  notifyLogs(executionIds: Iterable<string>): void {
    for (const id of executionIds) this.emitter.emit(`l:${id}`);
  }

  /** Calls `listener` on every change of execution `id` (events, or logs when `logs`); returns the unsubscribe function. */
  subscribe(id: string, listener: () => void, logs = false): () => void {
    const name = `${logs ? "l" : "e"}:${id}`;
    this.emitter.on(name, listener);
    return () => this.emitter.off(name, listener);
  }
}

/**
 * The repository as the indexer should see it in a process that also serves the API: every
 * execution write and log append, once the repository took it, is announced on `feed`.
 */
export function notifyingRepository(repository: Repository, feed: ChangeFeed): Repository {
  return new Proxy(repository, {
    get(target, prop) {
      if (prop === "upsertExecutions") {
        return async (rows: ExecutionUpsert[]) => {
          await target.upsertExecutions(rows);
          feed.notify(new Set(rows.map((r) => r.execution.id)));
        };
      }
      if (prop === "appendLogs") {
        return async (entries: LogEntry[]) => {
          await target.appendLogs(entries);
          feed.notifyLogs(new Set(entries.map((e) => e.executionId)));
        };
      }
      const v: unknown = Reflect.get(target, prop, target);
      // Methods run on the real repository (its private fields are not on the proxy).
      return typeof v === "function" ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
}
