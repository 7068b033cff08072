import { describe, expect, it, beforeEach, afterEach } from "vitest";
import { mkdtemp, rm, symlink, mkdir, writeFile, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalStorage } from "../../storage/local-storage.js";
import { LannerError } from "../../common/errors.js";
import { storageContract } from "./storage.contract.js";

storageContract("local filesystem", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lanner-storage-"));
  return { storage: new LocalStorage(dir), close: () => rm(dir, { recursive: true, force: true }) };
});

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return err instanceof LannerError ? err.code : undefined;
}

describe("LocalStorage on disk", () => {
  let base: string;
  let root: string;
  let outside: string;
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), "lanner-storage-"));
    root = join(base, "root");
    outside = join(base, "outside");
    await mkdir(root);
    await mkdir(outside);
    await writeFile(join(outside, "secret.txt"), "secret");
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it("refuses to read or write through a symlinked directory that leaves the root", async () => {
    await mkdir(join(root, "t"));
    await symlink(outside, join(root, "t", "link"));
    const s = new LocalStorage(root);
    expect(await codeOf(s.get("t/link/secret.txt"))).toBe("STORAGE_PATH_INVALID");
    expect(await codeOf(s.exists("t/link/secret.txt"))).toBe("STORAGE_PATH_INVALID");
    expect(await codeOf(s.put("t/link/new.txt", Buffer.from("x")))).toBe("STORAGE_PATH_INVALID");
    expect(await codeOf(s.put("t/link/deeper/new.txt", Buffer.from("x")))).toBe("STORAGE_PATH_INVALID");
    expect(await codeOf(s.delete("t/link/secret.txt"))).toBe("STORAGE_PATH_INVALID");
    expect(await codeOf(s.list("t/link"))).toBe("STORAGE_PATH_INVALID");
    expect(await readdir(outside)).toEqual(["secret.txt"]);
    expect(await s.list("t")).toEqual([]);
  });

  it("refuses a symlinked file that points out of the root", async () => {
    await mkdir(join(root, "t"));
    await symlink(join(outside, "secret.txt"), join(root, "t", "f.txt"));
    const s = new LocalStorage(root);
    expect(await codeOf(s.get("t/f.txt"))).toBe("STORAGE_PATH_INVALID");
    expect(await s.list("t")).toEqual([]);
    // Deleting the link removes the link only.
    expect(await s.delete("t/f.txt")).toBe(true);
    expect(await readFile(join(outside, "secret.txt"), "utf8")).toBe("secret");
  });

  it("serves symlinks that stay inside the root", async () => {
    const s = new LocalStorage(root);
    await s.put("t/a/real.txt", Buffer.from("inside"));
    await symlink(join(root, "t", "a"), join(root, "t", "alias"));
    expect(await s.exists("t/alias/real.txt")).toBe(true);
    expect(await s.list("t/alias")).toEqual(["lanner:///t/alias/real.txt"]);
  });

  it("leaves no temporary file behind after writes, failed ones included", async () => {
    const s = new LocalStorage(root);
    await s.put("t/x/a.txt", Buffer.from("a"));
    async function* failing() {
      yield Buffer.from("partial");
      throw new Error("source broke");
    }
    await expect(s.put("t/x/b.txt", failing())).rejects.toThrow("source broke");
    expect(await readdir(join(root, "t", "x"))).toEqual(["a.txt"]);
    expect(await s.exists("t/x/b.txt")).toBe(false);
  });

  it("keeps files across instances (it is the filesystem)", async () => {
    await new LocalStorage(root).put("t/p.txt", Buffer.from("kept"));
    expect(await new LocalStorage(root).exists("lanner:///t/p.txt")).toBe(true);
  });
});
