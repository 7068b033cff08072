/**
 * The worker's records: the topics it reads and writes and how their values are encoded (through
 * the shared `RecordCodec`). Decoded values are checked for the fields the worker relies on, so
 * a malformed record becomes a dead letter with a reason instead of a crash further down.
 */
import { describeError, LannerError } from "../../common/errors.js";
import { deadLetter } from "../../topology/dead-letter.js";
import type { LogRecord, ProduceRecord } from "../../topology/log.js";
import type { ExecutorCommand } from "../executor/inputs.js";
import { encodeCommand } from "../executor/shell/records.js";
import type { RecordCodec } from "./record-codec.js";
import type { CancelJob, TaskLogLine, WorkerHeartbeat, WorkerJob, WorkerResult } from "./protocol.js";

/** Record kinds (the codec's type names), as the executor names them too. */
export const WORKER_KIND = {
  job: "WorkerJob",
  result: "WorkerResult",
  cancel: "CancelJob",
  logLine: "LogLine",
  heartbeat: "Heartbeat",
} as const;

/** Topic of CancelJob broadcasts (not keyed by anything a worker owns: every worker reads all of it). */
export const WORKER_CONTROL_TOPIC = "worker-control";

export interface WorkerTopics {
  jobs: string;
  results: string;
  control: string;
  logs: string;
  heartbeats: string;
  deadLetters: string;
  /** Where tasks that control executions (Resume) send their commands. */
  commands: string;
}

/** The worker's topics under a name prefix (the topic catalogue's `prefix`). */
export function workerTopics(prefix = ""): WorkerTopics {
  return {
    jobs: `${prefix}worker-jobs`,
    results: `${prefix}worker-results`,
    control: `${prefix}${WORKER_CONTROL_TOPIC}`,
    logs: `${prefix}logs`,
    heartbeats: `${prefix}heartbeats`,
    deadLetters: `${prefix}dead-letters`,
    commands: `${prefix}execution-commands`,
  };
}

function malformed(message: string): LannerError {
  return new LannerError("RECORD_MALFORMED", message);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function str(v: Record<string, unknown>, field: string, what: string): string {
  const s = v[field];
  if (typeof s !== "string" || s === "") throw malformed(`${what}: field ${field} must be a non-empty string`);
  return s;
}

/** Checks a decoded value is a WorkerJob (the fields the worker uses). */
export function asWorkerJob(v: unknown): WorkerJob {
  if (!isObject(v)) throw malformed("WorkerJob: the value is not an object");
  for (const f of ["tenantId", "namespace", "flowId", "executionId", "taskRunId"]) str(v, f, "WorkerJob");
  if (typeof v.attempt !== "number" || !Number.isInteger(v.attempt)) throw malformed("WorkerJob: attempt must be an integer");
  if (!isObject(v.task)) throw malformed("WorkerJob: task must be an object");
  str(v.task, "id", "WorkerJob task");
  str(v.task, "type", "WorkerJob task");
  if (!isObject(v.vars)) throw malformed("WorkerJob: vars must be an object");
  if (v.workerGroup !== undefined && v.workerGroup !== null && typeof v.workerGroup !== "string") throw malformed("WorkerJob: workerGroup must be a string");
  if (v.deadline !== undefined && v.deadline !== null && typeof v.deadline !== "number") throw malformed("WorkerJob: deadline must be epoch milliseconds");
  const job = v as unknown as WorkerJob;
  // JSON payloads carry null where the model says "absent".
  if (v.workerGroup === null || v.workerGroup === "") delete job.workerGroup;
  if (v.deadline === null) delete job.deadline;
  return job;
}

/** Encodes and decodes the worker's records under one topic prefix. */
export class WorkerRecords {
  readonly topics: WorkerTopics;

  constructor(
    private readonly codec: RecordCodec,
    prefix = "",
  ) {
    this.topics = workerTopics(prefix);
  }

  /** The job in a `worker-jobs` record; throws (codec error or `RECORD_MALFORMED`) when it holds none. */
  decodeJob(rec: LogRecord): WorkerJob {
    const { type, value } = this.codec.decode(rec.value);
    if (type !== WORKER_KIND.job) throw malformed(`a ${type} record does not belong on ${rec.topic}`);
    return asWorkerJob(value);
  }

  /** The CancelJob in a `worker-control` record; undefined for other kinds; throws when unreadable. */
  decodeCancel(rec: LogRecord): CancelJob | undefined {
    const { type, value } = this.codec.decode(rec.value);
    if (type !== WORKER_KIND.cancel) return undefined;
    if (!isObject(value)) throw malformed("CancelJob: the value is not an object");
    const executionId = str(value, "executionId", "CancelJob");
    const taskRunId = str(value, "taskRunId", "CancelJob");
    if (typeof value.attempt !== "number") throw malformed("CancelJob: attempt must be a number");
    return {
      executionId,
      taskRunId,
      attempt: value.attempt,
      ...(typeof value.workerId === "string" && value.workerId !== "" ? { workerId: value.workerId } : {}),
    };
  }

  /** A `worker-results` record (keyed by execution id: it lands on the executor partition that owns it). */
  result(r: WorkerResult): ProduceRecord {
    return { topic: this.topics.results, key: r.executionId, value: this.codec.encode(WORKER_KIND.result, r) };
  }

  /** A `logs` record, keyed by execution id. */
  logLine(l: TaskLogLine): ProduceRecord {
    return { topic: this.topics.logs, key: l.executionId, value: this.codec.encode(WORKER_KIND.logLine, l) };
  }

  /** A `heartbeats` record, keyed by worker id. */
  heartbeat(h: WorkerHeartbeat): ProduceRecord {
    return { topic: this.topics.heartbeats, key: h.workerId, value: this.codec.encode(WORKER_KIND.heartbeat, h) };
  }

  /** An `execution-commands` record, keyed by execution id like the API's commands (same encoder). */
  command(c: ExecutorCommand): ProduceRecord {
    return { topic: this.topics.commands, key: c.executionId, value: encodeCommand(this.codec, c) };
  }

  /** The dead-letter copy of a record the worker could not use. */
  deadLetter(rec: LogRecord, err: unknown): ProduceRecord {
    return deadLetter(rec, describeError(err), this.topics.deadLetters);
  }
}
