import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LannerError } from "../../../common/errors.js";
import { silentLogger } from "../../../common/logger.js";
import type { ExecutionEvent } from "../../../processors/executor/events.js";
import { encodeEvent, encodeLogLine, type LogLine } from "../../../processors/executor/shell/records.js";
import { Indexer, INDEXER_GROUP } from "../../../projections/indexer.js";
import { MemoryRepository } from "../../../projections/memory/memory-repository.js";
import { PgliteSqlClient } from "../../../projections/postgres/pglite-client.js";
import { SqlRepository } from "../../../projections/postgres/sql-repository.js";
import type { ExecutionUpsert, Repository } from "../../../projections/repository.js";
import { EmbeddedLog } from "../../../topology/embedded/embedded-log.js";
import type { Log } from "../../../topology/log.js";
import { partitionForKey } from "../../../topology/partitioner.js";
import { topicCatalogue } from "../../../topology/topics.js";
import { ExecutorHarness } from "../../harness/executor-harness.js";
import { avroRecordCodec as codec } from "../../../processors/worker/record-codec.js";

const FLOW = `
id: hello
namespace: company.team
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "one"
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
`;

/** Bounded wait for a condition (never a timing assertion). */
async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`gave up waiting for ${what}`);
}

function history(): { id: string; events: ExecutionEvent[]; expected: ReturnType<ExecutorHarness["execution"]> } {
  const h = new ExecutorHarness();
  const id = h.start(h.addFlow(FLOW));
  return { id, events: h.events(id), expected: h.execution(id) };
}

/** A repository whose writes fail while `down` is true (a database that is away). */
class FlakyRepository extends MemoryRepository {
  down = false;
  failAfterWrite = 0;
  override async upsertExecutions(rows: ExecutionUpsert[]): Promise<void> {
    if (this.down) throw new LannerError("REPOSITORY_UNAVAILABLE", "the database is away", { retriable: true });
    await super.upsertExecutions(rows);
    if (this.failAfterWrite > 0) {
      // Written, but the answer is lost: the indexer must retry without duplicating anything.
      this.failAfterWrite--;
      throw new LannerError("REPOSITORY_UNAVAILABLE", "connection lost after the write", { retriable: true });
    }
  }
}

describe("Indexer", () => {
  let dir: string;
  let log: Log;
  let indexers: Indexer[];
  const topics = topicCatalogue({ executionPartitions: 4 });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "lanner-indexer-"));
    log = await EmbeddedLog.open({ dataDir: dir });
    await log.ensureTopics(topics.specs());
    indexers = [];
  });
  afterEach(async () => {
    for (const i of indexers) await i.stop();
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const startIndexer = async (repository: Repository, extra: Partial<ConstructorParameters<typeof Indexer>[0]> = {}) => {
    const indexer = new Indexer({ log, repository, logger: silentLogger(), codec: codec, retryInitialMs: 5, retryMaxMs: 20, ...extra });
    indexers.push(indexer);
    await indexer.start();
    return indexer;
  };
  const appendEvents = (events: ExecutionEvent[]) =>
    log.append(events.map((e) => ({ topic: "executions", key: e.executionId, value: encodeEvent(codec, e) })));

  it("folds the execution events into the Kestra-shaped execution and stores log lines", async () => {
    const repo = new MemoryRepository();
    const { id, events, expected } = history();
    await startIndexer(repo);
    await appendEvents(events);
    const line = (n: number, level: LogLine["level"]): LogLine => ({
      tenantId: "main", namespace: "company.team", flowId: "hello", executionId: id, taskRunId: "tr", taskId: "first",
      attempt: 1, level, message: `line ${n}`, timestamp: Date.UTC(2026, 0, 1, 0, 0, n), workerId: "w1",
    });
    await log.append([line(1, "INFO"), line(2, "ERROR")].map((l) => ({ topic: "logs", key: id, value: encodeLogLine(codec, l) })));

    const done = await repo.waitForTerminal(id, 600_000);
    expect(done?.state.current).toBe("SUCCESS");
    expect(done).toEqual(JSON.parse(JSON.stringify(expected)));
    expect(done?.taskRunList.filter((t) => t.taskId === "inner").map((t) => [t.value, t.outputs?.value])).toEqual([["a", "a"], ["b", "b"]]);

    await until(async () => (await repo.listLogs(id)).length === 2, "log lines");
    const logs = await repo.listLogs(id, { minLevel: "WARN" });
    expect(logs).toMatchObject([{ executionId: id, taskId: "first", attemptNumber: 1, level: "ERROR", message: "line 2", workerId: "w1", timestamp: "2026-01-01T00:00:02.000Z" }]);
  });

  it("sends an undecodable record to dead-letters and keeps indexing", async () => {
    const repo = new MemoryRepository();
    const indexer = await startIndexer(repo);
    const { id, events } = history();
    const p = partitionForKey(id, 4);
    await log.append([{ topic: "executions", key: id, value: new Uint8Array([1, 2, 3]), partition: p }]);
    await appendEvents(events);
    expect((await repo.waitForTerminal(id, 600_000))?.state.current).toBe("SUCCESS");
    await until(async () => (await log.endOffset("dead-letters", 0)) === 1n, "a dead letter");
    const dead = [];
    for await (const r of log.readPartition("dead-letters", 0, 0n)) dead.push(r);
    expect(dead[0].headers["lanner-source-topic"]).toBe("executions");
    expect(dead[0].headers["lanner-dead-letter-reason"]).toMatch(/undecodable execution event/);
    expect(indexer.stats.deadLetters).toBe(1);
  });

  it("retries while the repository is down, commits nothing meanwhile, and catches up", async () => {
    const repo = new FlakyRepository();
    repo.down = true;
    const indexer = await startIndexer(repo);
    const { id, events } = history();
    await appendEvents(events);
    const p = partitionForKey(id, 4);
    await until(() => indexer.stats.retries >= 3, "several retries");
    expect(await log.committed(INDEXER_GROUP, "executions", p)).toBe(0n);
    expect(await indexer.lag()).toBe(BigInt(events.length));
    repo.down = false;
    expect((await repo.waitForTerminal(id, 600_000))?.state.current).toBe("SUCCESS");
    await until(async () => (await log.committed(INDEXER_GROUP, "executions", p)) === BigInt(events.length), "the commit");
    expect(await indexer.lag()).toBe(0n);
  });

  it("a batch written but not acknowledged is replayed without applying an event twice", async () => {
    const repo = new FlakyRepository();
    repo.failAfterWrite = 1;
    const indexer = await startIndexer(repo);
    const { id, events, expected } = history();
    await appendEvents(events);
    const p = partitionForKey(id, 4);
    await until(async () => (await log.committed(INDEXER_GROUP, "executions", p)) === BigInt(events.length), "the commit");
    expect(indexer.stats.retries).toBe(1);
    expect(indexer.stats.deadLetters).toBe(0);
    const done = await repo.getExecution(id);
    // Histories would show repeated entries if an event had been folded twice.
    expect(done).toEqual(JSON.parse(JSON.stringify(expected)));
  });

  it("continues from the stored fold after a restart (PGlite repository)", async () => {
    const repo = new SqlRepository({ client: await PgliteSqlClient.open(), schema: "lanner" });
    await repo.init();
    try {
      const { id, events, expected } = history();
      const half = Math.floor(events.length / 2);
      const first = await startIndexer(repo);
      await appendEvents(events.slice(0, half));
      const p = partitionForKey(id, 4);
      await until(async () => (await log.committed(INDEXER_GROUP, "executions", p)) === BigInt(half), "the first half");
      await first.stop();
      indexers = indexers.filter((i) => i !== first);

      // A new indexer (a restarted process) has an empty cache: it reloads the fold from the repository.
      await appendEvents(events.slice(half));
      await startIndexer(repo);
      const done = await repo.waitForTerminal(id, 600_000);
      expect(done).toEqual(JSON.parse(JSON.stringify(expected)));
    } finally {
      for (const i of indexers) await i.stop();
      indexers = [];
      await repo.close();
    }
  });
});
