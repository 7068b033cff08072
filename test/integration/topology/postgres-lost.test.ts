/**
 * Losing the database: a `lanner server <role> --backend postgres` process whose Postgres
 * connections are terminated exits with one clear line and a non-zero code, so a supervisor
 * restarts it. Only this test's connections are terminated (filtered on a unique
 * application_name): other tests share the server.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLanner } from "../../harness/lanner-process.js";
import { createTestSchema, TEST_POSTGRES_URL, terminateConnections, type TestSchema } from "../../harness/postgres.js";
import { waitFor } from "../../contracts/log.contract.js";

describe("a server on the postgres backend loses its database", () => {
  let s: TestSchema;
  let dir: string;
  beforeAll(async () => {
    s = await createTestSchema("lost");
    dir = mkdtempSync(join(tmpdir(), "lanner-lost-"));
  });
  afterAll(async () => {
    await s.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(["executor", "worker"])("lanner server %s exits with one fatal line and a non-zero code", async (role) => {
    const appName = `lanner-lost-${randomUUID().slice(0, 8)}`;
    const u = new URL(TEST_POSTGRES_URL);
    u.searchParams.set("application_name", appName);
    const p = await startLanner(["server", role, "--backend", "postgres", "--postgres-url", u.toString(), "--postgres-schema", s.schema, "--data-dir", join(dir, role)]);
    try {
      let terminated = 0;
      await waitFor(async () => (terminated += await terminateConnections(appName)) > 0, "the server's connections exist and are terminated");
      const code = await p.exited;
      expect(code).not.toBe(0);
      expect(typeof code).toBe("number");
      const fatal = p.output().split("\n").filter((l) => l.startsWith("lanner: fatal:"));
      expect(fatal).toHaveLength(1);
      expect(fatal[0]).toMatch(/connection to Postgres/);
      // No stack trace reaches the person reading the output.
      expect(p.output()).not.toMatch(/^\s+at /m);
    } finally {
      await p.crash();
    }
  }, 60_000);
});
