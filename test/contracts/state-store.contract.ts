/** The StateStore contract: memory, classic-level (embedded) and Postgres stores must pass it. */
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { LannerError } from "../../common/errors.js";
import type { StateStore } from "../../stores/state-store.js";

export interface StateStoreFactory {
  /** A fresh, empty store with the given name and partition. */
  create(name: string, partition: number): Promise<StateStore>;
  cleanup?(): Promise<void>;
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
const uniq = () => `s${randomUUID().slice(0, 8)}`;

async function all(store: StateStore): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for await (const [k, v] of store.entries()) out.push([k, dec(v) ?? ""]);
  return out;
}

export function stateStoreContract(name: string, factory: StateStoreFactory): void {
  describe(`StateStore contract: ${name}`, () => {
    afterAll(async () => {
      await factory.cleanup?.();
    });

    it("starts empty with no checkpoint", async () => {
      const s = await factory.create(uniq(), 0);
      expect(await s.get("a")).toBeUndefined();
      expect(await s.checkpoint()).toBeUndefined();
      expect(await all(s)).toEqual([]);
    });

    it("applies puts and deletes with the offset they reflect", async () => {
      const s = await factory.create(uniq(), 2);
      await s.write({ store: s.name, partition: 2, puts: [["a", enc("1")], ["b", enc("2")], ["c", enc("3")]], deletes: [], offset: 10n });
      expect(dec(await s.get("b"))).toBe("2");
      expect(await s.checkpoint()).toBe(10n);
      await s.write({ store: s.name, partition: 2, puts: [["b", enc("22")], ["d", enc("4")]], deletes: ["a", "absent"], offset: 12n });
      expect(await s.get("a")).toBeUndefined();
      expect(dec(await s.get("b"))).toBe("22");
      expect(await s.checkpoint()).toBe(12n);
      // No offset: the checkpoint stays.
      await s.write({ store: s.name, partition: 2, puts: [["e", enc("5")]], deletes: [] });
      expect(await s.checkpoint()).toBe(12n);
      expect(await all(s)).toEqual([["b", "22"], ["c", "3"], ["d", "4"], ["e", "5"]]);
    });

    it("lets a delete win over a put of the same key in one batch", async () => {
      const s = await factory.create(uniq(), 0);
      await s.write({ store: s.name, partition: 0, puts: [["k", enc("v")]], deletes: [], offset: 1n });
      await s.write({ store: s.name, partition: 0, puts: [["k", enc("w")]], deletes: ["k"], offset: 2n });
      expect(await s.get("k")).toBeUndefined();
    });

    it("keeps partitions and stores apart", async () => {
      const n = uniq();
      const p0 = await factory.create(n, 0);
      const p1 = await factory.create(n, 1);
      const other = await factory.create(`${n}x`, 0);
      await p0.write({ store: n, partition: 0, puts: [["k", enc("zero")]], deletes: [], offset: 1n });
      await p1.write({ store: n, partition: 1, puts: [["k", enc("one")]], deletes: [], offset: 5n });
      expect(dec(await p0.get("k"))).toBe("zero");
      expect(dec(await p1.get("k"))).toBe("one");
      expect(await other.get("k")).toBeUndefined();
      expect(await all(p0)).toEqual([["k", "zero"]]);
      expect(await p1.checkpoint()).toBe(5n);
      await expect(p0.write({ store: n, partition: 1, puts: [], deletes: [] })).rejects.toMatchObject({ code: "STATE_STORE_MISMATCH" });
    });

    it("lists entries in UTF-8 byte order of the keys, across many entries", async () => {
      const s = await factory.create(uniq(), 0);
      const keys = ["b", "a", "é", "Z", "a/b", "a0", "日本", "~"];
      for (let i = 0; i < 1200; i++) keys.push(`bulk-${String(i).padStart(5, "0")}`);
      await s.write({ store: s.name, partition: 0, puts: keys.map((k) => [k, enc(k)]), deletes: [], offset: 1n });
      const listed = (await all(s)).map(([k]) => k);
      const expected = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      expect(listed).toEqual(expected);
    });

    it("round-trips arbitrary bytes", async () => {
      const s = await factory.create(uniq(), 0);
      const bytes = Uint8Array.from([0, 1, 255, 128, 0]);
      await s.write({ store: s.name, partition: 0, puts: [["bin", bytes]], deletes: [] });
      expect(Array.from((await s.get("bin")) ?? [])).toEqual([0, 1, 255, 128, 0]);
    });

    it("clear removes every entry and the checkpoint", async () => {
      const s = await factory.create(uniq(), 0);
      await s.write({ store: s.name, partition: 0, puts: [["a", enc("1")], ["b", enc("2")]], deletes: [], offset: 3n });
      await s.clear();
      expect(await all(s)).toEqual([]);
      expect(await s.checkpoint()).toBeUndefined();
      await s.write({ store: s.name, partition: 0, puts: [["c", enc("3")]], deletes: [], offset: 4n });
      expect(await all(s)).toEqual([["c", "3"]]);
    });

    it("refuses store names the layout cannot hold", async () => {
      await expect(factory.create("bad/name", 0)).rejects.toBeInstanceOf(LannerError);
    });
  });
}
