/**
 * The polling scheduler: owns polling triggers by partition (group `polling-scheduler` on
 * `trigger-results`; a trigger belongs to the partition of its key), and on each tick, for every
 * owned trigger:
 * - the watchdog: an evaluation locked past its time-box (plus a grace for the result to travel)
 *   is unlocked, and the trigger's state says so (`watchdog`);
 * - an unlocked trigger that is due is dispatched: a lock with its deadline is recorded in the
 *   state and the evaluation appended to `trigger-evaluations`, in one commit fenced on the
 *   partition (a scheduler that lost it commits nothing). A dispatch more than an interval late
 *   is recorded as `overdue`.
 * Results from workers unlock the trigger; a `fired` one creates the execution whose id derives
 * from (trigger, evaluation id), in the same commit as the result's offset. A result for an
 * evaluation that is no longer the lock (the watchdog gave up on it) is recorded and ignored.
 */
import { randomUUID } from "node:crypto";
import { LannerError, describeError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { Flow, Trigger } from "../../schemas/flow-types.js";
import type { StateBatch } from "../../stores/state-store.js";
import { partitionForKey } from "../../topology/partitioner.js";
import type { AssignedPartition, Log, LogRecord, Membership, ProduceRecord, TopicPartition } from "../../topology/log.js";
import { deterministicId } from "../executor/ids.js";
import type { FlowCatalog } from "../executor/shell/flow-resolver.js";
import { encodeCommand, type RecordCodec } from "../executor/shell/records.js";
import {
  intervalOf, isPollingTrigger, pollingHealth, pollingTriggerKey, timeBoxOf,
  type PollingEvaluationRecord, type PollingHealth, type PollingResultRecord, type PollingTriggerState,
} from "./polling.js";
import { TRIGGER_KIND } from "./trigger-topics.js";
import { triggeredExecution } from "./triggered-execution.js";

export const POLLING_SCHEDULER_GROUP = "polling-scheduler";
export const POLLING_STORE = "polling-triggers";

export interface PollingSchedulerOptions {
  log: Log;
  logger: Logger;
  codec: RecordCodec;
  flows: FlowCatalog;
  topics: { evaluations: string; results: string; commands: string };
  clock?: () => number;
  /** How often to tick (ms); default 1000. 0: never on its own (tests call `tick()`). */
  tickMs?: number;
  /** How long past its deadline a lock may stay before the watchdog unlocks it (ms); default 5000. */
  graceMs?: number;
  memberId?: string;
}

const toBytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const fromBytes = (b: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(b));

interface Owned {
  states: Map<string, PollingTriggerState>;
  /** Serialises ticks and result batches of the partition. */
  chain: Promise<void>;
}

export class PollingScheduler {
  private membership: Membership | undefined;
  private readonly owned = new Map<number, Owned>();
  private readonly clock: () => number;
  private readonly graceMs: number;
  private readonly logger: Logger;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly opts: PollingSchedulerOptions) {
    this.clock = opts.clock ?? Date.now;
    this.graceMs = opts.graceMs ?? 5000;
    this.logger = opts.logger.child({ role: "polling-scheduler" });
  }

  /** Joins the group and starts ticking; resolves once joined. */
  async start(): Promise<void> {
    this.membership = await this.opts.log.join(POLLING_SCHEDULER_GROUP, [this.opts.topics.results], {
      onAssign: (a) => this.onAssign(a),
      onRevoke: (r) => this.onRevoke(r),
      onRecords: (batch) => this.onRecords(batch),
      onError: (err, where) => this.logger[err instanceof LannerError && err.code === "FENCED" ? "debug" : "error"]({ err: describeError(err), ...where }, "trigger results not committed; they will be delivered again"),
    }, { memberId: this.opts.memberId ?? `polling-scheduler-${randomUUID()}` });
    const tickMs = this.opts.tickMs ?? 1000;
    if (tickMs > 0) {
      this.timer = setInterval(() => {
        this.tick().catch((err: unknown) => this.logger.error({ err: describeError(err) }, "polling tick failed"));
      }, tickMs);
      this.timer.unref();
    }
  }

  /** Stops ticking and leaves the group. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    const m = this.membership;
    this.membership = undefined;
    await m?.leave();
    await Promise.all([...this.owned.values()].map((o) => o.chain));
    this.owned.clear();
  }

  /** Partitions this instance schedules. */
  ownedPartitions(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  /** Every owned trigger's state with its health at the scheduler's clock (the watchdog's view). */
  triggerStates(): Array<PollingTriggerState & { health: PollingHealth }> {
    const now = this.clock();
    return [...this.owned.values()].flatMap((o) => [...o.states.values()].map((s) => ({ ...structuredClone(s), health: pollingHealth(s, now) })));
  }

  /** Calls `listener` after every committed change (tests and inspection). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One pass over every owned partition: watchdog, then dispatch of what is due. */
  async tick(): Promise<void> {
    const { flows } = await this.opts.flows.latestFlows();
    await Promise.all([...this.owned.entries()].map(([p, o]) => this.serial(o, () => this.tickPartition(p, o, flows))));
  }

  private serial(o: Owned, work: () => Promise<void>): Promise<void> {
    const run = o.chain.then(work);
    o.chain = run.catch(() => undefined);
    return run;
  }

  private async onAssign(assigned: AssignedPartition[]): Promise<void> {
    for (const a of assigned) {
      if (this.owned.has(a.partition)) continue;
      const states = new Map<string, PollingTriggerState>();
      for await (const [key, value] of this.opts.log.stateStore(POLLING_STORE, a.partition).entries()) states.set(key, fromBytes(value) as PollingTriggerState);
      this.owned.set(a.partition, { states, chain: Promise.resolve() });
    }
  }

  private async onRevoke(revoked: TopicPartition[]): Promise<void> {
    for (const r of revoked) {
      const o = this.owned.get(r.partition);
      this.owned.delete(r.partition);
      await o?.chain;
    }
  }

  private async tickPartition(p: number, o: Owned, flows: Flow[]): Promise<void> {
    if (this.owned.get(p) !== o) return;
    const now = this.clock();
    const n = this.opts.log.partitionsOf(this.opts.topics.results);
    const produce: ProduceRecord[] = [];
    const changed = new Map<string, PollingTriggerState | undefined>();
    const present = new Set<string>();
    for (const flow of flows) {
      if (flow.disabled) continue;
      const tenantId = flow.tenantId ?? "main";
      for (const trigger of flow.triggers) {
        if (!isPollingTrigger(trigger) || trigger.disabled === true) continue;
        const key = pollingTriggerKey(tenantId, flow.namespace, flow.id, trigger.id);
        if (partitionForKey(key, n) !== p) continue;
        present.add(key);
        const prev = o.states.get(key);
        const s: PollingTriggerState = prev ? structuredClone(prev) : {
          triggerKey: key, tenantId, namespace: flow.namespace, flowId: flow.id, triggerId: trigger.id,
          intervalMs: intervalOf(trigger), timeBoxMs: timeBoxOf(trigger), nextAt: now, evaluations: 0, fired: 0,
        };
        s.intervalMs = intervalOf(trigger);
        s.timeBoxMs = timeBoxOf(trigger);
        let touched = !prev;
        if (s.lock && now >= s.lock.deadline + this.graceMs) {
          const reason = `evaluation ${s.lock.evaluationId} still locked ${now - s.lock.at} ms after dispatch, past its time-box of ${s.timeBoxMs} ms`;
          this.logger.warn({ trigger: key }, `watchdog unlocked the trigger: ${reason}`);
          s.last = { evaluationId: s.lock.evaluationId, outcome: "lock-expired", at: now, error: reason };
          s.watchdog = { at: now, reason, count: (s.watchdog?.count ?? 0) + 1 };
          delete s.lock;
          s.nextAt = Math.min(s.nextAt, now);
          touched = true;
        }
        if (!s.lock && now >= s.nextAt) {
          if (now > s.nextAt + s.intervalMs) {
            s.overdue = { dueAt: s.nextAt, dispatchedAt: now, count: (s.overdue?.count ?? 0) + 1 };
            this.logger.warn({ trigger: key, lateMs: now - s.nextAt }, "polling trigger evaluation was overdue");
          }
          produce.push(this.dispatch(s, flow, trigger, now));
          touched = true;
        }
        if (touched) changed.set(key, s);
      }
    }
    for (const key of o.states.keys()) if (!present.has(key)) changed.set(key, undefined);
    if (changed.size === 0) return;
    await this.commit(p, o, produce, changed, []);
  }

  private dispatch(s: PollingTriggerState, flow: Flow, trigger: Trigger, now: number): ProduceRecord {
    s.evaluations++;
    const evaluationId = deterministicId(`polling/${s.triggerKey}/${s.evaluations}`);
    s.lock = { evaluationId, at: now, deadline: now + s.timeBoxMs };
    s.nextAt = now + s.intervalMs;
    const ev: PollingEvaluationRecord = {
      evaluationId, triggerKey: s.triggerKey, tenantId: s.tenantId, namespace: s.namespace, flowId: s.flowId,
      flowRevision: flow.revision ?? 1, trigger, timeBoxMs: s.timeBoxMs, dispatchedAt: now,
    };
    return { topic: this.opts.topics.evaluations, key: s.triggerKey, value: this.opts.codec.encode(TRIGGER_KIND.evaluation, ev) };
  }

  private async onRecords(batch: LogRecord[]): Promise<void> {
    const p = batch[0]?.partition;
    const o = p === undefined ? undefined : this.owned.get(p);
    if (p === undefined || !o) throw new LannerError("FENCED", `polling-scheduler partition ${String(p)} is not held here`, { retriable: true });
    await this.serial(o, () => this.applyResults(p, o, batch));
  }

  private async applyResults(p: number, o: Owned, batch: LogRecord[]): Promise<void> {
    const now = this.clock();
    const produce: ProduceRecord[] = [];
    const changed = new Map<string, PollingTriggerState | undefined>();
    for (const rec of batch) {
      let r: PollingResultRecord;
      try {
        const { type, value } = this.opts.codec.decode(rec.value);
        if (type !== TRIGGER_KIND.result) throw new LannerError("RECORD_MALFORMED", `a ${type} record does not belong on trigger-results`);
        r = value as PollingResultRecord;
      } catch (err) {
        this.logger.error({ partition: p, offset: String(rec.offset), err: describeError(err) }, "undecodable trigger result skipped");
        continue;
      }
      const current = changed.get(r.triggerKey) ?? o.states.get(r.triggerKey);
      if (!current?.lock || current.lock.evaluationId !== r.evaluationId) {
        this.logger.info({ trigger: r.triggerKey, evaluationId: r.evaluationId, outcome: r.outcome }, "result of an evaluation that no longer holds the trigger ignored");
        continue;
      }
      const s = structuredClone(current);
      delete s.lock;
      s.last = { evaluationId: r.evaluationId, outcome: r.outcome, at: now, ...(r.error ? { error: r.error } : {}) };
      if (r.outcome === "timed-out" || r.outcome === "failed") this.logger.warn({ trigger: r.triggerKey, evaluationId: r.evaluationId, worker: r.workerId }, `polling trigger evaluation ${r.outcome}: ${r.error ?? ""}`);
      if (r.outcome === "fired") {
        const flow = await this.opts.flows.getFlow(s.tenantId, s.namespace, s.flowId);
        const trigger = flow?.triggers.find((t) => t.id === s.triggerId);
        if (flow && trigger && !flow.disabled) {
          const executionId = deterministicId(`polling-execution/${s.triggerKey}/${r.evaluationId}`);
          const built = triggeredExecution(flow, trigger, executionId, r.variables ?? {}, now);
          if (built.ok) {
            produce.push({ topic: this.opts.topics.commands, key: executionId, value: encodeCommand(this.opts.codec, built.command) });
            s.fired++;
            s.last.executionId = executionId;
          } else {
            s.last.error = `fired but no execution was created: ${built.message}`;
            this.logger.error({ trigger: r.triggerKey }, s.last.error);
          }
        }
      }
      changed.set(r.triggerKey, s);
    }
    const last = batch[batch.length - 1];
    await this.commit(p, o, produce, changed, [{ topic: last.topic, partition: p, next: last.offset + 1n }]);
  }

  private async commit(p: number, o: Owned, produce: ProduceRecord[], changed: Map<string, PollingTriggerState | undefined>, offsets: Array<{ topic: string; partition: number; next: bigint }>): Promise<void> {
    const m = this.membership;
    if (!m) return;
    const batch: StateBatch = { store: POLLING_STORE, partition: p, puts: [], deletes: [] };
    for (const [key, s] of changed) {
      if (s) batch.puts.push([key, toBytes(s)]);
      else batch.deletes.push(key);
    }
    // owning the trigger partition means owning that results partition: fence on it when no offset does
    await m.commit({ produce, offsets, ...(offsets.length === 0 ? { fence: [{ topic: this.opts.topics.results, partition: p }] } : {}) }, batch);
    for (const [key, s] of changed) {
      if (s) o.states.set(key, s);
      else o.states.delete(key);
    }
    for (const l of this.listeners) l();
  }
}
