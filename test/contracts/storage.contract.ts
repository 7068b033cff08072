import { describe, expect, it, beforeEach, afterEach } from "vitest";
import { Readable } from "node:stream";
import type { Storage } from "../../storage/storage.js";
import { readFileBytes } from "../../storage/read-all.js";
import { LannerError } from "../../common/errors.js";

export interface StorageFixture {
  storage: Storage;
  /** Removes whatever the fixture created. */
  close(): Promise<void>;
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a rejection with ${code}`).toBeInstanceOf(LannerError);
  expect((err as LannerError).code).toBe(code);
}

const enc = (s: string) => new TextEncoder().encode(s);

/** The behaviour every Storage implementation must have. */
export function storageContract(name: string, factory: () => Promise<StorageFixture>): void {
  describe(`Storage contract: ${name}`, () => {
    let fx: StorageFixture;
    let s: Storage;
    beforeEach(async () => {
      fx = await factory();
      s = fx.storage;
    });
    afterEach(async () => {
      await fx.close();
    });

    it("puts bytes and gets them back by URI and by path", async () => {
      const uri = await s.put("t1/com/acme/f1/executions/e1/a.txt", enc("hello"));
      expect(uri).toBe("lanner:///t1/com/acme/f1/executions/e1/a.txt");
      expect((await readFileBytes(s, uri)).toString()).toBe("hello");
      expect((await readFileBytes(s, "t1/com/acme/f1/executions/e1/a.txt")).toString()).toBe("hello");
    });

    it("accepts async iterables and Node streams", async () => {
      async function* gen() {
        yield enc("ab");
        yield enc("cd");
      }
      const u1 = await s.put("t/x/gen.bin", gen());
      const u2 = await s.put("t/x/stream.bin", Readable.from([Buffer.from("ef"), Buffer.from("gh")]));
      expect((await readFileBytes(s, u1)).toString()).toBe("abcd");
      expect((await readFileBytes(s, u2)).toString()).toBe("efgh");
    });

    it("replaces an existing file", async () => {
      await s.put("t/r.txt", enc("one"));
      await s.put("t/r.txt", enc("two"));
      expect((await readFileBytes(s, "t/r.txt")).toString()).toBe("two");
    });

    it("stores empty files", async () => {
      await s.put("t/empty", new Uint8Array());
      expect(await s.exists("t/empty")).toBe(true);
      expect((await readFileBytes(s, "t/empty")).length).toBe(0);
    });

    it("round-trips names that need escaping in a URI", async () => {
      const uri = await s.put("t/dir/a file%20é.txt", enc("x"));
      expect(uri).toBe("lanner:///t/dir/a%20file%2520%C3%A9.txt");
      expect((await readFileBytes(s, uri)).toString()).toBe("x");
      expect(await s.list("t/dir")).toEqual([uri]);
    });

    it("get of a missing file rejects with STORAGE_NOT_FOUND", async () => {
      await expectCode(s.get("t/none.txt"), "STORAGE_NOT_FOUND");
      await s.put("t/d/f", enc("x"));
      await expectCode(s.get("t/d"), "STORAGE_NOT_FOUND");
    });

    it("exists and delete", async () => {
      expect(await s.exists("t/e.txt")).toBe(false);
      await s.put("t/e.txt", enc("x"));
      expect(await s.exists("lanner:///t/e.txt")).toBe(true);
      expect(await s.delete("lanner:///t/e.txt")).toBe(true);
      expect(await s.exists("t/e.txt")).toBe(false);
      expect(await s.delete("t/e.txt")).toBe(false);
    });

    it("lists the files under a prefix, recursively and sorted, and nothing else", async () => {
      await s.put("t/ns/f/executions/e2/b.txt", enc("b"));
      await s.put("t/ns/f/executions/e2/a.txt", enc("a"));
      await s.put("t/ns/f/executions/e2/sub/c.txt", enc("c"));
      await s.put("t/ns/f/executions/e20/z.txt", enc("z"));
      expect(await s.list("t/ns/f/executions/e2")).toEqual([
        "lanner:///t/ns/f/executions/e2/a.txt",
        "lanner:///t/ns/f/executions/e2/b.txt",
        "lanner:///t/ns/f/executions/e2/sub/c.txt",
      ]);
      expect(await s.list("lanner:///t/ns/f/executions/e2/")).toHaveLength(3);
      expect(await s.list("t/ns/nothing")).toEqual([]);
    });

    const bad = [
      "../escape.txt",
      "t/../../escape.txt",
      "t/./a.txt",
      "/etc/passwd",
      "t//a.txt",
      "t/a\\..\\b.txt",
      "t/nul\0.txt",
      "lanner:///t/%2e%2e/%2e%2e/x",
      "lanner://host/t/a.txt",
      "lanner:///t/a.txt?x=1",
      "file:///etc/passwd",
      "",
    ];
    for (const p of bad) {
      it(`rejects the path ${JSON.stringify(p)} with STORAGE_PATH_INVALID`, async () => {
        await expectCode(s.put(p, enc("x")), "STORAGE_PATH_INVALID");
        await expectCode(s.get(p), "STORAGE_PATH_INVALID");
        await expectCode(s.exists(p), "STORAGE_PATH_INVALID");
        await expectCode(s.delete(p), "STORAGE_PATH_INVALID");
      });
    }

    it("refuses a file where a directory is and the reverse", async () => {
      await s.put("t/fd/file", enc("x"));
      await expectCode(s.put("t/fd", enc("y")), "STORAGE_PATH_INVALID");
      await expectCode(s.put("t/fd/file/child", enc("y")), "STORAGE_PATH_INVALID");
      expect((await readFileBytes(s, "t/fd/file")).toString()).toBe("x");
    });
  });
}
