/**
 * The read side of trigger states for the API: follows the `triggers` topic (every partition,
 * from where it stopped, before each read) and keeps the latest published state of each trigger,
 * so any webserver shows what the schedulers decided, whichever process runs them.
 */
import type { Log } from "../../topology/log.js";
import type { RecordCodec } from "../executor/shell/records.js";
import { decodeTriggerRecord, type TriggerStateRecord } from "./trigger-records.js";
import { triggerKeyString, type TriggerKey } from "./trigger-state.js";

export class TriggerStateView {
  private readonly states = new Map<string, TriggerStateRecord>();
  private positions: bigint[] = [];
  private catchingUp: Promise<void> | undefined;

  constructor(
    private readonly log: Log,
    private readonly codec: RecordCodec,
    private readonly topic = "triggers",
  ) {}

  /** The latest state of every live trigger of `tenantId` (optionally in namespace `namespace` or below, of flow `flowId`). */
  async list(tenantId: string, filter: { namespace?: string; flowId?: string } = {}): Promise<TriggerStateRecord[]> {
    await this.catchUp();
    const ns = filter.namespace;
    return [...this.states.values()]
      .filter((s) => s.tenantId === tenantId && (ns === undefined || s.namespace === ns || s.namespace.startsWith(`${ns}.`)) && (filter.flowId === undefined || s.flowId === filter.flowId))
      .sort((a, b) => `${a.namespace}/${a.flowId}/${a.triggerId}`.localeCompare(`${b.namespace}/${b.flowId}/${b.triggerId}`));
  }

  /** The latest state of one trigger, or undefined. */
  async get(key: TriggerKey): Promise<TriggerStateRecord | undefined> {
    await this.catchUp();
    return this.states.get(triggerKeyString(key));
  }

  private catchUp(): Promise<void> {
    this.catchingUp ??= this.readNew().finally(() => {
      this.catchingUp = undefined;
    });
    return this.catchingUp;
  }

  private async readNew(): Promise<void> {
    const n = this.log.partitionsOf(this.topic);
    while (this.positions.length < n) this.positions.push(0n);
    for (let p = 0; p < n; p++) {
      const end = await this.log.endOffset(this.topic, p);
      if (end <= this.positions[p]) continue;
      for await (const rec of this.log.readPartition(this.topic, p, this.positions[p])) {
        this.positions[p] = rec.offset + 1n;
        let r;
        try {
          r = decodeTriggerRecord(this.codec, rec.value);
        } catch {
          continue; // dead-lettered by the scheduler; nothing to show
        }
        if (r.kind !== "state") continue;
        const k = triggerKeyString(r.state);
        if (r.state.deleted) this.states.delete(k);
        else this.states.set(k, r.state);
      }
    }
  }
}
