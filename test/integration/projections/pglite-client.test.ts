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
});
