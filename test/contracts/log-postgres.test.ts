import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LannerError } from "../../common/errors.js";
import type { Log } from "../../topology/log.js";
import { PostgresLog } from "../../topology/postgres/postgres-log.js";
import { createTestSchema, terminateConnections, type TestSchema } from "../harness/postgres.js";
import { logContract, waitFor } from "./log.contract.js";

let db: TestSchema | undefined;
const ready = createTestSchema("log").then((s) => (db = s));

async function openPg(): Promise<PostgresLog> {
  const s = await ready;
  // A small pool: the suite keeps its logs open until the end, and the server is shared.
  return PostgresLog.open({ url: s.url, schema: s.schema, applicationName: `lanner-test-${randomUUID().slice(0, 8)}`, poolSize: 3 });
}

logContract("postgres", {
  commitsInOrder: false,
  open: openPg,
  async reopen(log: Log) {
    await log.close();
    return openPg();
  },
  peers: true,
  async crash(log: Log) {
    if (!(log instanceof PostgresLog)) throw new Error("not a Postgres log");
    // "kill -9": the server drops every connection of that client; it never leaves its group.
    await terminateConnections(log.applicationName);
    await waitFor(() => log.halted(), "the crashed log notices");
  },
  async cleanup() {
    await db?.drop();
  },
});

describe("Postgres log: faults", () => {
  let s: TestSchema;
  beforeAll(async () => {
    s = await createTestSchema("logf");
  });
  afterAll(async () => {
    await s.drop();
  });

  it("reports a lost connection as a fatal error with a clear message", async () => {
    const appName = `lanner-fatal-${randomUUID().slice(0, 8)}`;
    const log = await PostgresLog.open({ url: s.url, schema: s.schema, applicationName: appName });
    const errors: Error[] = [];
    log.onFatal((e) => errors.push(e));
    await log.ensureTopics([{ name: "t", partitions: 1 }]);
    await terminateConnections(appName);
    await waitFor(() => errors.length > 0, "fatal error");
    expect(errors[0]).toBeInstanceOf(LannerError);
    expect((errors[0] as LannerError).code).toBe("POSTGRES_CONNECTION_LOST");
    expect(errors[0].message).toMatch(/Lost the connection to Postgres/);
    await expect(log.append([{ topic: "t", key: "k", value: new Uint8Array([1]) }])).rejects.toMatchObject({ code: "POSTGRES_CONNECTION_LOST" });
    await log.close();
  });

  it("refuses to open against an unreachable server with a clear error", async () => {
    await expect(PostgresLog.open({ url: "postgres://postgres@127.0.0.1:1/none", schema: "x" })).rejects.toMatchObject({ code: "POSTGRES_UNAVAILABLE" });
  });
});

describe("Postgres log: fencing in the database", () => {
  it("rejects a commit whose lease was taken over although the member still believes it owns it", async () => {
    const s = await createTestSchema("logz");
    const log = await PostgresLog.open({ url: s.url, schema: s.schema });
    try {
      await log.ensureTopics([{ name: "in", partitions: 1 }, { name: "out", partitions: 1 }]);
      let owned = 0;
      const m = await log.join("g", ["in"], {
        onAssign: async (a) => void (owned += a.length),
        onRevoke: async () => undefined,
        onRecords: async () => undefined,
      });
      await waitFor(() => owned === 1, "assignment");
      await m.commit({ produce: [], offsets: [{ topic: "in", partition: 0, next: 1n }] });
      // Another process took the lease over (epoch + 1) while this one stalled.
      const admin = await import("pg").then((pg) => new pg.default.Client({ connectionString: s.url }));
      await admin.connect();
      await admin.query(`UPDATE "${s.schema}".group_leases SET owner = 'other', epoch = epoch + 1, expires_at = now() + interval '1 hour'`);
      await admin.end();
      await expect(
        m.commit({ produce: [{ topic: "out", key: "z", value: new Uint8Array([1]) }], offsets: [{ topic: "in", partition: 0, next: 5n }] }),
      ).rejects.toMatchObject({ code: "FENCED", retriable: true });
      expect(await log.endOffset("out", 0)).toBe(0n);
      expect(await log.committed("g", "in", 0)).toBe(1n);
      // The member notices it lost the partition.
      await waitFor(() => m.assignment().length === 0, "revocation after the lease moved");
    } finally {
      await log.close();
      await s.drop();
    }
  });
});
