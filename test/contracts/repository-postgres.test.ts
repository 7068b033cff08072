import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PgSqlClient } from "../../projections/postgres/pg-client.js";
import { SqlRepository } from "../../projections/postgres/sql-repository.js";
import { createTestSchema, type TestSchema } from "../harness/postgres.js";
import { makeExecution, repositoryContract } from "./repository.contract.js";

let schema: TestSchema | undefined;

async function openOn(s: TestSchema): Promise<SqlRepository> {
  const repo = new SqlRepository({ client: new PgSqlClient({ url: s.url }), schema: s.schema });
  await repo.init();
  return repo;
}

repositoryContract("postgres", {
  async open() {
    schema = await createTestSchema("repo");
    return openOn(schema);
  },
  async cleanup() {
    await schema?.drop();
  },
});

describe("Repository on Postgres: two processes", () => {
  let s: TestSchema;
  let writer: SqlRepository;
  let reader: SqlRepository;
  beforeAll(async () => {
    s = await createTestSchema("repo2");
    // Two repositories = two sets of connections, as a webserver and an indexer in two processes.
    writer = await openOn(s);
    reader = await openOn(s);
  });
  afterAll(async () => {
    await reader.close();
    await writer.close();
    await s.drop();
  });

  it("a waiter in one process is woken by NOTIFY when another process writes the ended execution", async () => {
    const e = makeExecution({ tenantId: "main", state: "RUNNING" });
    await writer.upsertExecutions([{ execution: e, version: 1n }]);
    // The timeout is far beyond the test's own: only the notification can resolve it in time.
    const waiting = reader.waitForTerminal(e.id, 600_000);
    await writer.upsertExecutions([{ execution: makeExecution({ id: e.id, tenantId: "main", state: "SUCCESS" }), version: 2n }]);
    expect((await waiting)?.state.current).toBe("SUCCESS");
  }, 10_000);

  it("init runs concurrently from two processes without a clash", async () => {
    const t = await createTestSchema("repo3");
    try {
      const a = new SqlRepository({ client: new PgSqlClient({ url: t.url }), schema: t.schema });
      const b = new SqlRepository({ client: new PgSqlClient({ url: t.url }), schema: t.schema });
      await Promise.all([a.init(), b.init()]);
      await a.upsertExecutions([{ execution: makeExecution({ id: randomUUID(), tenantId: "main" }), version: 1n }]);
      expect((await b.searchExecutions({ tenantId: "main" })).total).toBe(1);
      await a.close();
      await b.close();
    } finally {
      await t.drop();
    }
  });

  it("a lost database is a retriable REPOSITORY_UNAVAILABLE error", async () => {
    const repo = new SqlRepository({ client: new PgSqlClient({ url: "postgres://postgres@127.0.0.1:1/test" }), schema: "nowhere" });
    await expect(repo.getExecution("x")).rejects.toMatchObject({ code: "REPOSITORY_UNAVAILABLE", retriable: true });
    await repo.close();
  });
});
