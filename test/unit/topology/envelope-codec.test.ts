import { describe, expect, it } from "vitest";
import { LannerError } from "../../../common/errors.js";
import { createEnvelopeCodec, decode, encode, genericEnvelopeSchema, RECORD_TYPES, type AvroSchema } from "../../../schemas/avro/envelope-codec.js";

describe("Avro envelope codec", () => {
  it("round-trips every record type with Confluent framing", () => {
    for (const t of RECORD_TYPES) {
      const bytes = encode(t, { id: "e1", executionId: "x1", seq: 42, kind: "Something", payload: { a: [1, "two", null], ü: true } });
      expect(bytes[0]).toBe(0);
      const out = decode(bytes);
      expect(out.type).toBe(t);
      expect(out.value).toEqual({ id: "e1", executionId: "x1", seq: 42, kind: "Something", payload: { a: [1, "two", null], ü: true } });
    }
    const noExec = decode(encode("Heartbeat", { id: "h", kind: "Beat", payload: null }));
    expect(noExec.value).toEqual({ id: "h", seq: 0, kind: "Beat", payload: null });
  });

  it("gives each record type its own schema id", () => {
    const ids = RECORD_TYPES.map((t) => Buffer.from(encode(t, { id: "i", kind: "k", payload: 1 })).readInt32BE(1));
    expect(new Set(ids).size).toBe(RECORD_TYPES.length);
  });

  it("rejects undecodable bytes with RECORD_UNDECODABLE and a reason", () => {
    const good = encode("ExecutionEvent", { id: "e", kind: "k", payload: { x: 1 } });
    const cases: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array([1, 2]), /shorter than the 5-byte frame header/],
      [Uint8Array.from([7, ...good.subarray(1)]), /magic byte is 7/],
      [Uint8Array.from([0, 0, 0, 0x7f, 0x7f, ...good.subarray(5)]), /unknown schema id/],
      [good.subarray(0, good.length - 3), /invalid|truncated/],
      [Uint8Array.from([...good, 9, 9]), /trailing bytes/],
    ];
    for (const [bytes, reason] of cases) {
      let caught: unknown;
      try {
        decode(bytes);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(LannerError);
      expect((caught as LannerError).code).toBe("RECORD_UNDECODABLE");
      expect((caught as LannerError).message).toMatch(reason);
    }
  });

  it("decodes records written by an older schema version under the newer one", () => {
    const v1 = genericEnvelopeSchema("ExecutionEvent");
    const v2: AvroSchema = {
      type: "record",
      name: "ExecutionEvent",
      namespace: "io.lanner.records",
      fields: [
        { name: "id", type: "string" },
        { name: "executionId", type: ["null", "string"], default: null },
        { name: "seq", type: "long", default: 0 },
        { name: "kind", type: "string" },
        { name: "json", type: "string" },
        { name: "tenantId", type: "string", default: "main" },
      ],
    };
    const old = createEnvelopeCodec([["ExecutionEvent", [v1]]]);
    const newer = createEnvelopeCodec([["ExecutionEvent", [v1, v2]]]);
    const written = old.encode("ExecutionEvent", { id: "e", executionId: "x", seq: 3, kind: "Created", payload: { n: 1 } });
    expect(newer.decode(written)).toEqual({ type: "ExecutionEvent", value: { id: "e", executionId: "x", seq: 3, kind: "Created", payload: { n: 1 } } });
    // New records carry the newer schema id; the old codec does not know it and says so.
    const fresh = newer.encode("ExecutionEvent", { id: "f", kind: "Created", payload: {} });
    expect(() => old.decode(fresh)).toThrow(/unknown schema id/);
  });

  it("refuses to encode an unknown record type", () => {
    expect(() => createEnvelopeCodec([]).encode("Nope", { id: "i", kind: "k", payload: 1 })).toThrow(LannerError);
  });
});
