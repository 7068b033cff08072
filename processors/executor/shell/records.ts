/**
 * How the executor reads and writes the records of its topics. Values go through the record
 * codec (`RecordCodec`: Avro in production, see schemas/avro); this module only names the record
 * kinds and checks the shape of what it decodes, so a malformed record becomes a dead letter
 * with a reason instead of a crash further down.
 */
import { LannerError } from "../../../common/errors.js";
import type { ConcurrencyInput } from "../concurrency.js";
import type { ExecutionEvent } from "../events.js";
import type { ExecutorCommand, ExecutorInput } from "../inputs.js";
import type { WorkerJob, WorkerResult } from "../../worker/protocol.js";

/** Encodes and decodes record values by record kind. */
export interface RecordCodec {
  /** Encodes `value` as a record of kind `type`. Throws on a value the kind's schema refuses. */
  encode(type: string, value: unknown): Uint8Array;
  /** Decodes a record value into its kind and value. Throws on bytes it cannot read. */
  decode(bytes: Uint8Array): { type: string; value: unknown };
}

/** Record kinds (the codec's type names). */
export const KIND = {
  command: "ExecutorCommand",
  workerLost: "WorkerLost",
  concurrency: "ConcurrencyCommand",
  result: "WorkerResult",
  event: "ExecutionEvent",
  job: "WorkerJob",
  cancel: "CancelJob",
  logLine: "LogLine",
  heartbeat: "Heartbeat",
  flow: "FlowRevision",
} as const;

/** A CancelJob broadcast on `worker-control`. */
export interface CancelJobRecord {
  executionId: string;
  taskRunId: string;
  attempt: number;
  workerId?: string;
}

/** A line of the `logs` topic. */
export interface LogLine {
  tenantId: string;
  namespace: string;
  flowId: string;
  executionId: string;
  taskRunId: string;
  taskId: string;
  attempt: number;
  level: "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR";
  message: string;
  timestamp: number;
  workerId: string;
}

/** A `WorkerLost` broadcast: one record per executor partition, keyed by the worker id. */
export interface WorkerLostRecord {
  workerId: string;
  /** Epoch ms at which liveness declared it lost. */
  at: number;
}

/** What an `execution-commands` record asks of the executor. */
export type CommandRecord =
  | { kind: "execution"; input: ExecutorCommand }
  | { kind: "worker-lost"; lost: WorkerLostRecord }
  | { kind: "concurrency"; input: ConcurrencyInput };

/** A record that does not hold what its topic promises. */
export class MalformedRecordError extends LannerError {
  constructor(message: string) {
    super("RECORD_MALFORMED", message);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function requireString(v: Record<string, unknown>, field: string, what: string): string {
  const s = v[field];
  if (typeof s !== "string" || s.length === 0) throw new MalformedRecordError(`${what}: field ${field} must be a non-empty string`);
  return s;
}

const COMMAND_TYPES = new Set([
  "CreateExecution", "Kill", "Restart", "Pause", "Resume", "SetLabels", "WorkerLost", "TimerFired", "SubflowEnded", "ConcurrencySlot",
]);

/** Decodes an `execution-commands` record value. Throws MalformedRecordError (or the codec's error). */
export function decodeCommand(codec: RecordCodec, bytes: Uint8Array): CommandRecord {
  const { type, value } = codec.decode(bytes);
  if (!isObject(value)) throw new MalformedRecordError(`${type} record: the value is not an object`);
  if (type === KIND.workerLost) {
    const at = value.at;
    return { kind: "worker-lost", lost: { workerId: requireString(value, "workerId", "WorkerLost"), at: typeof at === "number" ? at : 0 } };
  }
  if (type === KIND.concurrency) {
    const t = value.type;
    requireString(value, "flowKey", "concurrency command");
    requireString(value, "executionId", "concurrency command");
    if (t !== "AcquireConcurrencySlot" && t !== "ReleaseConcurrencySlot") throw new MalformedRecordError(`concurrency command of unknown type ${String(t)}`);
    if (t === "AcquireConcurrencySlot" && typeof value.limit !== "number") throw new MalformedRecordError("AcquireConcurrencySlot: limit must be a number");
    return { kind: "concurrency", input: value as unknown as ConcurrencyInput };
  }
  if (type !== KIND.command) throw new MalformedRecordError(`a ${type} record does not belong on execution-commands`);
  const t = value.type;
  if (typeof t !== "string" || !COMMAND_TYPES.has(t)) throw new MalformedRecordError(`command of unknown type ${String(t)}`);
  requireString(value, "executionId", t);
  if (t === "CreateExecution" && !isObject(value.flow)) throw new MalformedRecordError("CreateExecution: flow must be an object");
  return { kind: "execution", input: value as unknown as ExecutorCommand };
}

/** Decodes a `worker-results` record value into the executor input it is. */
export function decodeResult(codec: RecordCodec, bytes: Uint8Array): ExecutorInput {
  const { type, value } = codec.decode(bytes);
  if (type !== KIND.result) throw new MalformedRecordError(`a ${type} record does not belong on worker-results`);
  if (!isObject(value)) throw new MalformedRecordError("WorkerResult: the value is not an object");
  const executionId = requireString(value, "executionId", "WorkerResult");
  requireString(value, "taskRunId", "WorkerResult");
  if (value.kind !== "started" && value.kind !== "completed") throw new MalformedRecordError(`WorkerResult of unknown kind ${String(value.kind)}`);
  if (typeof value.attempt !== "number") throw new MalformedRecordError("WorkerResult: attempt must be a number");
  return { type: "WorkerResult", executionId, result: value as unknown as WorkerResult };
}

/** Decodes an `executions` record value (an execution event). */
export function decodeEvent(codec: RecordCodec, bytes: Uint8Array): ExecutionEvent {
  const { type, value } = codec.decode(bytes);
  if (type !== KIND.event) throw new MalformedRecordError(`a ${type} record does not belong on executions`);
  if (!isObject(value)) throw new MalformedRecordError("ExecutionEvent: the value is not an object");
  requireString(value, "executionId", "ExecutionEvent");
  requireString(value, "type", "ExecutionEvent");
  if (typeof value.seq !== "number") throw new MalformedRecordError("ExecutionEvent: seq must be a number");
  return value as unknown as ExecutionEvent;
}

export const encodeCommand = (codec: RecordCodec, cmd: ExecutorCommand): Uint8Array => codec.encode(KIND.command, cmd);
export const encodeWorkerLost = (codec: RecordCodec, r: WorkerLostRecord): Uint8Array => codec.encode(KIND.workerLost, r);
export const encodeConcurrency = (codec: RecordCodec, c: ConcurrencyInput): Uint8Array => codec.encode(KIND.concurrency, c);
export const encodeEvent = (codec: RecordCodec, e: ExecutionEvent): Uint8Array => codec.encode(KIND.event, e);
export const encodeJob = (codec: RecordCodec, j: WorkerJob): Uint8Array => codec.encode(KIND.job, j);
export const encodeResult = (codec: RecordCodec, r: WorkerResult): Uint8Array => codec.encode(KIND.result, r);
export const encodeCancel = (codec: RecordCodec, c: CancelJobRecord): Uint8Array => codec.encode(KIND.cancel, c);
export const encodeLogLine = (codec: RecordCodec, l: LogLine): Uint8Array => codec.encode(KIND.logLine, l);
