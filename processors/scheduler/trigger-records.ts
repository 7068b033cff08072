/**
 * Records of the `triggers` topic, keyed like the flow they belong to (`tenant/namespace/flowId`,
 * so they land on the partition of the flow's revisions on `flows`):
 * - `TriggerState`: a trigger's state after a change (the scheduler's changelog; what the API
 *   and the indexer read). `deleted: true` when the trigger or its flow is gone.
 * - `TriggerCommand`: a change asked through the API (enable, disable, backfill start / pause /
 *   unpause / delete), applied by the scheduler that owns the partition.
 */
import { LannerError } from "../../common/errors.js";
import type { ProduceRecord } from "../../topology/log.js";
import type { RecordCodec } from "../executor/shell/records.js";
import type { TriggerCommand } from "./schedule-core.js";
import { flowLogKey, type TriggerKey, type TriggerState } from "./trigger-state.js";

export const TRIGGER_KIND = { state: "TriggerState", command: "TriggerCommand" } as const;

export interface TriggerStateRecord extends TriggerState {
  deleted?: boolean;
}

export interface TriggerCommandRecord {
  key: TriggerKey;
  command: TriggerCommand;
  /** When it was asked (epoch ms). */
  at: number;
}

export type TriggerRecord = { kind: "state"; state: TriggerStateRecord } | { kind: "command"; command: TriggerCommandRecord };

const COMMANDS = new Set(["Enable", "Disable", "BackfillStart", "BackfillPause", "BackfillUnpause", "BackfillDelete"]);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function isKey(v: unknown): v is TriggerKey {
  return isObject(v) && ["tenantId", "namespace", "flowId", "triggerId"].every((f) => typeof v[f] === "string");
}

/** Decodes a `triggers` record; throws LannerError `RECORD_MALFORMED` (or the codec's error). */
export function decodeTriggerRecord(codec: RecordCodec, bytes: Uint8Array): TriggerRecord {
  const { type, value } = codec.decode(bytes);
  if (type === TRIGGER_KIND.state) {
    if (!isKey(value)) throw new LannerError("RECORD_MALFORMED", "TriggerState record: tenantId, namespace, flowId and triggerId must be strings");
    return { kind: "state", state: value as unknown as TriggerStateRecord };
  }
  if (type === TRIGGER_KIND.command) {
    if (!isObject(value) || !isKey(value.key)) throw new LannerError("RECORD_MALFORMED", "TriggerCommand record: key must name a trigger");
    const cmd = value.command;
    if (!isObject(cmd) || typeof cmd.type !== "string" || !COMMANDS.has(cmd.type)) {
      throw new LannerError("RECORD_MALFORMED", `TriggerCommand record: unknown command ${JSON.stringify(isObject(cmd) ? cmd.type : cmd)}`);
    }
    if (cmd.type === "BackfillStart" && (typeof cmd.start !== "number" || typeof cmd.end !== "number")) {
      throw new LannerError("RECORD_MALFORMED", "TriggerCommand record: a BackfillStart needs numeric start and end");
    }
    return { kind: "command", command: { key: value.key, command: cmd as unknown as TriggerCommand, at: typeof value.at === "number" ? value.at : 0 } };
  }
  throw new LannerError("RECORD_MALFORMED", `a ${type} record does not belong on triggers`);
}

/** The record that publishes a trigger's state. */
export function triggerStateRecord(codec: RecordCodec, topic: string, state: TriggerStateRecord): ProduceRecord {
  return { topic, key: flowLogKey(state), value: codec.encode(TRIGGER_KIND.state, state) };
}

/** The record that asks the owning scheduler for a change. */
export function triggerCommandRecord(codec: RecordCodec, topic: string, c: TriggerCommandRecord): ProduceRecord {
  return { topic, key: flowLogKey(c.key), value: codec.encode(TRIGGER_KIND.command, c) };
}
