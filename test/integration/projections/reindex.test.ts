/**
 * `reindex`: projections rebuilt from the log into fresh storage and swapped in — on SQL (PGlite)
 * and on a real Elasticsearch — while the live repository keeps answering.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../common/logger.js";
import { encodeEvent, encodeLogLine, KIND } from "../../../processors/executor/shell/records.js";
import { avroRecordCodec as codec } from "../../../processors/worker/record-codec.js";
import { ElasticsearchRepository } from "../../../projections/elasticsearch/elasticsearch-repository.js";
import { Indexer } from "../../../projections/indexer.js";
import { PgliteSqlClient } from "../../../projections/postgres/pglite-client.js";
import { SqlRepository } from "../../../projections/postgres/sql-repository.js";
import { reindex, type Reindexable } from "../../../projections/reindex.js";
import type { Repository } from "../../../projections/repository.js";
import { EmbeddedLog } from "../../../topology/embedded/embedded-log.js";
import type { Log } from "../../../topology/log.js";
import { topicCatalogue } from "../../../topology/topics.js";
import { dropIndices, ensureElasticsearch, randomIndexPrefix } from "../../harness/elasticsearch.js";
import { ExecutorHarness } from "../../harness/executor-harness.js";

const FLOW = `id: hello
namespace: company.team
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "one"
`;

async function until(cond: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe("reindex", () => {
  let dir: string;
  let log: Log;
  const cleanups: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "lanner-reindex-"));
    log = await EmbeddedLog.open({ dataDir: join(dir, "log") });
    await log.ensureTopics(topicCatalogue({ executionPartitions: 4 }).specs());
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function rebuildsEverything(repo: Repository & Reindexable): Promise<void> {
    const h = new ExecutorHarness();
    const ids = [h.start(h.addFlow(FLOW)), h.start(h.addFlow(FLOW))];
    await log.append(ids.flatMap((id) => h.events(id).map((e) => ({ topic: "executions", key: id, value: encodeEvent(codec, e) }))));
    await log.append(ids.map((id) => ({
      topic: "logs", key: id, value: encodeLogLine(codec, {
        tenantId: "main", namespace: "company.team", flowId: "hello", executionId: id, taskRunId: "tr", taskId: "first", attempt: 1,
        level: "INFO", message: `rebuilt line of ${id}`, timestamp: Date.now(), workerId: "w",
      }),
    })));
    await log.append([{ topic: "flows", key: "main/company.team/hello", value: codec.encode(KIND.flow, { tenantId: "main", namespace: "company.team", id: "hello", revision: 1, source: FLOW, deleted: false }) }]);

    // The live indexer fills the read side; then the read side loses things (an operator's mistake).
    const live = new Indexer({ log, repository: repo, logger: silentLogger(), codec });
    await live.start();
    cleanups.push(() => live.stop());
    await until(async () => (await live.lag()) === 0n, "the live indexer");
    expect(await repo.deleteExecution(ids[0])).toBe(true);
    expect(await repo.getExecution(ids[0])).toBeUndefined();

    const result = await reindex({ log, codec, logger: silentLogger(), repository: repo, kinds: ["executions", "logs", "flows", "triggers"] });
    expect(result).toMatchObject({ kinds: ["executions", "logs", "flows", "triggers"], logLines: 2, flows: 1, deadLetters: 0 });
    expect(result.events).toBe(ids.reduce((n, id) => n + h.events(id).length, 0));

    for (const id of ids) expect(await repo.getExecution(id)).toEqual(JSON.parse(JSON.stringify(h.execution(id))));
    if (repo instanceof ElasticsearchRepository) await repo.refreshAll();
    expect((await repo.searchExecutions({ tenantId: "main", startDate: "2000-01-01T00:00:00.000Z" })).total).toBe(2);
    expect((await repo.listLogs(ids[0])).map((l) => l.message)).toEqual([`rebuilt line of ${ids[0]}`]);
    expect((await repo.listFlowRevisions({ tenantId: "main", namespace: "company.team", id: "hello" })).map((r) => r.revision)).toEqual([1]);

    // The live indexer keeps writing into the swapped-in storage.
    const next = h.start(h.addFlow(FLOW));
    await log.append(h.events(next).map((e) => ({ topic: "executions", key: next, value: encodeEvent(codec, e) })));
    expect((await repo.waitForTerminal(next, 600_000))?.state.current).toBe("SUCCESS");
  }

  it("on SQL: rebuilds into a staging schema and moves the tables in one transaction", { timeout: 120_000 }, async () => {
    const client = await PgliteSqlClient.open(join(dir, "pglite"));
    const repo = new SqlRepository({ client, schema: "lanner" });
    await repo.init();
    cleanups.push(() => repo.close());
    await rebuildsEverything(repo);
    const schemas = await client.query<{ nspname: string }>("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'lanner%'");
    expect(schemas.rows.map((r) => r.nspname)).toEqual(["lanner"]);
  });

  it("on Elasticsearch: rebuilds into fresh indices and swaps the aliases", async () => {
    const url = await ensureElasticsearch();
    const prefix = randomIndexPrefix("reindex");
    const repo = new ElasticsearchRepository({ url, prefix, refresh: true });
    await repo.init();
    cleanups.push(async () => {
      await repo.close();
      await dropIndices(url, prefix);
    });
    const before = await repo.indicesOf("executions");
    await rebuildsEverything(repo);
    const after = await repo.indicesOf("executions");
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before[0]);
  }, 600_000);
});
