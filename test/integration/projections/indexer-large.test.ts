import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../common/logger.js";
import type { ExecutionEvent } from "../../../processors/executor/events.js";
import { encodeEvent } from "../../../processors/executor/shell/records.js";
import { avroRecordCodec as codec } from "../../../processors/worker/record-codec.js";
import { Indexer, INDEXER_GROUP, type IndexerOptions } from "../../../projections/indexer.js";
import { MemoryRepository } from "../../../projections/memory/memory-repository.js";
import type { ExecutionUpsert } from "../../../projections/repository.js";
import { EmbeddedLog } from "../../../topology/embedded/embedded-log.js";
import type { Log } from "../../../topology/log.js";
import { partitionForKey } from "../../../topology/partitioner.js";
import { topicCatalogue } from "../../../topology/topics.js";
import { ExecutorHarness } from "../../harness/executor-harness.js";

const FLOW = `
id: wide
namespace: company.team
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c", "d", "e", "f"]
    concurrencyLimit: 0
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

/** Counts the rows written per execution. */
class CountingRepository extends MemoryRepository {
  readonly writes = new Map<string, number>();
  override async upsertExecutions(rows: ExecutionUpsert[]): Promise<void> {
    for (const r of rows) this.writes.set(r.execution.id, (this.writes.get(r.execution.id) ?? 0) + 1);
    await super.upsertExecutions(rows);
  }
}

describe("Indexer with large executions", () => {
  let dir: string;
  let log: Log;
  let indexers: Indexer[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "lanner-indexer-large-"));
    log = await EmbeddedLog.open({ dataDir: dir });
    await log.ensureTopics(topicCatalogue({ executionPartitions: 4 }).specs());
    indexers = [];
  });
  afterEach(async () => {
    for (const i of indexers) await i.stop();
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const history = () => {
    const h = new ExecutorHarness();
    const id = h.start(h.addFlow(FLOW));
    return { id, events: h.events(id), expected: JSON.parse(JSON.stringify(h.execution(id))) as unknown };
  };
  // One event per batch, so every event is a chance to write the view; from 3 task runs on the
  // execution counts as large.
  const start = async (repository: MemoryRepository, extra: Partial<IndexerOptions> = {}) => {
    const indexer = new Indexer({ log, repository, logger: silentLogger(), codec, maxBatch: 1, largeExecutionTaskRuns: 3, ...extra });
    indexers.push(indexer);
    await indexer.start();
    return indexer;
  };
  const append = (events: ExecutionEvent[]) => log.append(events.map((e) => ({ topic: "executions", key: e.executionId, value: encodeEvent(codec, e) })));
  const cut = (events: ExecutionEvent[]) => events.findIndex((e) => e.type === "TaskRunCreated" && e.taskId === "inner" && e.value === "f") + 1;

  it("defers the views of a large running execution, holds its commit back, and writes its end at once", async () => {
    const repo = new CountingRepository();
    const indexer = await start(repo, { viewWriteMsPerTaskRun: 3_600_000 });
    const { id, events, expected } = history();
    const p = partitionForKey(id, 4);
    const half = cut(events);
    await append(events.slice(0, half));
    await until(() => indexer.stats.events === half, "the first events folded");
    // written while small and once when large; every later event of the running execution deferred
    expect(repo.writes.get(id)).toBeLessThan(half / 2);
    expect(await log.committed(INDEXER_GROUP, "executions", p)).toBeLessThan(BigInt(half));
    await append(events.slice(half));
    expect(await repo.waitForTerminal(id, 600_000)).toEqual(expected);
    await until(async () => (await log.committed(INDEXER_GROUP, "executions", p)) === BigInt(events.length), "the commit of every event");
  });

  it("a restart replays the deferred events from the held-back offset and ends with the exact view", async () => {
    const repo = new MemoryRepository();
    const first = await start(repo, { viewWriteMsPerTaskRun: 3_600_000 });
    const { id, events, expected } = history();
    const half = cut(events);
    await append(events.slice(0, half));
    await until(() => first.stats.events === half, "the first events folded");
    await first.stop();
    indexers = indexers.filter((i) => i !== first);
    await append(events.slice(half));
    await start(repo, { viewWriteMsPerTaskRun: 3_600_000 });
    // an event folded twice would show as a repeated state-history entry
    expect(await repo.waitForTerminal(id, 600_000)).toEqual(expected);
  });

  it("writes a deferred view once it is due even when no event follows, and commits", async () => {
    const repo = new CountingRepository();
    const indexer = await start(repo, { viewWriteMsPerTaskRun: 20 });
    const { id, events } = history();
    const p = partitionForKey(id, 4);
    const half = cut(events);
    await append(events.slice(0, half));
    await until(async () => (await log.committed(INDEXER_GROUP, "executions", p)) === BigInt(half), "the flush's commit");
    expect(await indexer.lag()).toBe(0n);
    const view = await repo.getExecution(id);
    expect(view?.taskRunList.filter((t) => t.taskId === "inner").map((t) => t.value)).toEqual(["a", "b", "c", "d", "e", "f"]);
  });
});
