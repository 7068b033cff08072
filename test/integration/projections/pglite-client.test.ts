import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LannerError } from "../../../common/errors.js";
import { PgliteSqlClient } from "../../../projections/postgres/pglite-client.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "lanner-pglite-"));
  dirs.push(d);
  return d;
}

describe("PgliteSqlClient", () => {
  it("creates a database in a fresh directory, then reopens it with its data and small shared buffers", async () => {
    const dataDir = join(tempDir(), "pglite");
    const first = await PgliteSqlClient.open(dataDir);
    try {
      await first.query("CREATE TABLE kept (id text PRIMARY KEY, n integer)");
      await first.query("INSERT INTO kept VALUES ($1, $2)", ["a", 7]);
    } finally {
      await first.close();
    }
    const again = await PgliteSqlClient.open(dataDir);
    try {
      expect((await again.query<{ id: string; n: number }>("SELECT id, n FROM kept")).rows).toEqual([{ id: "a", n: 7 }]);
      expect((await again.query<{ shared_buffers: string }>("SHOW shared_buffers")).rows).toEqual([{ shared_buffers: "16MB" }]);
    } finally {
      await again.close();
    }
  }, 120_000); // two PGlite starts, one of them an initdb: seconds each on a loaded machine

  it("reports a data directory it cannot create as REPOSITORY_UNAVAILABLE", async () => {
    const file = join(tempDir(), "a-file");
    writeFileSync(file, "not a directory");
    const err = await PgliteSqlClient.open(join(file, "pglite")).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(LannerError);
    expect(err instanceof LannerError ? err.code : undefined).toBe("REPOSITORY_UNAVAILABLE");
  });

  it("runs on its own thread: errors keep their SQLSTATE, a failed transaction rolls back, transactions do not interleave", async () => {
    const db = await PgliteSqlClient.open();
    try {
      await db.query("CREATE TABLE t (id text PRIMARY KEY, n integer)");
      await db.query("INSERT INTO t VALUES ('a', 1)");
      const dup = await db.query("INSERT INTO t VALUES ('a', 2)").then(() => undefined, (e: unknown) => e);
      expect((dup as { code?: string }).code).toBe("23505");

      const boom = await db.transaction(async (tx) => {
        await tx.query("INSERT INTO t VALUES ('b', 1)");
        throw new Error("boom");
      }).then(() => undefined, (e: unknown) => e);
      expect((boom as Error).message).toBe("boom");
      expect((await db.query("SELECT id FROM t ORDER BY id")).rows).toEqual([{ id: "a" }]);

      // Two transactions read-modify-write the same row at once: serialised, no lost update.
      const bump = () => db.transaction(async (tx) => {
        const { rows } = await tx.query<{ n: number }>("SELECT n FROM t WHERE id = 'a'");
        await new Promise((r) => setTimeout(r, 20));
        await tx.query("UPDATE t SET n = $1 WHERE id = 'a'", [rows[0].n + 1]);
        return rows[0].n;
      });
      const seen = await Promise.all([bump(), bump(), db.query<{ n: number }>("SELECT n FROM t WHERE id = 'a'")]);
      expect(seen[0] + seen[1]).toBe(1 + 2);
      expect((await db.query<{ n: number }>("SELECT n FROM t WHERE id = 'a'")).rows[0].n).toBe(3);
    } finally {
      await db.close();
    }
  }, 60_000);

  it("delivers notifications to listeners until they stop, and refuses requests once closed", async () => {
    const db = await PgliteSqlClient.open();
    const heard: string[] = [];
    let resyncs = 0;
    const stop = await db.listen("wake", (p) => heard.push(p), () => resyncs++);
    expect(resyncs).toBe(1);
    await db.query("SELECT pg_notify('wake', 'one')");
    await expect.poll(() => heard).toEqual(["one"]);
    await stop();
    await db.query("SELECT pg_notify('wake', 'two')");
    await db.query("SELECT 1");
    expect(heard).toEqual(["one"]);
    await db.close();
    const err = await db.query("SELECT 1").then(() => undefined, (e: unknown) => e);
    expect(err instanceof LannerError ? err.code : err).toBe("REPOSITORY_UNAVAILABLE");
  }, 60_000);
});
