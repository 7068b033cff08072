/**
 * Avro codec for every record Lanner writes on the log: one Avro record schema per record type,
 * framed like Confluent's wire format — magic byte 0, a 4-byte big-endian schema id, then the
 * Avro binary body — so a schema registry can later hand out the ids without a format change.
 *
 * Each record type keeps the list of its schema versions; the id names the version that wrote a
 * record, and decoding resolves that writer schema into the newest one (Avro schema evolution:
 * added fields need defaults), so records written by an older Lanner decode under a newer one.
 *
 * For now the payloads are generic where the model still moves: typed envelope fields (`id`,
 * `executionId`, `seq`, `kind`) plus `json`, the payload as JSON text. A record type that
 * settles gets a typed payload schema as its next version.
 */
import avro from "avsc";
import { LannerError } from "../../common/errors.js";

/** What every envelope carries. */
export interface Envelope {
  /** Unique id of this record (event id, command id, job id…). */
  id: string;
  /** The execution it belongs to, when it belongs to one. */
  executionId?: string;
  /** Sequence number within its stream (e.g. event number within an execution); default 0. */
  seq?: number;
  /** The payload's own type (e.g. `TaskRunStarted`). */
  kind: string;
  /** JSON-serialisable payload (no bigint, no undefined inside arrays). */
  payload: unknown;
}

export const RECORD_TYPES = [
  "ExecutionEvent",
  "ExecutionCommand",
  "WorkerJob",
  "WorkerResult",
  "LogEntry",
  "Heartbeat",
  "FlowRecord",
  "TriggerRecord",
] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

export type AvroSchema = Parameters<typeof avro.Type.forSchema>[0];

/** Version 1 of every record type: the generic envelope. */
export function genericEnvelopeSchema(name: string): AvroSchema {
  return {
    type: "record",
    name,
    namespace: "io.lanner.records",
    fields: [
      { name: "id", type: "string" },
      { name: "executionId", type: ["null", "string"], default: null },
      { name: "seq", type: "long", default: 0 },
      { name: "kind", type: "string" },
      { name: "json", type: "string" },
    ],
  };
}

interface Version {
  id: number;
  recordType: string;
  type: avro.Type;
  /** The newest schema of the record type, which decoding produces. */
  reader: avro.Type;
  /** Resolves this (writer) version into the newest (reader) one; undefined when it is the newest. */
  resolver?: ReturnType<avro.Type["createResolver"]>;
}

export interface EnvelopeCodec {
  /** Encodes `value` with the newest schema of `recordType`. Throws `RECORD_UNENCODABLE` on a value the schema refuses. */
  encode(recordType: string, value: Envelope): Uint8Array;
  /** Decodes framed bytes into the newest schema of their type. Throws `RECORD_UNDECODABLE` with the reason. */
  decode(bytes: Uint8Array): { type: string; value: Envelope };
}

const MAGIC = 0;

/**
 * Builds a codec over `versions`: for each record type, its schemas oldest first. Schema ids are
 * `1000 * (index of the type in the table + 1) + version`, stable as long as types are only appended.
 */
export function createEnvelopeCodec(versions: Array<[recordType: string, schemas: AvroSchema[]]>): EnvelopeCodec {
  const byId = new Map<number, Version>();
  const newest = new Map<string, Version>();
  versions.forEach(([recordType, schemas], i) => {
    const types = schemas.map((s) => avro.Type.forSchema(s));
    const reader = types[types.length - 1];
    types.forEach((type, v) => {
      const version: Version = { id: 1000 * (i + 1) + v + 1, recordType, type, reader };
      if (type !== reader) version.resolver = reader.createResolver(type);
      byId.set(version.id, version);
      if (type === reader) newest.set(recordType, version);
    });
  });

  return {
    encode(recordType, value) {
      const v = newest.get(recordType);
      if (v === undefined) throw new LannerError("RECORD_UNENCODABLE", `Unknown record type ${JSON.stringify(recordType)}.`);
      let body: Buffer;
      try {
        const json = JSON.stringify(value.payload ?? null);
        body = v.type.toBuffer({ id: value.id, executionId: value.executionId ?? null, seq: value.seq ?? 0, kind: value.kind, json });
      } catch (err) {
        throw new LannerError("RECORD_UNENCODABLE", `Cannot encode a ${recordType} record: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      const out = Buffer.allocUnsafe(5 + body.length);
      out[0] = MAGIC;
      out.writeInt32BE(v.id, 1);
      body.copy(out, 5);
      return new Uint8Array(out.buffer, out.byteOffset, out.length);
    },

    decode(bytes) {
      const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (buf.length < 5) throw undecodable(`${buf.length} bytes is shorter than the 5-byte frame header`);
      if (buf[0] !== MAGIC) throw undecodable(`magic byte is ${buf[0]}, expected ${MAGIC}`);
      const id = buf.readInt32BE(1);
      const v = byId.get(id);
      if (v === undefined) throw undecodable(`unknown schema id ${id}`);
      let raw: { id: string; executionId: string | null; seq: number; kind: string; json: string };
      try {
        const { value, offset } = v.resolver === undefined ? v.type.decode(buf, 5) : v.reader.decode(buf, 5, v.resolver);
        if (offset !== buf.length) throw new Error(offset < 0 ? "the body is truncated" : `${buf.length - offset} trailing bytes`);
        raw = value as typeof raw;
      } catch (err) {
        throw undecodable(`the ${v.recordType} body (schema id ${id}) is invalid: ${err instanceof Error ? err.message : String(err)}`);
      }
      let payload: unknown;
      try {
        payload = JSON.parse(raw.json);
      } catch (err) {
        throw undecodable(`the ${v.recordType} payload is not JSON: ${err instanceof Error ? err.message : String(err)}`);
      }
      const value: Envelope = { id: raw.id, seq: raw.seq, kind: raw.kind, payload };
      if (raw.executionId !== null) value.executionId = raw.executionId;
      return { type: v.recordType, value };
    },
  };
}

function undecodable(reason: string): LannerError {
  return new LannerError("RECORD_UNDECODABLE", `Undecodable record: ${reason}.`, { details: { reason } });
}

/** The codec of this Lanner version. Append new versions at the end of a type's list, new types at the end of the table. */
export const envelopeCodec: EnvelopeCodec = createEnvelopeCodec(RECORD_TYPES.map((t) => [t, [genericEnvelopeSchema(t)]]));

/** Encodes with the current codec. */
export function encode(type: RecordType, value: Envelope): Uint8Array {
  return envelopeCodec.encode(type, value);
}

/** Decodes with the current codec; throws `RECORD_UNDECODABLE`. */
export function decode(bytes: Uint8Array): { type: string; value: Envelope } {
  return envelopeCodec.decode(bytes);
}
