import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { murmur2, partitionForKey, toPositive } from "../../../topology/partitioner.js";

// Produced by Kafka's Java client Utils.murmur2 (the vectors kafkajs's Java-compatible partitioner is tested with).
const JAVA_VECTORS: Record<string, number> = {
  "0": 971027396,
  "1": -1993445489,
  "128": -326012175,
  "2187": -1508407203,
  "16384": -325739742,
  "78125": -1654490814,
  "279936": 1462227128,
  "823543": -2014198330,
  "2097152": 607668903,
  "4782969": -1182699775,
  "10000000": -1830336757,
  "19487171": -1603849305,
  "35831808": -857013643,
  "62748517": -1167431028,
  "105413504": -381294639,
  "170859375": -1658323481,
  "100:48069": 1009543857,
};

describe("murmur2 partitioner", () => {
  it("matches Kafka's Java murmur2 on known vectors (all tail lengths)", () => {
    for (const [key, hash] of Object.entries(JAVA_VECTORS)) {
      expect(murmur2(new TextEncoder().encode(key)), key).toBe(hash);
    }
  });

  it("places keys like Kafka's default partitioner", () => {
    for (const [key, hash] of Object.entries(JAVA_VECTORS)) {
      for (const n of [1, 3, 8, 12, 64]) expect(partitionForKey(key, n)).toBe((hash & 0x7fffffff) % n);
    }
  });

  it("toPositive clears the sign bit (unlike Math.abs on the minimum int)", () => {
    expect(toPositive(-2147483648)).toBe(0);
    expect(toPositive(-1)).toBe(0x7fffffff);
    expect(toPositive(5)).toBe(5);
  });

  it("hashes the UTF-8 bytes of the key and stays in range", () => {
    expect(partitionForKey("é", 16)).toBe(toPositive(murmur2(Uint8Array.from([0xc3, 0xa9]))) % 16);
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 1000 }), (key, n) => {
        const p = partitionForKey(key, n);
        return Number.isInteger(p) && p >= 0 && p < n && p === partitionForKey(key, n);
      }),
    );
  });
});
