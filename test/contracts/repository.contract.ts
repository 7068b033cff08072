/**
 * The Repository contract: memory, SQL on PGlite and SQL on Postgres must all pass it. Each case
 * uses its own random tenant, so one storage serves the whole suite.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Execution, State } from "../../processors/executor/model.js";
import type { LogEntry, Repository } from "../../projections/repository.js";
import { parseFlowOrThrow } from "../../schemas/flow-parser.js";
import type { Flow } from "../../schemas/flow-types.js";

export interface RepositoryFactory {
  /** Opens the suite's repository (init already done). */
  open(): Promise<Repository>;
  /** Drops the suite's storage after the repository was closed. */
  cleanup?(): Promise<void>;
}

const TERMINAL_AND_RUNNING: State[] = ["RUNNING", "SUCCESS"];

function flowYaml(namespace: string, id: string, message = "hello"): string {
  return `id: ${id}\nnamespace: ${namespace}\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: ${message}\n`;
}

function flowOf(yaml: string): Flow {
  return parseFlowOrThrow(yaml);
}

/** A small Kestra-shaped execution. */
export function makeExecution(p: { id?: string; tenantId: string; namespace?: string; flowId?: string; state?: State; startDate?: string }): Execution {
  const state = p.state ?? "RUNNING";
  const startDate = p.startDate ?? "2024-05-01T10:00:00.000Z";
  return {
    id: p.id ?? randomUUID(),
    tenantId: p.tenantId,
    namespace: p.namespace ?? "company.team",
    flowId: p.flowId ?? "hello",
    flowRevision: 1,
    state: { current: state, histories: [{ state: "CREATED", date: startDate }, ...(state === "CREATED" ? [] : [{ state, date: startDate }])] },
    inputs: { name: "world" },
    labels: [{ key: "team", value: "data" }],
    taskRunList: [{
      id: "tr1", executionId: p.id ?? "x", taskId: "say", valuePath: [],
      state: { current: state, histories: [{ state, date: startDate }] },
      attempts: [{ number: 1, state: { current: state, histories: [{ state, date: startDate }] } }],
      outputs: { value: "hi" },
    }],
    originalId: p.id ?? "x",
    attemptNumber: 1,
    startDate,
    ...(state === "SUCCESS" || state === "FAILED" ? { endDate: startDate } : {}),
  };
}

function logLine(p: Partial<LogEntry> & { id: string; executionId: string; tenantId: string }): LogEntry {
  return {
    namespace: "company.team", flowId: "hello", level: "INFO", message: `line ${p.id}`, timestamp: "2024-05-01T10:00:00.000Z", ...p,
  };
}

export function repositoryContract(name: string, factory: RepositoryFactory): void {
  describe(`Repository contract: ${name}`, () => {
    let repo: Repository;
    const tenant = () => `t${randomUUID().slice(0, 8)}`;

    beforeAll(async () => {
      repo = await factory.open();
    });
    afterAll(async () => {
      await repo.close();
      await factory.cleanup?.();
    });

    it("init is idempotent", async () => {
      await repo.init();
      await repo.init();
    });

    describe("flows", () => {
      it("numbers revisions 1, 2, … and keeps an unchanged source as it is", async () => {
        const key = { tenantId: tenant(), namespace: "company.team", id: "hello" };
        const y1 = flowYaml(key.namespace, key.id);
        const first = await repo.saveFlow(key, y1, flowOf(y1));
        expect(first.created).toBe(true);
        expect(first.revision.revision).toBe(1);
        expect(first.revision.flow.revision).toBe(1);
        expect(first.revision.flow.id).toBe("hello");

        const same = await repo.saveFlow(key, y1, flowOf(y1));
        expect(same.created).toBe(false);
        expect(same.revision.revision).toBe(1);

        const y2 = flowYaml(key.namespace, key.id, "bye");
        const second = await repo.saveFlow(key, y2, flowOf(y2));
        expect(second.created).toBe(true);
        expect(second.revision.revision).toBe(2);

        expect((await repo.getFlow(key))?.source).toBe(y2);
        expect((await repo.getFlow(key))?.revision).toBe(2);
        expect((await repo.getFlow(key, 1))?.source).toBe(y1);
        expect(await repo.getFlow(key, 7)).toBeUndefined();
        expect((await repo.listFlowRevisions(key)).map((r) => r.revision)).toEqual([1, 2]);
      });

      it("answers undefined for an unknown flow", async () => {
        const key = { tenantId: tenant(), namespace: "nope", id: "nothing" };
        expect(await repo.getFlow(key)).toBeUndefined();
        expect(await repo.listFlowRevisions(key)).toEqual([]);
        expect(await repo.deleteFlow(key)).toBe(false);
      });

      it("lists the latest revision of each flow of a namespace and its sub-namespaces", async () => {
        const t = tenant();
        for (const [ns, id] of [["company", "a"], ["company.team", "b"], ["companyx", "c"], ["other", "d"]]) {
          const y = flowYaml(ns, id);
          await repo.saveFlow({ tenantId: t, namespace: ns, id }, y, flowOf(y));
        }
        const y2 = flowYaml("company", "a", "again");
        await repo.saveFlow({ tenantId: t, namespace: "company", id: "a" }, y2, flowOf(y2));
        const listed = await repo.listFlows(t, "company");
        expect(listed.map((f) => `${f.namespace}.${f.id}@${f.revision}`)).toEqual(["company.a@2", "company.team.b@1"]);
        expect((await repo.listFlows(t)).length).toBe(4);
        expect(await repo.listFlows(tenant())).toEqual([]);
      });

      it("deletes with a marker revision; saving again continues the numbering", async () => {
        const key = { tenantId: tenant(), namespace: "company.team", id: "gone" };
        const y = flowYaml(key.namespace, key.id);
        await repo.saveFlow(key, y, flowOf(y));
        expect(await repo.deleteFlow(key)).toBe(true);
        expect(await repo.deleteFlow(key)).toBe(false);
        expect(await repo.getFlow(key)).toBeUndefined();
        expect((await repo.getFlow(key, 1))?.source).toBe(y);
        expect(await repo.listFlows(key.tenantId)).toEqual([]);
        const again = await repo.saveFlow(key, y, flowOf(y));
        expect(again.created).toBe(true);
        expect(again.revision.revision).toBe(3);
        expect((await repo.listFlowRevisions(key)).map((r) => [r.revision, r.deleted])).toEqual([[1, false], [2, true], [3, false]]);
      });
    });

    describe("executions", () => {
      it("upserts by version: an older or equal version never overwrites a newer one", async () => {
        const t = tenant();
        const id = randomUUID();
        await repo.upsertExecutions([{ execution: makeExecution({ id, tenantId: t, state: "RUNNING" }), version: 5n, fold: { seq: 5 } }]);
        await repo.upsertExecutions([{ execution: makeExecution({ id, tenantId: t, state: "FAILED" }), version: 3n }]);
        await repo.upsertExecutions([{ execution: makeExecution({ id, tenantId: t, state: "SUCCESS" }), version: 5n }]);
        expect((await repo.getExecution(id))?.state.current).toBe("RUNNING");
        await repo.upsertExecutions([{ execution: makeExecution({ id, tenantId: t, state: "SUCCESS" }), version: 9n, fold: { seq: 9 } }]);
        const got = await repo.getExecution(id);
        expect(got?.state.current).toBe("SUCCESS");
        expect(got?.taskRunList[0].outputs).toEqual({ value: "hi" });
        expect(got?.labels).toEqual([{ key: "team", value: "data" }]);
        const stored = await repo.getStoredExecutions([id, "unknown-id"]);
        expect(stored.size).toBe(1);
        expect(stored.get(id)?.version).toBe(9n);
        expect(stored.get(id)?.fold).toEqual({ seq: 9 });
      });

      it("keeps the newest of several rows for one id in a batch", async () => {
        const t = tenant();
        const id = randomUUID();
        await repo.upsertExecutions([
          { execution: makeExecution({ id, tenantId: t, state: "SUCCESS" }), version: 8n },
          { execution: makeExecution({ id, tenantId: t, state: "RUNNING" }), version: 2n },
        ]);
        expect((await repo.getExecution(id))?.state.current).toBe("SUCCESS");
      });

      it("stores text holding a NUL character (SQL stores U+FFFD in its place)", async () => {
        const t = tenant();
        const e = makeExecution({ tenantId: t, state: "SUCCESS" });
        e.taskRunList[0].outputs = { value: "a\u0000b", "k\u0000": 1 };
        await repo.upsertExecutions([{ execution: e, version: 1n }]);
        const got = await repo.getExecution(e.id);
        expect(String(got?.taskRunList[0].outputs?.value).replace("\uFFFD", "\u0000")).toBe("a\u0000b");
        await repo.appendLogs([logLine({ id: `${e.id}:nul`, executionId: e.id, tenantId: t, message: "x\u0000y" })]);
        expect((await repo.listLogs(e.id))[0].message.replace("\uFFFD", "\u0000")).toBe("x\u0000y");
      });

      it("answers undefined for an unknown execution", async () => {
        expect(await repo.getExecution(randomUUID())).toBeUndefined();
      });

      it("searches by namespace prefix, flow, state and start date, newest first, with paging", async () => {
        const t = tenant();
        const rows = [
          makeExecution({ id: `${t}-1`, tenantId: t, namespace: "company", flowId: "a", state: "SUCCESS", startDate: "2024-05-01T10:00:00.000Z" }),
          makeExecution({ id: `${t}-2`, tenantId: t, namespace: "company.team", flowId: "a", state: "RUNNING", startDate: "2024-05-02T10:00:00.000Z" }),
          makeExecution({ id: `${t}-3`, tenantId: t, namespace: "company.team", flowId: "b", state: "SUCCESS", startDate: "2024-05-03T10:00:00.000Z" }),
          makeExecution({ id: `${t}-4`, tenantId: t, namespace: "companyx", flowId: "a", state: "SUCCESS", startDate: "2024-05-04T10:00:00.000Z" }),
        ];
        await repo.upsertExecutions(rows.map((execution, i) => ({ execution, version: BigInt(i) })));
        const ids = (p: { results: Execution[] }) => p.results.map((e) => e.id);

        const company = await repo.searchExecutions({ tenantId: t, namespace: "company" });
        expect(ids(company)).toEqual([`${t}-3`, `${t}-2`, `${t}-1`]);
        expect(company.total).toBe(3);
        expect(ids(await repo.searchExecutions({ tenantId: t, flowId: "a", states: ["SUCCESS"] }))).toEqual([`${t}-4`, `${t}-1`]);
        expect(ids(await repo.searchExecutions({ tenantId: t, states: TERMINAL_AND_RUNNING, namespace: "company.team" }))).toEqual([`${t}-3`, `${t}-2`]);
        expect(ids(await repo.searchExecutions({ tenantId: t, startDate: "2024-05-02T00:00:00.000Z", endDate: "2024-05-04T00:00:00.000Z" })))
          .toEqual([`${t}-3`, `${t}-2`]);
        const page2 = await repo.searchExecutions({ tenantId: t, size: 3, page: 2 });
        expect(ids(page2)).toEqual([`${t}-1`]);
        expect(page2.total).toBe(4);
        await expect(repo.searchExecutions({ tenantId: t, size: 0 })).rejects.toMatchObject({ code: "QUERY_INVALID" });
      });

      it("waitForTerminal resolves at once for an ended execution", async () => {
        const t = tenant();
        const e = makeExecution({ tenantId: t, state: "SUCCESS" });
        await repo.upsertExecutions([{ execution: e, version: 1n }]);
        expect((await repo.waitForTerminal(e.id, 600_000))?.state.current).toBe("SUCCESS");
      });

      it("waitForTerminal is woken by the write that ends the execution", async () => {
        const t = tenant();
        const e = makeExecution({ tenantId: t, state: "RUNNING" });
        await repo.upsertExecutions([{ execution: e, version: 1n }]);
        // A long timeout: only the wake-up can make this resolve within the test's time.
        const waiting = repo.waitForTerminal(e.id, 600_000);
        await repo.upsertExecutions([{ execution: makeExecution({ id: e.id, tenantId: t, state: "RUNNING" }), version: 2n }]);
        await repo.upsertExecutions([{ execution: makeExecution({ id: e.id, tenantId: t, state: "FAILED" }), version: 3n }]);
        expect((await waiting)?.state.current).toBe("FAILED");
      });

      it("waitForTerminal answers what is stored when the timeout comes first", async () => {
        const t = tenant();
        const e = makeExecution({ tenantId: t, state: "RUNNING" });
        await repo.upsertExecutions([{ execution: e, version: 1n }]);
        expect((await repo.waitForTerminal(e.id, 20))?.state.current).toBe("RUNNING");
        expect(await repo.waitForTerminal(randomUUID(), 20)).toBeUndefined();
      });
    });

    describe("logs", () => {
      it("appends idempotently and lists by execution in timestamp order with filters", async () => {
        const t = tenant();
        const ex = randomUUID();
        await repo.appendLogs([
          logLine({ id: `${ex}:2`, executionId: ex, tenantId: t, taskRunId: "tr2", taskId: "b", attemptNumber: 1, level: "ERROR", timestamp: "2024-05-01T10:00:02.000Z", workerId: "w1" }),
          logLine({ id: `${ex}:1`, executionId: ex, tenantId: t, taskRunId: "tr1", taskId: "a", level: "DEBUG", timestamp: "2024-05-01T10:00:01.000Z" }),
          logLine({ id: `${ex}:3`, executionId: ex, tenantId: t, taskRunId: "tr1", taskId: "a", level: "WARN", timestamp: "2024-05-01T10:00:03.000Z" }),
        ]);
        await repo.appendLogs([logLine({ id: `${ex}:1`, executionId: ex, tenantId: t, message: "a replay must not duplicate" })]);
        await repo.appendLogs([logLine({ id: `${randomUUID()}:1`, executionId: randomUUID(), tenantId: t })]);

        const all = await repo.listLogs(ex);
        expect(all.map((l) => l.id)).toEqual([`${ex}:1`, `${ex}:2`, `${ex}:3`]);
        expect(all[0].message).toBe(`line ${ex}:1`);
        expect(all[1]).toMatchObject({ taskRunId: "tr2", taskId: "b", attemptNumber: 1, level: "ERROR", workerId: "w1", timestamp: "2024-05-01T10:00:02.000Z" });
        expect((await repo.listLogs(ex, { taskRunId: "tr1" })).map((l) => l.id)).toEqual([`${ex}:1`, `${ex}:3`]);
        expect((await repo.listLogs(ex, { minLevel: "WARN" })).map((l) => l.level)).toEqual(["ERROR", "WARN"]);
        expect(await repo.listLogs(randomUUID())).toEqual([]);
      });

      it("deleteExecution removes the execution and its log lines only", async () => {
        const t = tenant();
        const gone = makeExecution({ tenantId: t, state: "SUCCESS" });
        const kept = makeExecution({ tenantId: t, state: "SUCCESS" });
        await repo.upsertExecutions([{ execution: gone, version: 1n }, { execution: kept, version: 1n }]);
        await repo.appendLogs([logLine({ id: `${gone.id}:1`, executionId: gone.id, tenantId: t }), logLine({ id: `${kept.id}:1`, executionId: kept.id, tenantId: t })]);
        expect(await repo.deleteExecution(gone.id)).toBe(true);
        expect(await repo.getExecution(gone.id)).toBeUndefined();
        expect(await repo.listLogs(gone.id)).toEqual([]);
        expect((await repo.searchExecutions({ tenantId: t })).results.map((e) => e.id)).toEqual([kept.id]);
        expect((await repo.listLogs(kept.id)).map((l) => l.id)).toEqual([`${kept.id}:1`]);
        expect(await repo.deleteExecution(gone.id)).toBe(false);
      });
    });
  });
}
