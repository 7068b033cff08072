/**
 * A `RecordCodec` over the Avro envelope codec for tests: the record kind travels as the
 * envelope's `kind`, the value as its payload (what the runtime's codec does too).
 */
import { randomUUID } from "node:crypto";
import type { RecordCodec } from "../../../processors/executor/shell/records.js";
import { decode, encode, type RecordType } from "../../../schemas/avro/envelope-codec.js";

const ENVELOPE_TYPE: Record<string, RecordType> = {
  ExecutorCommand: "ExecutionCommand",
  WorkerLost: "ExecutionCommand",
  ConcurrencyCommand: "ExecutionCommand",
  ExecutionEvent: "ExecutionEvent",
  WorkerJob: "WorkerJob",
  CancelJob: "WorkerJob",
  WorkerResult: "WorkerResult",
  LogLine: "LogEntry",
  Heartbeat: "Heartbeat",
  FlowRevision: "FlowRecord",
};

export const testCodec: RecordCodec = {
  encode(type, value) {
    const recordType = ENVELOPE_TYPE[type];
    if (recordType === undefined) throw new Error(`no envelope type for ${type}`);
    const executionId = typeof value === "object" && value !== null && "executionId" in value && typeof value.executionId === "string" ? value.executionId : undefined;
    return encode(recordType, { id: randomUUID(), executionId, kind: type, payload: value });
  },
  decode(bytes) {
    const { value } = decode(bytes);
    return { type: value.kind, value: value.payload };
  },
};
