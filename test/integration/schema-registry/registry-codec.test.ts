/**
 * The registry-backed envelope codec against a real Confluent-compatible registry (Apicurio):
 * Confluent framing with the registry's ids, BACKWARD evolution (records written with an older
 * schema version decode under newer code), incompatible schemas refused, unknown ids fetched.
 */
import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { LannerError } from "../../../common/errors.js";
import { genericEnvelopeSchema, type AvroSchema } from "../../../schemas/avro/envelope-codec.js";
import { openRegistryCodec, RECORD_NAMESPACE } from "../../../schemas/avro/registry-codec.js";
import { ensureSchemaRegistry } from "../../harness/schema-registry.js";

/** The first version of a record type: no executionId, no seq. */
function v1(name: string): AvroSchema {
  return {
    type: "record", name, namespace: RECORD_NAMESPACE,
    fields: [{ name: "id", type: "string" }, { name: "kind", type: "string" }, { name: "json", type: "string" }],
  };
}

/** A version that adds a field without a default: it cannot read what v1 wrote. */
function incompatible(name: string): AvroSchema {
  return {
    type: "record", name, namespace: RECORD_NAMESPACE,
    fields: [{ name: "id", type: "string" }, { name: "kind", type: "string" }, { name: "json", type: "string" }, { name: "tenant", type: "string" }],
  };
}

let url: string;
beforeAll(async () => {
  url = await ensureSchemaRegistry();
}, 600_000);

const prefix = () => `t-${randomBytes(4).toString("hex")}.`;

describe("registry codec", () => {
  it("frames records with the id the registry gave the subject's schema", async () => {
    const subjectPrefix = prefix();
    const codec = await openRegistryCodec({ url, subjectPrefix });
    const bytes = codec.encode("ExecutionEvent", { id: "e1", executionId: "x1", seq: 3, kind: "ExecutionEvent", payload: { a: [1, "b"] } });
    const subject = codec.subject("ExecutionEvent");
    expect(subject).toBe(`${subjectPrefix}io.lanner.records.ExecutionEvent`);
    const latest = (await (await fetch(`${url}/subjects/${encodeURIComponent(subject)}/versions/latest`)).json()) as { id: number; schema: string };
    expect(bytes[0]).toBe(0);
    expect(Buffer.from(bytes).readInt32BE(1)).toBe(latest.id);
    expect(codec.schemaId("ExecutionEvent")).toBe(latest.id);
    expect(JSON.parse(latest.schema)).toEqual(genericEnvelopeSchema("ExecutionEvent"));
    const config = (await (await fetch(`${url}/config/${encodeURIComponent(subject)}`)).json()) as { compatibilityLevel: string };
    expect(config.compatibilityLevel).toBe("BACKWARD");
    expect(codec.decode(bytes)).toEqual({ type: "ExecutionEvent", value: { id: "e1", executionId: "x1", seq: 3, kind: "ExecutionEvent", payload: { a: [1, "b"] } } });
    // a second process opening the same schemas gets the same ids (registration is idempotent)
    const again = await openRegistryCodec({ url, subjectPrefix });
    expect(again.schemaId("ExecutionEvent")).toBe(latest.id);
    expect(again.decode(bytes).value.seq).toBe(3);
  });

  it("reads records written with an older schema version through the registry (evolution)", async () => {
    const subjectPrefix = prefix();
    // an older Lanner: v1 only
    const old = await openRegistryCodec({ url, subjectPrefix, versions: [["ExecutionEvent", [v1("ExecutionEvent")]]] });
    const written = old.encode("ExecutionEvent", { id: "e1", executionId: "ignored by v1", seq: 9, kind: "TaskRunStarted", payload: { n: 1 } });
    // the newer Lanner adds executionId and seq with defaults: BACKWARD-compatible, registered as version 2
    const current = await openRegistryCodec({ url, subjectPrefix, versions: [["ExecutionEvent", [v1("ExecutionEvent"), genericEnvelopeSchema("ExecutionEvent")]]] });
    expect(current.schemaId("ExecutionEvent")).not.toBe(old.schemaId("ExecutionEvent"));
    const versions = (await (await fetch(`${url}/subjects/${encodeURIComponent(current.subject("ExecutionEvent"))}/versions`)).json()) as number[];
    expect(versions).toHaveLength(2);
    // the old record: v1's fields kept, the added ones take their defaults
    expect(current.decode(written)).toEqual({ type: "ExecutionEvent", value: { id: "e1", seq: 0, kind: "TaskRunStarted", payload: { n: 1 } } });
    // the new codec writes v2 and reads it back whole
    const fresh = current.encode("ExecutionEvent", { id: "e2", executionId: "x2", seq: 4, kind: "TaskRunStarted", payload: null });
    expect(current.decode(fresh).value).toEqual({ id: "e2", executionId: "x2", seq: 4, kind: "TaskRunStarted", payload: null });
    // the old process meets an id registered after it opened: fetched from the registry, read as v1
    expect(old.decode(fresh)).toEqual({ type: "ExecutionEvent", value: { id: "e2", seq: 0, kind: "TaskRunStarted", payload: null } });
  });

  it("refuses a schema the registry finds not BACKWARD-compatible", async () => {
    const subjectPrefix = prefix();
    await openRegistryCodec({ url, subjectPrefix, versions: [["Heartbeat", [v1("Heartbeat")]]] });
    const err: unknown = await openRegistryCodec({ url, subjectPrefix, versions: [["Heartbeat", [v1("Heartbeat"), incompatible("Heartbeat")]]] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LannerError);
    expect((err as LannerError).code).toBe("SCHEMA_INCOMPATIBLE");
  });

  it("reports undecodable bytes with the reason", async () => {
    const codec = await openRegistryCodec({ url, subjectPrefix: prefix(), versions: [["Heartbeat", [v1("Heartbeat")]]] });
    const bad = Buffer.alloc(8);
    bad.writeInt32BE(2_000_000_000, 1);
    expect(() => codec.decode(bad)).toThrow(/schema id 2000000000/);
    expect(() => codec.decode(new Uint8Array([1, 0, 0, 0, 1, 0]))).toThrow(/magic byte is 1/);
    const good = codec.encode("Heartbeat", { id: "h", kind: "Heartbeat", payload: {} });
    expect(() => codec.decode(good.subarray(0, good.length - 2))).toThrow(/Heartbeat body .* is invalid/);
  });
});
