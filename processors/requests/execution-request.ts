/**
 * An execution request, as a plain Kafka producer (kcat, a client in another language) publishes it on the execution-requests topic:
 *
 *   { "tenant"?: string, "namespace": string, "flowId": string, "inputs"?: {…},
 *     "labels"?: {key: value} | [{key, value}], "correlationId"?: string }
 *
 * either as JSON (UTF-8) or as Avro in the Confluent framing (magic byte 0, the writer schema's
 * registry id, the body), read through the schema registry into `EXECUTION_REQUEST_SCHEMA`. In
 * Avro, `inputs` and `labels` are maps of strings; inputs are coerced to the flow's input types
 * exactly as the API coerces form fields. Anything else is refused with the reason.
 */
import { SchemaRegistry, SchemaType } from "@kafkajs/confluent-schema-registry";
import { z } from "zod";
import { LannerError, describeError } from "../../common/errors.js";
import type { Label } from "../../schemas/flow-types.js";

/** The Avro schema of a request (registered under `<topic>-value`, compatibility BACKWARD). */
export const EXECUTION_REQUEST_SCHEMA: { type: "record"; name: string; namespace: string; doc: string; fields: Array<Record<string, unknown>> } = {
  type: "record",
  name: "ExecutionRequest",
  namespace: "io.lanner.requests",
  doc: "Asks Lanner to create one execution of a deployed flow.",
  fields: [
    { name: "tenant", type: ["null", "string"], default: null },
    { name: "namespace", type: "string" },
    { name: "flowId", type: "string" },
    { name: "inputs", type: { type: "map", values: "string" }, default: {} },
    { name: "labels", type: { type: "map", values: "string" }, default: {} },
    { name: "correlationId", type: ["null", "string"], default: null },
  ],
};

/** A decoded, well-formed request. */
export interface ExecutionRequest {
  tenant?: string;
  namespace: string;
  flowId: string;
  inputs: Record<string, unknown>;
  labels: Label[];
  correlationId?: string;
}

const LabelList = z.array(z.object({ key: z.string().min(1), value: z.union([z.string(), z.number(), z.boolean()]) }).strict());
const LabelMap = z.record(z.string().min(1), z.union([z.string(), z.number(), z.boolean()]));

const RequestSchema = z
  .object({
    tenant: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "a tenant id (lower-case letters, digits, - and _)").nullish(),
    namespace: z.string().min(1),
    flowId: z.string().min(1),
    inputs: z.record(z.string(), z.unknown()).nullish(),
    labels: z.union([LabelMap, LabelList]).nullish(),
    correlationId: z.string().min(1).max(512).nullish(),
  })
  .strict();

/** A request that cannot be turned into an execution; `reason` goes to the dead letter. */
export class InvalidRequestError extends LannerError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

function checked(value: unknown, format: "JSON" | "Avro"): ExecutionRequest {
  const parsed = RequestSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.length > 0 ? `$.${i.path.join(".")}` : "$"}: ${i.message}`).join("; ");
    throw new InvalidRequestError("REQUEST_INVALID", `The ${format} request is not an execution request: ${issues}.`);
  }
  const r = parsed.data;
  const labels: Label[] = r.labels == null ? [] : Array.isArray(r.labels)
    ? r.labels.map((l) => ({ key: l.key, value: String(l.value) }))
    : Object.entries(r.labels).map(([key, v]) => ({ key, value: String(v) }));
  return {
    ...(r.tenant != null ? { tenant: r.tenant } : {}),
    namespace: r.namespace,
    flowId: r.flowId,
    inputs: r.inputs ?? {},
    labels,
    ...(r.correlationId != null ? { correlationId: r.correlationId } : {}),
  };
}

/** Decodes request bytes (JSON, or Confluent-framed Avro when a registry is given). */
export class ExecutionRequestDecoder {
  private readonly registry: SchemaRegistry | undefined;

  /** @param registryUrl the Confluent-compatible registry's URL; without it Avro requests are refused. */
  constructor(registryUrl?: string) {
    this.registry = registryUrl === undefined ? undefined : new SchemaRegistry({ host: registryUrl.replace(/\/+$/, ""), retry: { retries: 2 } });
  }

  /**
   * Registers `EXECUTION_REQUEST_SCHEMA` under `<topic>-value` (Kafka's topic-name strategy, so
   * producers find it) and resolves with its id. Rejects with `SCHEMA_REGISTRY_FAILED` (retriable).
   */
  async registerSchema(topic: string): Promise<number> {
    if (this.registry === undefined) throw new LannerError("CONFIG_INVALID", "No schema registry is configured (schemaRegistry.url).");
    try {
      const { id } = await this.registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(EXECUTION_REQUEST_SCHEMA) }, { subject: `${topic}-value` });
      return id;
    } catch (err) {
      throw new LannerError("SCHEMA_REGISTRY_FAILED", `Registering the execution request schema under ${topic}-value failed: ${describeError(err)}`, { retriable: true, cause: err });
    }
  }

  /**
   * Decodes one record value. Rejects with `InvalidRequestError` (codes `REQUEST_UNDECODABLE`,
   * `REQUEST_INVALID`) for bytes that are not a request — never retriable — and with a retriable
   * `SCHEMA_REGISTRY_FAILED` when the registry does not answer.
   */
  async decode(bytes: Uint8Array): Promise<ExecutionRequest> {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (buf.length >= 5 && buf[0] === 0) return this.decodeAvro(buf);
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(buf);
    } catch {
      throw new InvalidRequestError("REQUEST_UNDECODABLE", "The request is neither Confluent-framed Avro (magic byte 0) nor UTF-8 JSON.");
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new InvalidRequestError("REQUEST_UNDECODABLE", `The request is not valid JSON: ${describeError(err)}.`);
    }
    return checked(value, "JSON");
  }

  private async decodeAvro(buf: Buffer): Promise<ExecutionRequest> {
    if (this.registry === undefined) {
      throw new InvalidRequestError("REQUEST_UNDECODABLE", "The request is Confluent-framed Avro, but no schema registry is configured (schemaRegistry.url).");
    }
    let value: unknown;
    try {
      value = await this.registry.decode(buf, { [SchemaType.AVRO]: { readerSchema: EXECUTION_REQUEST_SCHEMA } });
    } catch (err) {
      const text = describeError(err);
      // The registry not answering is worth a retry; a schema it does not know, or bytes that do not read, are not.
      if (/ECONNREFUSED|ETIMEDOUT|ECONNRESET|socket hang up|Network|timeout/i.test(text)) {
        throw new LannerError("SCHEMA_REGISTRY_FAILED", `The schema registry did not answer while decoding a request: ${text}`, { retriable: true, cause: err });
      }
      throw new InvalidRequestError("REQUEST_UNDECODABLE", `The Avro request does not decode through the registry as an ExecutionRequest: ${text}.`);
    }
    // avsc decodes records into class instances: keep their own fields only
    return checked(typeof value === "object" && value !== null ? { ...value } : value, "Avro");
  }
}
