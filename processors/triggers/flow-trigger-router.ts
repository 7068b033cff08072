/**
 * The executor's side of flow triggers: when an execution ends, which deployed flows have a Flow
 * trigger listening to it? Each such target flow gets one `flow-trigger-events` record keyed by
 * its flow key, appended in the executor's commit of the ending. The index of flows with Flow
 * triggers comes from the flow catalogue (the `flows` topic) and is rebuilt only when it changed.
 */
import { describeError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { Flow } from "../../schemas/flow-types.js";
import type { ProduceRecord } from "../../topology/log.js";
import type { EndedExecutionInfo, EndedExecutionRouter } from "../executor/shell/executor.js";
import type { FlowCatalog } from "../executor/shell/flow-resolver.js";
import type { RecordCodec } from "../executor/shell/records.js";
import { triggerListensTo, type EndedExecution } from "./flow-trigger-conditions.js";
import { activeFlowTriggers, flowKeyOf } from "./flow-triggers.js";
import { TRIGGER_KIND } from "./trigger-topics.js";

/** A `flow-trigger-events` record value: an ended execution for one target flow. */
export interface FlowTriggerEvent {
  target: { tenantId: string; namespace: string; flowId: string };
  ended: EndedExecution;
}

/** Encodes a `flow-trigger-events` record value. */
export const encodeFlowTriggerEvent = (codec: RecordCodec, e: FlowTriggerEvent): Uint8Array => codec.encode(TRIGGER_KIND.flowTriggerEvent, e);

export class FlowTriggerRouter implements EndedExecutionRouter {
  private index: { version: number; targets: Flow[]; checkedAt: number } | undefined;

  /**
   * @param refreshMs how long the index is used before the catalogue is read again (default
   *   1000): the executor calls `route` for every ending, and reading the `flows` topic's ends
   *   each time would cost a round trip per partition on Postgres. A flow deployed with a Flow
   *   trigger listens to endings from at most this long after its deploy.
   */
  constructor(
    private readonly catalog: FlowCatalog,
    private readonly codec: RecordCodec,
    private readonly topic: string,
    private readonly logger?: Logger,
    private readonly refreshMs = 1000,
  ) {}

  /** Never rejects: a catalogue that cannot be read is logged and the last known index used. */
  async route(ended: EndedExecutionInfo, now: number): Promise<ProduceRecord[]> {
    const targets = await this.targets();
    const out: ProduceRecord[] = [];
    for (const flow of targets) {
      if ((flow.tenantId ?? "main") !== ended.tenantId) continue;
      const listens = activeFlowTriggers(flow).some((t) => {
        try {
          return triggerListensTo(t, flow, ended, now);
        } catch {
          return true; // the evaluator reports why this trigger cannot be evaluated
        }
      });
      if (!listens) continue;
      const event: FlowTriggerEvent = { target: { tenantId: flow.tenantId ?? "main", namespace: flow.namespace, flowId: flow.id }, ended };
      out.push({ topic: this.topic, key: flowKeyOf(flow), value: encodeFlowTriggerEvent(this.codec, event) });
    }
    return out;
  }

  /** Flows with an active Flow trigger, from the catalogue (the last known index when it cannot be read). */
  private async targets(): Promise<Flow[]> {
    const now = Date.now();
    if (this.index && now - this.index.checkedAt < this.refreshMs) return this.index.targets;
    try {
      const { version, flows } = await this.catalog.latestFlows();
      if (this.index?.version !== version) this.index = { version, targets: flows.filter((f) => activeFlowTriggers(f).length > 0), checkedAt: now };
      else this.index.checkedAt = now;
    } catch (err) {
      // never fail the executor's unit of work (that would dead-letter the input that ended the execution)
      if (!this.index) {
        this.logger?.error({ err: describeError(err) }, "flow catalogue not readable; this ending reaches no flow trigger");
        return [];
      }
      this.logger?.warn({ err: describeError(err) }, "flow catalogue not readable; routing with the last known flow triggers");
    }
    return this.index.targets;
  }
}
