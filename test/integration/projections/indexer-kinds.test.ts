/**
 * The indexer beyond executions and logs: flow revisions from `flows`, trigger states from
 * `triggers`; and the execution history read back from the log (audit trail, time travel).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../common/logger.js";
import type { ExecutionEvent } from "../../../processors/executor/events.js";
import { encodeEvent, KIND } from "../../../processors/executor/shell/records.js";
import { triggerCommandRecord, triggerStateRecord, type TriggerStateRecord } from "../../../processors/scheduler/trigger-records.js";
import { avroRecordCodec as codec } from "../../../processors/worker/record-codec.js";
import { HistoryReader } from "../../../projections/history.js";
import { Indexer } from "../../../projections/indexer.js";
import { MemoryRepository } from "../../../projections/memory/memory-repository.js";
import { EmbeddedLog } from "../../../topology/embedded/embedded-log.js";
import type { Log } from "../../../topology/log.js";
import { topicCatalogue } from "../../../topology/topics.js";
import { ExecutorHarness } from "../../harness/executor-harness.js";

const FLOW = `id: hello
namespace: company.team
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "one"
  - id: second
    type: io.kestra.plugin.core.debug.Return
    format: "two"
`;

async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`gave up waiting for ${what}`);
}

function triggerState(triggerId: string, p: Partial<TriggerStateRecord> = {}): TriggerStateRecord {
  return {
    tenantId: "main", namespace: "company.team", flowId: "hello", triggerId, schedule: "0 * * * *|UTC", flowRevision: 1,
    nextDate: Date.UTC(2026, 0, 1, 1), disabled: false, fired: [], history: [], updatedAt: Date.UTC(2026, 0, 1), ...p,
  };
}

describe("Indexer: flows, triggers; execution history", () => {
  let dir: string;
  let log: Log;
  let indexer: Indexer | undefined;
  const topics = topicCatalogue({ executionPartitions: 4 });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "lanner-indexer-kinds-"));
    log = await EmbeddedLog.open({ dataDir: dir });
    await log.ensureTopics(topics.specs());
  });
  afterEach(async () => {
    await indexer?.stop();
    indexer = undefined;
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("stores flow revisions and trigger states from their topics, dead-letters bad ones, and drains its lag", async () => {
    const repo = new MemoryRepository();
    indexer = new Indexer({ log, repository: repo, logger: silentLogger(), codec, retryInitialMs: 5, retryMaxMs: 20 });
    await indexer.start();
    const flowRecord = (revision: number, source: string, deleted = false) =>
      ({ topic: "flows", key: "main/company.team/hello", value: codec.encode(KIND.flow, { tenantId: "main", namespace: "company.team", id: "hello", revision, source, deleted }) });
    await log.append([flowRecord(1, FLOW), flowRecord(2, FLOW.replace('"two"', '"deux"')), flowRecord(3, "id: [broken")]);
    await log.append([
      triggerStateRecord(codec, "triggers", triggerState("hourly")),
      triggerStateRecord(codec, "triggers", triggerState("daily")),
      triggerCommandRecord(codec, "triggers", { key: { tenantId: "main", namespace: "company.team", flowId: "hello", triggerId: "hourly" }, command: { type: "Disable" }, at: 1 }),
      triggerStateRecord(codec, "triggers", triggerState("hourly", { disabled: true, lastExecutionId: "e1" })),
      triggerStateRecord(codec, "triggers", { ...triggerState("daily"), deleted: true }),
    ]);
    await until(async () => (await indexer?.lag()) === 0n, "the indexer to catch up");

    const revisions = await repo.listFlowRevisions({ tenantId: "main", namespace: "company.team", id: "hello" });
    expect(revisions.map((r) => r.revision)).toEqual([1, 2]);
    expect(revisions[1].flow.tasks.map((t) => t.id)).toEqual(["first", "second"]);
    expect(revisions[1].source).toContain('"deux"');
    expect(indexer.stats.deadLetters).toBe(1);

    const hourly = await repo.getTrigger("main/company.team/hello/hourly");
    expect(hourly?.value).toMatchObject({ disabled: true, lastExecutionId: "e1", schedule: "0 * * * *|UTC" });
    expect(await repo.getTrigger("main/company.team/hello/daily")).toBeUndefined();
    expect((await repo.searchTriggers({ namespace: "company" })).results.map((t) => t.triggerId)).toEqual(["hourly"]);
  });

  it("reads an execution's events with offsets and folds it as of any of them", async () => {
    const h = new ExecutorHarness();
    const id = h.start(h.addFlow(FLOW));
    const other = h.start(h.addFlow(FLOW.replace("id: hello", "id: other")));
    const events: ExecutionEvent[] = [...h.events(id), ...h.events(other)];
    await log.append(events.map((e) => ({ topic: "executions", key: e.executionId, value: encodeEvent(codec, e) })));

    const reader = new HistoryReader({ log, codec });
    const trail = await reader.history(id);
    expect(trail.map((e) => e.event)).toEqual(JSON.parse(JSON.stringify(h.events(id))));
    expect(trail.every((e, i) => i === 0 || e.offset > trail[i - 1].offset)).toBe(true);
    expect(trail.every((e) => !Number.isNaN(Date.parse(e.timestamp)))).toBe(true);

    const created = await reader.executionAsOf(id, trail[0].offset);
    expect(created?.state.current).toBe("CREATED");
    expect(created?.taskRunList).toEqual([]);
    const firstDone = trail.find((e) => e.event.type === "TaskRunStateChanged" && e.event.state === "SUCCESS");
    const mid = await reader.executionAsOf(id, firstDone?.offset ?? -1n);
    expect(mid?.taskRunList.map((t) => [t.taskId, t.state.current])).toEqual([["first", "SUCCESS"]]);
    const end = await reader.executionAsOf(id, trail[trail.length - 1].offset);
    expect(end).toEqual(JSON.parse(JSON.stringify(h.execution(id))));
    expect(await reader.executionAsOf(id, -1n)).toBeUndefined();
    expect(await reader.history("unknown")).toEqual([]);
  });
});
