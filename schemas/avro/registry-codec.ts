/**
 * The envelope codec backed by a Confluent-compatible schema registry (Confluent Schema Registry,
 * Apicurio's ccompat API…). Same wire format as `envelope-codec.ts` — magic byte 0, a 4-byte
 * big-endian schema id, the Avro body — but the ids are the registry's, so any Kafka client with a
 * registry-aware deserializer can read Lanner's records, and schemas evolve under the registry's
 * BACKWARD compatibility check (a new schema must read everything the previous one wrote).
 *
 * Subjects follow the record-name strategy: one subject per record type,
 * `<subjectPrefix>io.lanner.records.<RecordType>`, since one record type travels on several
 * topics. Opening the codec registers the newest local schema of every record type (a no-op when
 * already registered) and learns every earlier version of each subject, so records written by an
 * older Lanner decode into the newest schema. A schema id met later that is not known yet (a newer
 * process registered it since) is fetched from the registry once, synchronously — decoding is
 * synchronous everywhere — and cached for the life of the process.
 */
import { execFileSync } from "node:child_process";
import { SchemaRegistry, SchemaType } from "@kafkajs/confluent-schema-registry";
import avro from "avsc";
import { LannerError, describeError } from "../../common/errors.js";
import { RECORD_TYPES, genericEnvelopeSchema, type AvroSchema, type Envelope, type EnvelopeCodec } from "./envelope-codec.js";

/** Namespace of every Lanner record schema; the subject of a record type is `<prefix><namespace>.<type>`. */
export const RECORD_NAMESPACE = "io.lanner.records";

export interface RegistryCodecOptions {
  /** Base URL of the Confluent-compatible API (e.g. `http://127.0.0.1:8081` or Apicurio's `…/apis/ccompat/v7`). */
  url: string;
  /** Prepended to every subject (e.g. a deployment's topic prefix); default none. */
  subjectPrefix?: string;
  /** Each record type with its schemas, oldest first; default this Lanner version's table. */
  versions?: Array<[recordType: string, schemas: AvroSchema[]]>;
  /** Timeout of one registry request (ms); default 10 s. */
  requestTimeoutMs?: number;
}

/** An envelope codec whose schema ids come from a registry. */
export interface RegistryEnvelopeCodec extends EnvelopeCodec {
  /** The subject a record type's schemas are registered under. */
  subject(recordType: string): string;
  /** The registry id of the newest schema of `recordType`, which `encode` writes; undefined for an unknown type. */
  schemaId(recordType: string): number | undefined;
}

interface Writer {
  recordType: string;
  /** Reads bytes written with this schema into the newest local schema of its record type. */
  read(buf: Buffer, offset: number): { value: unknown; offset: number };
}

interface RawEnvelope {
  id?: string;
  executionId?: string | null;
  seq?: number;
  kind?: string;
  json?: string;
}

const MAGIC = 0;

/** This Lanner version's record schemas (what `envelopeCodec` writes), for the registry. */
export function currentRecordVersions(): Array<[string, AvroSchema[]]> {
  return RECORD_TYPES.map((t) => [t, [genericEnvelopeSchema(t)]]);
}

function registryError(message: string, cause?: unknown): LannerError {
  return new LannerError("SCHEMA_REGISTRY_FAILED", message, { retriable: true, ...(cause === undefined ? {} : { cause }) });
}

async function getJson(url: string, timeoutMs: number): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" } });
  } catch (err) {
    throw registryError(`The schema registry did not answer GET ${url}: ${describeError(err)}`, err);
  }
  const text = await res.text();
  if (!res.ok) throw registryError(`The schema registry answered GET ${url} with HTTP ${res.status}: ${text.slice(0, 300)}`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw registryError(`The schema registry answered GET ${url} with a body that is not JSON`, err);
  }
}

/**
 * GETs `url` synchronously (a short-lived child process does the request): the one place a
 * registry answer is needed inside a synchronous decode. Happens once per unknown schema id.
 */
function getJsonSync(url: string, timeoutMs: number): unknown {
  const script =
    "fetch(process.argv[1],{headers:{accept:'application/json'}}).then(async r=>{const t=await r.text();" +
    "if(!r.ok){process.stderr.write('HTTP '+r.status+': '+t.slice(0,300));process.exit(1)}process.stdout.write(t)}," +
    "e=>{process.stderr.write(String(e));process.exit(1)})";
  let out: string;
  try {
    out = execFileSync(process.execPath, ["-e", script, url], { timeout: timeoutMs, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const stderr = typeof err === "object" && err !== null && "stderr" in err ? String((err as { stderr: unknown }).stderr) : "";
    throw registryError(`The schema registry did not answer GET ${url}: ${stderr || describeError(err)}`, err);
  }
  try {
    return JSON.parse(out);
  } catch (err) {
    throw registryError(`The schema registry answered GET ${url} with a body that is not JSON`, err);
  }
}

function schemaText(answer: unknown, what: string): string {
  const schema = typeof answer === "object" && answer !== null ? (answer as { schema?: unknown }).schema : undefined;
  if (typeof schema !== "string") throw registryError(`The schema registry's answer for ${what} holds no schema`);
  return schema;
}

/**
 * Opens a registry-backed codec: registers the newest schema of every record type under its
 * subject (compatibility BACKWARD on first registration; a schema the registry finds incompatible
 * rejects with `SCHEMA_INCOMPATIBLE`), learns each subject's earlier versions, and resolves with
 * a codec ready to encode and decode synchronously. Registry unreachable: `SCHEMA_REGISTRY_FAILED` (retriable).
 */
export async function openRegistryCodec(options: RegistryCodecOptions): Promise<RegistryEnvelopeCodec> {
  const base = options.url.replace(/\/+$/, "");
  const prefix = options.subjectPrefix ?? "";
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const versions = options.versions ?? currentRecordVersions();
  const registry = new SchemaRegistry({ host: base, retry: { retries: 2 } });

  const readers = new Map<string, avro.Type>();
  const newestId = new Map<string, number>();
  const writers = new Map<number, Writer>();
  const subject = (recordType: string) => `${prefix}${RECORD_NAMESPACE}.${recordType}`;

  const learn = (id: number, text: string, expectedType?: string): Writer => {
    let type: avro.Type;
    try {
      type = avro.Type.forSchema(JSON.parse(text) as AvroSchema);
    } catch (err) {
      throw new LannerError("RECORD_UNDECODABLE", `Undecodable record: the registry's schema ${id} is not a valid Avro schema: ${describeError(err)}.`, { cause: err });
    }
    const name = type.name ?? "";
    const recordType = name.startsWith(`${RECORD_NAMESPACE}.`) ? name.slice(RECORD_NAMESPACE.length + 1) : name;
    if (expectedType !== undefined && recordType !== expectedType) {
      throw registryError(`Schema ${id} of subject ${subject(expectedType)} names record ${name}, not ${expectedType}`);
    }
    const reader = readers.get(recordType);
    if (reader === undefined) {
      throw new LannerError("RECORD_UNDECODABLE", `Undecodable record: schema ${id} is for ${JSON.stringify(name)}, which this Lanner does not know.`);
    }
    let writer: Writer;
    if (type.equals(reader)) {
      writer = { recordType, read: (buf, offset) => reader.decode(buf, offset) };
    } else {
      let resolver: ReturnType<avro.Type["createResolver"]>;
      try {
        resolver = reader.createResolver(type);
      } catch (err) {
        throw new LannerError("RECORD_UNDECODABLE", `Undecodable record: schema ${id} cannot be read as this Lanner's ${recordType}: ${describeError(err)}.`, { cause: err });
      }
      writer = { recordType, read: (buf, offset) => reader.decode(buf, offset, resolver) };
    }
    writers.set(id, writer);
    return writer;
  };

  for (const [recordType, schemas] of versions) {
    if (schemas.length === 0) throw new LannerError("CONFIG_INVALID", `Record type ${recordType} has no schema.`);
    const newest = schemas[schemas.length - 1];
    readers.set(recordType, avro.Type.forSchema(newest));
    const s = subject(recordType);
    let id: number;
    try {
      ({ id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(newest) }, { subject: s }));
    } catch (err) {
      const text = describeError(err);
      // 409: the registry found the schema incompatible with the subject's earlier versions.
      if (/409|incompatib/i.test(text)) {
        throw new LannerError("SCHEMA_INCOMPATIBLE", `The ${recordType} schema is not ${"BACKWARD"}-compatible with subject ${s} in the registry: ${text}`, { cause: err });
      }
      throw registryError(`Registering the ${recordType} schema under ${s} failed: ${text}`, err);
    }
    newestId.set(recordType, id);
    // Every version the subject holds: records written by older Lanner versions carry their ids.
    const listed = await getJson(`${base}/subjects/${encodeURIComponent(s)}/versions`, timeoutMs);
    const numbers = Array.isArray(listed) ? listed.filter((v): v is number => typeof v === "number") : [];
    for (const v of numbers) {
      const answer = await getJson(`${base}/subjects/${encodeURIComponent(s)}/versions/${v}`, timeoutMs);
      const vid = typeof answer === "object" && answer !== null ? (answer as { id?: unknown }).id : undefined;
      if (typeof vid !== "number") throw registryError(`The registry's answer for ${s} version ${v} holds no id`);
      if (!writers.has(vid)) learn(vid, schemaText(answer, `${s} version ${v}`), recordType);
    }
    if (!writers.has(id)) learn(id, JSON.stringify(newest), recordType);
  }

  const writerOf = (id: number): Writer => {
    const known = writers.get(id);
    if (known !== undefined) return known;
    let answer: unknown;
    try {
      answer = getJsonSync(`${base}/schemas/ids/${id}`, timeoutMs);
    } catch (err) {
      throw new LannerError("RECORD_UNDECODABLE", `Undecodable record: schema id ${id} is unknown here and the registry did not provide it (${describeError(err)}).`, {
        retriable: true, cause: err, details: { reason: `unknown schema id ${id}` },
      });
    }
    return learn(id, schemaText(answer, `schema id ${id}`));
  };

  return {
    subject,
    schemaId: (recordType) => newestId.get(recordType),

    encode(recordType, value: Envelope) {
      const id = newestId.get(recordType);
      const type = readers.get(recordType);
      if (id === undefined || type === undefined) throw new LannerError("RECORD_UNENCODABLE", `Unknown record type ${JSON.stringify(recordType)}.`);
      let body: Buffer;
      try {
        const json = JSON.stringify(value.payload ?? null);
        body = type.toBuffer({ id: value.id, executionId: value.executionId ?? null, seq: value.seq ?? 0, kind: value.kind, json });
      } catch (err) {
        throw new LannerError("RECORD_UNENCODABLE", `Cannot encode a ${recordType} record: ${describeError(err)}`, { cause: err });
      }
      const out = Buffer.allocUnsafe(5 + body.length);
      out[0] = MAGIC;
      out.writeInt32BE(id, 1);
      body.copy(out, 5);
      return new Uint8Array(out.buffer, out.byteOffset, out.length);
    },

    decode(bytes) {
      const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (buf.length < 5) throw undecodable(`${buf.length} bytes is shorter than the 5-byte frame header`);
      if (buf[0] !== MAGIC) throw undecodable(`magic byte is ${buf[0]}, expected ${MAGIC}`);
      const id = buf.readInt32BE(1);
      const writer = writerOf(id);
      let raw: RawEnvelope;
      try {
        const { value, offset } = writer.read(buf, 5);
        if (offset !== buf.length) throw new Error(offset < 0 ? "the body is truncated" : `${buf.length - offset} trailing bytes`);
        raw = value as RawEnvelope;
      } catch (err) {
        throw undecodable(`the ${writer.recordType} body (schema id ${id}) is invalid: ${describeError(err)}`);
      }
      let payload: unknown;
      try {
        payload = JSON.parse(raw.json ?? "null");
      } catch (err) {
        throw undecodable(`the ${writer.recordType} payload is not JSON: ${describeError(err)}`);
      }
      const value: Envelope = { id: raw.id ?? "", seq: raw.seq ?? 0, kind: raw.kind ?? "", payload };
      if (typeof raw.executionId === "string") value.executionId = raw.executionId;
      return { type: writer.recordType, value };
    },
  };
}

function undecodable(reason: string): LannerError {
  return new LannerError("RECORD_UNDECODABLE", `Undecodable record: ${reason}.`, { details: { reason } });
}
