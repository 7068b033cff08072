/**
 * The worker side of polling triggers: joins group `trigger-workers` on `trigger-evaluations`,
 * runs each evaluation with its type's evaluator inside its time-box, and commits the results on
 * `trigger-results` with the input offset. An evaluation still running at its time-box is aborted
 * (its signal fires, so its I/O stops) and reported as `timed-out`: a hung poll never holds the
 * trigger.
 */
import { randomUUID } from "node:crypto";
import { LannerError, describeError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { TRIGGER_CANONICAL } from "../../schemas/trigger-schema.js";
import type { Log, LogRecord, Membership, ProduceRecord } from "../../topology/log.js";
import type { RecordCodec } from "../executor/shell/records.js";
import { formatDuration } from "../../schemas/duration.js";
import { DEFAULT_EVALUATORS, type PollingEvaluationRecord, type PollingEvaluator, type PollingResultRecord } from "./polling.js";
import { TRIGGER_KIND } from "./trigger-topics.js";

export const TRIGGER_WORKER_GROUP = "trigger-workers";

export interface TriggerWorkerOptions {
  log: Log;
  logger: Logger;
  codec: RecordCodec;
  topics: { evaluations: string; results: string };
  evaluators?: Record<string, PollingEvaluator>;
  workerId?: string;
}

export class TriggerWorker {
  private membership: Membership | undefined;
  private readonly workerId: string;
  private readonly logger: Logger;
  private readonly evaluators: Record<string, PollingEvaluator>;
  private readonly running = new Set<AbortController>();

  constructor(private readonly opts: TriggerWorkerOptions) {
    this.workerId = opts.workerId ?? `trigger-worker-${randomUUID()}`;
    this.logger = opts.logger.child({ role: "trigger-worker" });
    this.evaluators = { ...DEFAULT_EVALUATORS, ...opts.evaluators };
  }

  /** Joins the group; resolves once joined. */
  async start(): Promise<void> {
    this.membership = await this.opts.log.join(TRIGGER_WORKER_GROUP, [this.opts.topics.evaluations], {
      onAssign: async () => undefined,
      onRevoke: async () => undefined,
      onRecords: (batch) => this.onRecords(batch),
      onError: (err, where) => this.logger.warn({ err: describeError(err), ...where }, "trigger evaluations not committed; they will be delivered again"),
    }, { memberId: this.workerId });
  }

  /** Aborts running evaluations and leaves the group (their results are not committed; the scheduler's watchdog unlocks them). */
  async stop(): Promise<void> {
    const m = this.membership;
    this.membership = undefined;
    for (const c of this.running) c.abort(new LannerError("WORKER_STOPPING", "the worker is stopping"));
    await m?.leave();
  }

  private async onRecords(batch: LogRecord[]): Promise<void> {
    const results = await Promise.all(batch.map((rec) => this.evaluate(rec)));
    const m = this.membership;
    if (!m) return;
    const produce: ProduceRecord[] = results.filter((r): r is PollingResultRecord => r !== undefined)
      .map((r) => ({ topic: this.opts.topics.results, key: r.triggerKey, value: this.opts.codec.encode(TRIGGER_KIND.result, r) }));
    const last = batch[batch.length - 1];
    await m.commit({ produce, offsets: [{ topic: last.topic, partition: last.partition, next: last.offset + 1n }] });
  }

  private async evaluate(rec: LogRecord): Promise<PollingResultRecord | undefined> {
    let ev: PollingEvaluationRecord;
    try {
      const { type, value } = this.opts.codec.decode(rec.value);
      if (type !== TRIGGER_KIND.evaluation) throw new LannerError("RECORD_MALFORMED", `a ${type} record does not belong on trigger-evaluations`);
      ev = value as PollingEvaluationRecord;
      if (typeof ev.evaluationId !== "string" || typeof ev.triggerKey !== "string" || typeof ev.timeBoxMs !== "number") {
        throw new LannerError("RECORD_MALFORMED", "PollingEvaluation: evaluationId, triggerKey and timeBoxMs are required");
      }
    } catch (err) {
      this.logger.error({ partition: rec.partition, offset: String(rec.offset), err: describeError(err) }, "undecodable trigger evaluation skipped");
      return undefined;
    }
    const started = Date.now();
    const base = { evaluationId: ev.evaluationId, triggerKey: ev.triggerKey, workerId: this.workerId };
    const evaluator = this.evaluators[TRIGGER_CANONICAL.get(ev.trigger.type) ?? ev.trigger.type];
    if (!evaluator) return { ...base, outcome: "failed", error: `no evaluator for trigger type ${ev.trigger.type}`, durationMs: 0 };
    const controller = new AbortController();
    this.running.add(controller);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timed-out">((resolve) => {
      timer = setTimeout(() => {
        controller.abort(new LannerError("TRIGGER_EVALUATION_TIMEOUT", `evaluation exceeded its time-box of ${formatDuration(ev.timeBoxMs)}`));
        resolve("timed-out");
      }, ev.timeBoxMs);
    });
    const vars = {
      flow: { id: ev.flowId, namespace: ev.namespace, revision: ev.flowRevision, tenantId: ev.tenantId },
      trigger: { id: ev.trigger.id, date: new Date(started).toISOString() },
    };
    try {
      const r = await Promise.race([evaluator.evaluate(ev.trigger, { signal: controller.signal, vars }), timedOut]);
      const durationMs = Date.now() - started;
      if (r === "timed-out") {
        this.logger.warn({ trigger: ev.triggerKey, evaluationId: ev.evaluationId, timeBoxMs: ev.timeBoxMs }, "trigger evaluation cancelled at its time-box");
        return { ...base, outcome: "timed-out", error: `evaluation exceeded its time-box of ${formatDuration(ev.timeBoxMs)} and was cancelled`, durationMs };
      }
      return { ...base, outcome: r.fired ? "fired" : "not-met", ...(r.variables ? { variables: r.variables } : {}), durationMs };
    } catch (err) {
      const timedOutAlready = controller.signal.aborted;
      return {
        ...base, outcome: timedOutAlready ? "timed-out" : "failed", durationMs: Date.now() - started,
        error: timedOutAlready ? `evaluation exceeded its time-box of ${formatDuration(ev.timeBoxMs)} and was cancelled` : describeError(err),
      };
    } finally {
      clearTimeout(timer);
      this.running.delete(controller);
    }
  }
}
