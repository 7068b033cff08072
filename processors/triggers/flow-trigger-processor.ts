/**
 * The flow-trigger processor (runs beside the executor): joins group `flow-triggers` on
 * `flow-trigger-events` (keyed by target flow), evaluates each ended execution with the pure
 * `reduceFlowTriggers` against the window state of the target's Flow triggers, and in ONE commit
 * appends the `CreateExecution` commands, writes the changed window states to its store partition
 * and commits the input offset. A member that lost the partition is fenced and commits nothing;
 * the ids of created executions are deterministic, so a re-delivered ending creates nothing new.
 */
import { randomUUID } from "node:crypto";
import { Counter } from "prom-client";
import { LannerError, describeError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { Flow } from "../../schemas/flow-types.js";
import { deadLetter } from "../../topology/dead-letter.js";
import type { Log, LogRecord, Membership, ProduceRecord } from "../../topology/log.js";
import type { FlowResolver } from "../executor/shell/flow-resolver.js";
import { encodeCommand, type RecordCodec } from "../executor/shell/records.js";
import type { FlowTriggerEvent } from "./flow-trigger-router.js";
import { partitionForKey } from "../../topology/partitioner.js";
import { activeFlowTriggers, flowKeyOf, reduceFlowTriggers, stateKey, type FlowTriggersState, type TriggerWindowState } from "./flow-triggers.js";
import { TRIGGER_KIND } from "./trigger-topics.js";
import { triggeredExecution } from "./triggered-execution.js";

/** The consumer group of every flow-trigger processor instance. */
export const FLOW_TRIGGER_GROUP = "flow-triggers";
/** Store holding the window state of each (flow, trigger) pair, per partition of `flow-trigger-events`. */
export const FLOW_TRIGGER_STORE = "flow-triggers";

export interface FlowTriggerProcessorOptions {
  log: Log;
  logger: Logger;
  codec: RecordCodec;
  flows: FlowResolver;
  topics: { events: string; commands: string; deadLetters: string };
  clock?: () => number;
  memberId?: string;
}

const fired = new Counter({ name: "lanner_flow_trigger_executions_total", help: "Executions created by Flow triggers" });
const problems = new Counter({ name: "lanner_flow_trigger_problems_total", help: "Flow-trigger evaluations that could not complete (bad condition, inputs)" });

function decodeEvent(codec: RecordCodec, bytes: Uint8Array): FlowTriggerEvent {
  const { type, value } = codec.decode(bytes);
  if (type !== TRIGGER_KIND.flowTriggerEvent) throw new LannerError("RECORD_MALFORMED", `a ${type} record does not belong on flow-trigger-events`);
  const v = value as Partial<FlowTriggerEvent> | null;
  if (!v || typeof v.target?.flowId !== "string" || typeof v.target.namespace !== "string" || typeof v.ended?.id !== "string" || typeof v.ended.seq !== "number") {
    throw new LannerError("RECORD_MALFORMED", "FlowTriggerEvent: target {tenantId, namespace, flowId} and ended {id, seq, …} are required");
  }
  return v as FlowTriggerEvent;
}

const toBytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const fromBytes = (b: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(b));

export class FlowTriggerProcessor {
  private membership: Membership | undefined;
  private readonly clock: () => number;
  private readonly logger: Logger;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly opts: FlowTriggerProcessorOptions) {
    this.clock = opts.clock ?? Date.now;
    this.logger = opts.logger.child({ role: "flow-triggers" });
  }

  /** Joins the group; resolves once joined. */
  async start(): Promise<void> {
    this.membership = await this.opts.log.join(FLOW_TRIGGER_GROUP, [this.opts.topics.events], {
      onAssign: async () => undefined,
      onRevoke: async () => undefined,
      onRecords: (batch) => this.onRecords(batch),
      onError: (err, where) => this.logger[err instanceof LannerError && err.code === "FENCED" ? "debug" : "error"]({ err: describeError(err), ...where }, "flow-trigger batch not committed; it will be delivered again"),
    }, { memberId: this.opts.memberId ?? `flow-triggers-${randomUUID()}` });
  }

  /** Leaves the group. */
  async stop(): Promise<void> {
    const m = this.membership;
    this.membership = undefined;
    await m?.leave();
  }

  /** Partitions this instance evaluates. */
  ownedPartitions(): number[] {
    return (this.membership?.assignment() ?? []).map((tp) => tp.partition).sort((a, b) => a - b);
  }

  /** The stored window state of a (flow, trigger) pair (for inspection). */
  async windowState(flow: Flow, triggerId: string): Promise<TriggerWindowState | undefined> {
    const key = stateKey(flow, triggerId);
    const p = partitionForKey(flowKeyOf(flow), this.opts.log.partitionsOf(this.opts.topics.events));
    const bytes = await this.opts.log.stateStore(FLOW_TRIGGER_STORE, p).get(key);
    return bytes ? (fromBytes(bytes) as TriggerWindowState) : undefined;
  }

  /** Calls `listener` after every committed batch (tests and inspection). */
  onCommitted(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async onRecords(batch: LogRecord[]): Promise<void> {
    const m = this.membership;
    if (!m || batch.length === 0) return;
    const p = batch[0].partition;
    const store = this.opts.log.stateStore(FLOW_TRIGGER_STORE, p);
    const overlay = new Map<string, TriggerWindowState | undefined>();
    const dirty = new Set<string>();
    const produce: ProduceRecord[] = [];
    let created = 0;
    for (const rec of batch) {
      let event: FlowTriggerEvent;
      try {
        event = decodeEvent(this.opts.codec, rec.value);
      } catch (err) {
        produce.push(deadLetter(rec, `undecodable flow-trigger event: ${describeError(err)}`, this.opts.topics.deadLetters));
        continue;
      }
      const { tenantId, namespace, flowId } = event.target;
      const flow = await this.opts.flows.getFlow(tenantId, namespace, flowId);
      if (!flow) continue; // the target was deleted since the ending was routed
      const state: FlowTriggersState = {};
      for (const t of activeFlowTriggers(flow)) {
        const key = stateKey(flow, t.id);
        if (!overlay.has(key)) {
          const bytes = await store.get(key);
          overlay.set(key, bytes ? (fromBytes(bytes) as TriggerWindowState) : undefined);
        }
        const s = overlay.get(key);
        if (s) state[key] = s;
      }
      const now = this.clock();
      const r = reduceFlowTriggers(state, event.ended, [flow], now);
      for (const key of r.changed) {
        overlay.set(key, r.state[key]);
        dirty.add(key);
      }
      for (const pr of r.problems) {
        problems.inc();
        this.logger.warn({ flow: pr.flow, trigger: pr.triggerId, execution: event.ended.id }, `flow trigger not evaluated: ${pr.message}`);
      }
      for (const f of r.firings) {
        const built = triggeredExecution(f.flow, f.trigger, f.executionId, f.variables, now);
        if (!built.ok) {
          problems.inc();
          this.logger.error({ flow: `${namespace}.${flowId}`, trigger: f.trigger.id, execution: event.ended.id }, `flow trigger fired but no execution was created: ${built.message}`);
          continue;
        }
        produce.push({ topic: this.opts.topics.commands, key: f.executionId, value: encodeCommand(this.opts.codec, built.command) });
        created++;
      }
    }
    const puts: Array<[string, Uint8Array]> = [];
    const deletes: string[] = [];
    for (const key of dirty) {
      const s = overlay.get(key);
      if (s) puts.push([key, toBytes(s)]);
      else deletes.push(key);
    }
    const last = batch[batch.length - 1];
    await m.commit(
      { produce, offsets: [{ topic: last.topic, partition: p, next: last.offset + 1n }] },
      puts.length + deletes.length > 0 ? { store: FLOW_TRIGGER_STORE, partition: p, puts, deletes } : undefined,
    );
    fired.inc(created);
    for (const l of this.listeners) l();
  }
}
