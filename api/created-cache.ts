import type { Execution } from "../processors/executor/model.js";

/**
 * Executions this webserver just created, kept until the read side has them, so a client that
 * creates then reads at once gets the execution instead of a 404 while the indexer catches up.
 * Bounded in size and age; the oldest entries go first.
 */
export class CreatedCache {
  private readonly entries = new Map<string, { execution: Execution; at: number }>();

  constructor(
    private readonly maxEntries = 10_000,
    private readonly maxAgeMs = 10 * 60_000,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Remembers a just-created execution. */
  add(execution: Execution): void {
    this.entries.delete(execution.id);
    this.entries.set(execution.id, { execution, at: this.clock() });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  /** The remembered execution, unless it is too old. */
  get(id: string): Execution | undefined {
    const e = this.entries.get(id);
    if (!e) return undefined;
    if (this.clock() - e.at > this.maxAgeMs) {
      this.entries.delete(id);
      return undefined;
    }
    return e.execution;
  }

  /** Forgets an execution (the read side has it now). */
  delete(id: string): void {
    this.entries.delete(id);
  }
}
