import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deterministicId, hash128 } from "../../../processors/executor/ids.js";

/**
 * The hash as first written (one byte at a time through an array): ids are stored in the log and
 * rebuilt by replay, so any faster form must give exactly the same ids.
 */
function referenceHash128(s: string): [number, number, number, number] {
  const TWO32 = 0x1_0000_0000;
  const fnv = (hiSeed: number, loSeed: number): [number, number] => {
    let hi = hiSeed >>> 0;
    let lo = loSeed >>> 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      for (const byte of [c & 0xff, c >>> 8]) {
        lo = (lo ^ byte) >>> 0;
        const a = lo * 0x1b3;
        const carry = Math.floor(a / TWO32);
        const newLo = a % TWO32;
        hi = (Math.imul(hi, 0x1b3) + ((lo << 8) >>> 0) + carry) >>> 0;
        lo = newLo >>> 0;
      }
    }
    let h1 = hi ^ (lo >>> 1);
    let h2 = lo ^ Math.imul(hi, 0x9e3779b1);
    h1 = Math.imul(h1 ^ (h1 >>> 16), 0x85ebca6b);
    h1 = Math.imul(h1 ^ (h1 >>> 13), 0xc2b2ae35);
    h1 = (h1 ^ (h1 >>> 16)) >>> 0;
    h2 = Math.imul(h2 ^ (h2 >>> 15), 0x2c1b3c6d);
    h2 = Math.imul(h2 ^ (h2 >>> 12), 0x297a2d39);
    h2 = (h2 ^ (h2 >>> 15) ^ h1) >>> 0;
    return [h1, h2];
  };
  const [a, b] = fnv(0xcbf29ce4, 0x84222325);
  const [c, d] = fnv(0x6c62272e, 0x07bb0142);
  return [a, b, c, d];
}

describe("deterministic ids", () => {
  it("keep the ids already written to logs", () => {
    const golden: Array<[string, string]> = [
      ["", "0BBAqfAI9QD5bXPTUvSt0e"],
      ["a", "45KERejWmlWYtEKpDjNxjJ"],
      ["exec-1/t1", "51D5HQpeDHzE7B1vlHTjhx"],
      ["5XkR0b3nTq8y2Vw1Lm4PzA/tasks/each/0", "4bK5cQJIhuMKt7EkdkFIvW"],
      ["héllo wörld ✓", "0EbzqQiJLBdJh9f3ZUWdCu"],
      ["emoji 😀 pair", "7FFtgUDbR1D1F9ScKanmlQ"],
      ["schedule/main/company.team/flow/daily/2026-01-01T00:00:00.000Z", "6SqXmRzcGHeeczDeqCUurD"],
    ];
    for (const [input, id] of golden) expect(deterministicId(input)).toBe(id);
  });

  it("hash every string as the reference form does", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (s) => {
        expect(hash128(s)).toEqual(referenceHash128(s));
      }),
      { numRuns: 500 },
    );
  });

  it("write the 128 bits in base 62 as the reference form does", () => {
    const reference = (words: number[]): string => {
      let out = "";
      for (let k = 0; k < 22; k++) {
        let rem = 0;
        for (let i = 0; i < 4; i++) {
          const cur = rem * 0x1_0000_0000 + words[i];
          words[i] = Math.floor(cur / 62);
          rem = cur % 62;
        }
        out = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[rem] + out;
      }
      return out;
    };
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 60 }), (s) => {
        expect(deterministicId(s)).toBe(reference(referenceHash128(s)));
      }),
      { numRuns: 500 },
    );
  });

  it("are 22 base62 characters", () => {
    fc.assert(fc.property(fc.string(), (s) => /^[0-9A-Za-z]{22}$/.test(deterministicId(s))));
  });
});
