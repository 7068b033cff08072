/**
 * The record codec roles share (`RecordCodec`: encode by record kind, decode to kind + value) on
 * top of the Avro envelope codec of `schemas/avro`. The record kind travels in the envelope's
 * `kind` field and the value as its payload, so decoding needs no table; the Avro record type
 * (which schema frames the bytes) is chosen per kind below.
 */
import { randomUUID } from "node:crypto";
import { LannerError } from "../../common/errors.js";
import { envelopeCodec, type EnvelopeCodec, type RecordType } from "../../schemas/avro/envelope-codec.js";
import type { RecordCodec } from "../executor/shell/records.js";

export type { RecordCodec } from "../executor/shell/records.js";

/** Avro record type of each record kind; kinds not listed travel as commands. */
const AVRO_TYPE: Record<string, RecordType> = {
  WorkerJob: "WorkerJob",
  WorkerResult: "WorkerResult",
  LogLine: "LogEntry",
  Heartbeat: "Heartbeat",
  ExecutionEvent: "ExecutionEvent",
  FlowRevision: "FlowRecord",
  // the `triggers` topic: a trigger's state (the scheduler's changelog) and the commands sent to it
  TriggerState: "TriggerRecord",
  TriggerCommand: "TriggerRecord",
};

function field(value: unknown, name: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

/** The record codec over `envelope` (this version's fixed schema ids, or a schema registry's). */
export function createRecordCodec(envelope: EnvelopeCodec): RecordCodec {
  return {
    encode(type, value) {
      const executionId = field(value, "executionId");
      const seq = field(value, "seq");
      return envelope.encode(AVRO_TYPE[type] ?? "ExecutionCommand", {
        id: randomUUID(),
        ...(typeof executionId === "string" ? { executionId } : {}),
        ...(typeof seq === "number" && Number.isSafeInteger(seq) ? { seq } : {}),
        kind: type,
        payload: value,
      });
    },
    decode(bytes) {
      const { value } = envelope.decode(bytes);
      if (value.kind === "") throw new LannerError("RECORD_UNDECODABLE", "Undecodable record: the envelope names no record kind.");
      return { type: value.kind, value: value.payload };
    },
  };
}

/** The Avro-framed record codec (Confluent wire format, schema evolution) every role can use. */
export const avroRecordCodec: RecordCodec = createRecordCodec(envelopeCodec);
