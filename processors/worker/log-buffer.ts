import type { Logger } from "pino";
import type { Log, ProduceRecord } from "../../topology/log.js";

/** Lines kept in memory at most; beyond that new lines are dropped and counted (a task that floods). */
const MAX_BUFFERED = 20_000;
/** Lines per append. */
const MAX_PER_APPEND = 1000;

/**
 * Task log lines on their way to the `logs` topic: buffered in memory and appended in batches
 * every `flushMs` (one append for many lines instead of one per line). `flush()` drains what is
 * buffered, so a result can be sent after its attempt's log lines.
 */
export class LogBuffer {
  private buffer: ProduceRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private dropped = 0;

  constructor(
    private readonly log: Log,
    private readonly logger: Logger,
    private readonly flushMs = 5,
  ) {}

  /** Queues one record for the next flush. */
  push(record: ProduceRecord): void {
    if (this.buffer.length >= MAX_BUFFERED) {
      this.dropped++;
      return;
    }
    this.buffer.push(record);
    if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, this.flushMs);
    }
  }

  /** Appends everything queued so far; resolves once it is durable (or reported as lost). */
  flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.buffer;
    this.buffer = [];
    const dropped = this.dropped;
    this.dropped = 0;
    // Chained so lines keep their order across flushes.
    this.flushing = this.flushing.then(async () => {
      if (dropped > 0) this.logger.warn({ dropped }, "task log lines dropped: the log buffer was full");
      for (let i = 0; i < batch.length; i += MAX_PER_APPEND) {
        try {
          await this.log.append(batch.slice(i, i + MAX_PER_APPEND));
        } catch (err) {
          // Task logs are not worth failing the task for; the Log reports fatal failures itself.
          this.logger.error({ err, lines: Math.min(MAX_PER_APPEND, batch.length - i) }, "could not append task log lines");
        }
      }
    });
    return this.flushing;
  }
}
