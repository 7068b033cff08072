/**
 * The execution-requests processor: lets any Kafka producer (or anything that appends to the log)
 * start flows. It joins group `execution-requests` on the requests topic (default
 * `<prefix>execution-requests`), and for each record decodes the request (JSON or Avro through the
 * registry, see execution-request.ts), finds the deployed flow, coerces the inputs exactly as the
 * API does, and appends one `CreateExecution` command — in the same commit as the input offset.
 *
 * Exactly one execution per request: the execution id derives from the request's correlation id
 * (scoped to tenant/namespace/flow) or, without one, from the record's topic/partition/offset, and
 * the executor treats a `CreateExecution` of an id that exists as a no-op — so a redelivered record
 * or a producer's retry creates nothing new. A request that cannot become an execution (bytes that
 * do not decode, an unknown or disabled flow, inputs that do not fit) goes to the dead-letter topic
 * with the reason and a code in its headers, in that same commit: the consumer never stops on one.
 *
 * It needs only the Log, so it runs on every backend; the runtime starts it beside the executor.
 */
import { randomUUID } from "node:crypto";
import { Counter } from "prom-client";
import { LannerError, describeError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { renderTyped } from "../../expressions/index.js";
import { coerceInputs } from "../../schemas/inputs.js";
import { deadLetter } from "../../topology/dead-letter.js";
import type { Log, LogRecord, Membership, ProduceRecord, TopicSpec } from "../../topology/log.js";
import { deterministicId } from "../executor/ids.js";
import type { CreateExecutionCommand } from "../executor/inputs.js";
import type { FlowResolver } from "../executor/shell/flow-resolver.js";
import { encodeCommand, type RecordCodec } from "../executor/shell/records.js";
import { ExecutionRequestDecoder, InvalidRequestError, type ExecutionRequest } from "./execution-request.js";

/** The consumer group of every instance. */
export const EXECUTION_REQUESTS_GROUP = "execution-requests";
/** Logical name of the topic (the runtime prepends its topic prefix). */
export const EXECUTION_REQUESTS_TOPIC = "execution-requests";
/** Dead-letter header holding the stable code of why a request was refused. */
export const REQUEST_REJECTION_CODE_HEADER = "lanner.dlq.code";
/** Header a producer may set to name the tenant when the request body does not. */
export const REQUEST_TENANT_HEADER = "lanner.tenant";

/** The topic spec of the requests topic: consumed work, kept for `retentionMs`. */
export function executionRequestsTopicSpec(name: string, partitions: number, retentionMs: number): TopicSpec {
  return { name, partitions, retentionMs };
}

export interface ExecutionRequestsProcessorOptions {
  log: Log;
  logger: Logger;
  codec: RecordCodec;
  flows: FlowResolver;
  topics: { requests: string; commands: string; deadLetters: string };
  /** The tenant of requests that name none; default `main`. */
  defaultTenant?: string;
  /** Confluent-compatible registry URL: Avro requests are read through it, and the request schema is registered at start. */
  schemaRegistryUrl?: string;
  clock?: () => number;
  memberId?: string;
}

const created = new Counter({ name: "lanner_execution_requests_total", help: "Execution requests turned into executions" });
const refused = new Counter({ name: "lanner_execution_requests_refused_total", help: "Execution requests sent to the dead-letter topic", labelNames: ["code"] });

/** The id of the execution a request creates (stable across redeliveries and producer retries). */
export function requestExecutionId(req: ExecutionRequest, tenantId: string, record: Pick<LogRecord, "topic" | "partition" | "offset">): string {
  return req.correlationId !== undefined
    ? deterministicId(`request/${tenantId}/${req.namespace}/${req.flowId}/${req.correlationId}`)
    : deterministicId(`request/${record.topic}/${record.partition}/${record.offset}`);
}

export class ExecutionRequestsProcessor {
  private membership: Membership | undefined;
  private readonly decoder: ExecutionRequestDecoder;
  private readonly clock: () => number;
  private readonly logger: Logger;
  private readonly listeners = new Set<(r: { created: string[]; refused: number }) => void>();

  constructor(private readonly opts: ExecutionRequestsProcessorOptions) {
    this.decoder = new ExecutionRequestDecoder(opts.schemaRegistryUrl);
    this.clock = opts.clock ?? Date.now;
    this.logger = opts.logger.child({ role: "execution-requests" });
  }

  /** Registers the request schema (when a registry is configured) and joins the group; resolves once joined. */
  async start(): Promise<void> {
    if (this.opts.schemaRegistryUrl !== undefined) await this.decoder.registerSchema(this.opts.topics.requests);
    this.membership = await this.opts.log.join(EXECUTION_REQUESTS_GROUP, [this.opts.topics.requests], {
      onAssign: async () => undefined,
      onRevoke: async () => undefined,
      onRecords: (batch) => this.onRecords(batch),
      onError: (err, where) =>
        this.logger[err instanceof LannerError && err.code === "FENCED" ? "debug" : "error"]({ err: describeError(err), ...where }, "execution requests not committed; they will be delivered again"),
    }, { memberId: this.opts.memberId ?? `execution-requests-${randomUUID()}` });
  }

  /** Leaves the group. */
  async stop(): Promise<void> {
    const m = this.membership;
    this.membership = undefined;
    await m?.leave();
  }

  /** Calls `listener` after every committed batch with the execution ids it created (tests, inspection). */
  onCommitted(listener: (r: { created: string[]; refused: number }) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async onRecords(batch: LogRecord[]): Promise<void> {
    const m = this.membership;
    if (!m || batch.length === 0) return;
    const produce: ProduceRecord[] = [];
    const ids: string[] = [];
    let rejected = 0;
    for (const rec of batch) {
      const outcome = await this.handle(rec);
      if (outcome.ok) {
        produce.push({ topic: this.opts.topics.commands, key: outcome.command.executionId, value: encodeCommand(this.opts.codec, outcome.command) });
        ids.push(outcome.command.executionId);
      } else {
        const dl = deadLetter(rec, outcome.reason, this.opts.topics.deadLetters);
        dl.headers = { ...dl.headers, [REQUEST_REJECTION_CODE_HEADER]: outcome.code };
        produce.push(dl);
        rejected++;
        refused.inc({ code: outcome.code });
        this.logger.warn({ code: outcome.code, topic: rec.topic, partition: rec.partition, offset: rec.offset.toString() }, `execution request refused: ${outcome.reason}`);
      }
    }
    const last = batch[batch.length - 1];
    await m.commit({ produce, offsets: [{ topic: last.topic, partition: last.partition, next: last.offset + 1n }] });
    created.inc(ids.length);
    for (const l of this.listeners) l({ created: ids, refused: rejected });
  }

  /**
   * One record → the command, or the reason it is refused. Throws only what a retry may cure
   * (the registry or the flows topic not answering): the batch is then delivered again.
   */
  private async handle(rec: LogRecord): Promise<{ ok: true; command: CreateExecutionCommand } | { ok: false; code: string; reason: string }> {
    let req: ExecutionRequest;
    try {
      req = await this.decoder.decode(rec.value);
    } catch (err) {
      if (err instanceof InvalidRequestError) return { ok: false, code: err.code, reason: err.message };
      throw err;
    }
    const tenantId = req.tenant ?? rec.headers[REQUEST_TENANT_HEADER] ?? this.opts.defaultTenant ?? "main";
    const flow = await this.opts.flows.getFlow(tenantId, req.namespace, req.flowId);
    if (flow === undefined) {
      return { ok: false, code: "FLOW_NOT_FOUND", reason: `flow ${req.namespace}.${req.flowId} is not deployed in tenant ${tenantId}` };
    }
    if (flow.disabled) return { ok: false, code: "FLOW_DISABLED", reason: `flow ${req.namespace}.${req.flowId} is disabled` };
    const executionId = requestExecutionId(req, tenantId, rec);
    const now = this.clock();
    const vars = { flow: { id: flow.id, namespace: flow.namespace, revision: flow.revision ?? 1, tenantId }, execution: { id: executionId } };
    let coerced: ReturnType<typeof coerceInputs>;
    try {
      coerced = coerceInputs(flow, req.inputs, { now, render: (template, at) => renderTyped(template, vars, { services: { now: () => at ?? now } }) });
    } catch (err) {
      return { ok: false, code: "INPUTS_INVALID", reason: `an input default could not be rendered: ${describeError(err)}` };
    }
    if (!coerced.ok) return { ok: false, code: "INPUTS_INVALID", reason: `invalid inputs: ${coerced.errors.map((e) => e.message).join("; ")}` };
    const trigger: Record<string, unknown> = {
      type: "io.lanner.ExecutionRequest", topic: rec.topic, partition: rec.partition, offset: Number(rec.offset), key: rec.key,
      ...(req.correlationId !== undefined ? { correlationId: req.correlationId } : {}),
    };
    return {
      ok: true,
      command: { type: "CreateExecution", executionId, flow: { ...flow, tenantId }, inputs: coerced.inputs, labels: req.labels, trigger },
    };
  }
}
