import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { LannerError } from "../../../common/errors.js";
import { StorageKvStore, toKvValue, type KvStore } from "../../../storage/kv-store.js";
import { LocalStorage } from "../../../storage/local-storage.js";
import { MemoryStorage } from "../../../storage/memory-storage.js";
import type { Storage } from "../../../storage/storage.js";

const T0 = Date.parse("2026-01-10T12:00:00.000Z");
const ns = { tenantId: "main", namespace: "company.team" };

async function code(p: Promise<unknown>): Promise<string> {
  const err: unknown = await p.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof LannerError)) throw new Error(`expected a LannerError, got ${String(err)}`);
  return err.code;
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const backends: Array<[string, () => Promise<Storage>]> = [
  ["memory storage", async () => new MemoryStorage()],
  [
    "local storage",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "lanner-kv-"));
      dirs.push(dir);
      return new LocalStorage(dir);
    },
  ],
];

describe.each(backends)("KV store on %s", (_name, open) => {
  let now = T0;
  let storage: Storage;
  let kv: KvStore;
  beforeEach(async () => {
    now = T0;
    storage = await open();
    kv = new StorageKvStore(storage, () => now);
  });

  it("stores a typed value with its dates and reads it back", async () => {
    const put = await kv.put(ns, "my_key", { type: "JSON", value: { a: [1, 2] } }, { description: "some json" });
    expect(put).toEqual({
      key: "my_key", type: "JSON", value: { a: [1, 2] }, description: "some json",
      creationDate: "2026-01-10T12:00:00.000Z", updateDate: "2026-01-10T12:00:00.000Z",
    });
    expect(await kv.get(ns, "my_key")).toEqual(put);
    // One file per key under the namespace's _kv folder, beside (not inside) any execution's files.
    expect(await storage.list("main")).toEqual(["lanner:///main/company/team/_kv/my_key.json"]);
  });

  it("keeps the creation date on overwrite and refuses to overwrite when told not to", async () => {
    await kv.put(ns, "k", { type: "STRING", value: "one" });
    now += 60_000;
    const second = await kv.put(ns, "k", { type: "NUMBER", value: 2 });
    expect(second.creationDate).toBe("2026-01-10T12:00:00.000Z");
    expect(second.updateDate).toBe("2026-01-10T12:01:00.000Z");
    expect(await code(kv.put(ns, "k", { type: "STRING", value: "three" }, { overwrite: false }))).toBe("KV_KEY_EXISTS");
    expect((await kv.get(ns, "k"))?.value).toBe(2);
    await kv.put(ns, "fresh", { type: "BOOLEAN", value: true }, { overwrite: false });
    expect((await kv.get(ns, "fresh"))?.value).toBe(true);
  });

  it("reads an expired key as missing, lists it no more, and lets overwrite=false replace it", async () => {
    const e = await kv.put(ns, "short", { type: "STRING", value: "v" }, { ttl: "PT1M" });
    expect(e.expirationDate).toBe("2026-01-10T12:01:00.000Z");
    now += 59_999;
    expect((await kv.get(ns, "short"))?.value).toBe("v");
    now += 1;
    expect(await kv.get(ns, "short")).toBeUndefined();
    expect(await kv.list(ns)).toEqual([]);
    const again = await kv.put(ns, "short", { type: "STRING", value: "w" }, { overwrite: false });
    expect(again.creationDate).toBe("2026-01-10T12:01:00.000Z");
    expect(await code(kv.put(ns, "other", { type: "STRING", value: "x" }, { ttl: "1 hour" }))).toBe("DURATION_INVALID");
  });

  it("deletes: true for a live key, false for a missing or expired one", async () => {
    await kv.put(ns, "a", { type: "STRING", value: "1" });
    await kv.put(ns, "b", { type: "STRING", value: "2" }, { ttl: "PT1S" });
    expect(await kv.delete(ns, "a")).toBe(true);
    expect(await kv.delete(ns, "a")).toBe(false);
    expect(await kv.get(ns, "a")).toBeUndefined();
    now += 1_000;
    expect(await kv.delete(ns, "b")).toBe(false);
    expect(await storage.list("main")).toEqual([]);
  });

  it("lists the namespace's own keys, by prefix, sorted, without values", async () => {
    await kv.put(ns, "zeta", { type: "STRING", value: "z" });
    await kv.put(ns, "app.one", { type: "NUMBER", value: 1 }, { description: "first" });
    await kv.put(ns, "app.two", { type: "NUMBER", value: 2 });
    await kv.put({ tenantId: "main", namespace: "company" }, "app.parent", { type: "NUMBER", value: 0 });
    await kv.put({ tenantId: "main", namespace: "company.team._kv" }, "app.nested", { type: "NUMBER", value: 0 });
    await kv.put({ tenantId: "other", namespace: "company.team" }, "app.other", { type: "NUMBER", value: 0 });
    expect((await kv.list(ns)).map((m) => m.key)).toEqual(["app.one", "app.two", "zeta"]);
    expect(await kv.list(ns, "app.")).toEqual([
      { key: "app.one", description: "first", creationDate: "2026-01-10T12:00:00.000Z", updateDate: "2026-01-10T12:00:00.000Z" },
      { key: "app.two", creationDate: "2026-01-10T12:00:00.000Z", updateDate: "2026-01-10T12:00:00.000Z" },
    ]);
    expect(await kv.list({ tenantId: "main", namespace: "nothing.here" })).toEqual([]);
  });

  it("keeps tenants and namespaces apart", async () => {
    await kv.put(ns, "k", { type: "STRING", value: "main" });
    await kv.put({ tenantId: "acme", namespace: "company.team" }, "k", { type: "STRING", value: "acme" });
    expect((await kv.get({ tenantId: "acme", namespace: "company.team" }, "k"))?.value).toBe("acme");
    expect((await kv.get(ns, "k"))?.value).toBe("main");
    expect(await kv.get({ tenantId: "main", namespace: "company" }, "k")).toBeUndefined();
  });

  it("refuses invalid keys, namespaces and mistyped values with clear codes", async () => {
    for (const bad of ["", "_x", ".hidden", "a/b", "..", "a b", "é", "x".repeat(201)]) {
      expect(await code(kv.put(ns, bad, { type: "STRING", value: "v" }))).toBe("KV_KEY_INVALID");
      expect(await code(kv.get(ns, bad))).toBe("KV_KEY_INVALID");
    }
    expect(await kv.get(ns, "x".repeat(200))).toBeUndefined();
    for (const bad of ["", "Company", "a..b", "a.", "../etc", "a/b"]) {
      expect(await code(kv.get({ tenantId: "main", namespace: bad }, "k"))).toBe("KV_NAMESPACE_INVALID");
    }
    expect(await code(kv.put(ns, "k", { type: "NUMBER", value: "12" }))).toBe("KV_VALUE_INVALID");
    expect(await code(kv.put(ns, "k", { type: "DATE", value: "2024-02-30" }))).toBe("KV_VALUE_INVALID");
    expect(await code(kv.put(ns, "k", { type: "NOPE" as "STRING", value: "x" }))).toBe("KV_VALUE_INVALID");
    expect(await storage.list("main")).toEqual([]);
  });
});

describe("toKvValue", () => {
  it("converts strings to the requested type as Kestra's Set does", () => {
    expect(toKvValue("42.5", "NUMBER")).toEqual({ type: "NUMBER", value: 42.5 });
    expect(toKvValue("TRUE", "BOOLEAN")).toEqual({ type: "BOOLEAN", value: true });
    expect(toKvValue("yes", "BOOLEAN")).toEqual({ type: "BOOLEAN", value: false });
    expect(toKvValue("2024-05-01T12:00:00+02:00", "DATETIME")).toEqual({ type: "DATETIME", value: "2024-05-01T10:00:00.000Z" });
    expect(toKvValue("2024-05-01", "DATE")).toEqual({ type: "DATE", value: "2024-05-01" });
    expect(toKvValue("2024-05-01T23:30:00Z", "DATE")).toEqual({ type: "DATE", value: "2024-05-01" });
    expect(toKvValue("pt5m", "DURATION")).toEqual({ type: "DURATION", value: "PT5M" });
    expect(toKvValue('{"a": [1]}', "JSON")).toEqual({ type: "JSON", value: { a: [1] } });
    expect(toKvValue("12", "STRING")).toEqual({ type: "STRING", value: "12" });
  });

  it("infers the type of values that are not strings, and of strings without a type", () => {
    expect(toKvValue("hello")).toEqual({ type: "STRING", value: "hello" });
    expect(toKvValue(3)).toEqual({ type: "NUMBER", value: 3 });
    expect(toKvValue(false, "STRING")).toEqual({ type: "BOOLEAN", value: false });
    expect(toKvValue([1, "a"])).toEqual({ type: "JSON", value: [1, "a"] });
    expect(toKvValue(null)).toEqual({ type: "JSON", value: null });
  });

  it("says why a string does not read as its type", () => {
    const message = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as LannerError).code + ": " + (e as Error).message;
      }
      return "no error";
    };
    expect(message(() => toKvValue("0x10", "NUMBER"))).toBe('KV_VALUE_INVALID: cannot store "0x10" as NUMBER: not a number');
    expect(message(() => toKvValue("2024-05-01T10:00:00", "DATETIME"))).toContain("with its offset");
    expect(message(() => toKvValue("5 minutes", "DURATION"))).toContain("ISO-8601 duration");
    expect(message(() => toKvValue("{oops", "JSON"))).toContain("invalid JSON");
  });
});
