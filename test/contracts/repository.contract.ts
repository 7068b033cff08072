/**
 * The Repository contract: memory, SQL on PGlite and SQL on Postgres must all pass it. Each case
 * uses its own random tenant, so one storage serves the whole suite.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Execution, State } from "../../processors/executor/model.js";
import { DEFAULT_SEARCH_WINDOW_DAYS, type LogEntry, type Repository } from "../../projections/repository.js";
import { parseFlowOrThrow } from "../../schemas/flow-parser.js";
import type { Flow, Label } from "../../schemas/flow-types.js";

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
export function makeExecution(p: { id?: string; tenantId: string; namespace?: string; flowId?: string; state?: State; startDate?: string; labels?: Label[] }): Execution {
  const state = p.state ?? "RUNNING";
  // Recent by default: searches look DEFAULT_SEARCH_WINDOW_DAYS back unless told otherwise.
  const startDate = p.startDate ?? new Date(Date.now() - 3600_000).toISOString();
  return {
    id: p.id ?? randomUUID(),
    tenantId: p.tenantId,
    namespace: p.namespace ?? "company.team",
    flowId: p.flowId ?? "hello",
    flowRevision: 1,
    state: { current: state, histories: [{ state: "CREATED", date: startDate }, ...(state === "CREATED" ? [] : [{ state, date: startDate }])] },
    inputs: { name: "world" },
    labels: p.labels ?? [{ key: "team", value: "data" }],
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

    // A first run may fetch and start a server (Elasticsearch from Maven Central): a generous bound.
    beforeAll(async () => {
      repo = await factory.open();
    }, 600_000);
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
        const day = (n: number) => new Date(Date.UTC(2024, 4, n, 10)).toISOString();
        const rows = [
          makeExecution({ id: `${t}-1`, tenantId: t, namespace: "company", flowId: "a", state: "SUCCESS", startDate: day(1) }),
          makeExecution({ id: `${t}-2`, tenantId: t, namespace: "company.team", flowId: "a", state: "RUNNING", startDate: day(2) }),
          makeExecution({ id: `${t}-3`, tenantId: t, namespace: "company.team", flowId: "b", state: "SUCCESS", startDate: day(3) }),
          makeExecution({ id: `${t}-4`, tenantId: t, namespace: "companyx", flowId: "a", state: "SUCCESS", startDate: day(4) }),
        ];
        await repo.upsertExecutions(rows.map((execution, i) => ({ execution, version: BigInt(i) })));
        const ids = (p: { results: Execution[] }) => p.results.map((e) => e.id);
        const w = { tenantId: t, startDate: "2024-04-01T00:00:00.000Z" };

        const company = await repo.searchExecutions({ ...w, namespace: "company" });
        expect(ids(company)).toEqual([`${t}-3`, `${t}-2`, `${t}-1`]);
        expect(company.total).toBe(3);
        expect(ids(await repo.searchExecutions({ ...w, flowId: "a", states: ["SUCCESS"] }))).toEqual([`${t}-4`, `${t}-1`]);
        expect(ids(await repo.searchExecutions({ ...w, states: TERMINAL_AND_RUNNING, namespace: "company.team" }))).toEqual([`${t}-3`, `${t}-2`]);
        expect(ids(await repo.searchExecutions({ tenantId: t, startDate: "2024-05-02T00:00:00.000Z", endDate: "2024-05-04T00:00:00.000Z" })))
          .toEqual([`${t}-3`, `${t}-2`]);
        const page2 = await repo.searchExecutions({ ...w, size: 3, page: 2 });
        expect(ids(page2)).toEqual([`${t}-1`]);
        expect(page2.total).toBe(4);
        await expect(repo.searchExecutions({ tenantId: t, size: 0 })).rejects.toMatchObject({ code: "QUERY_INVALID" });
      });

      it("bounds a search without startDate to the default window before endDate or now", async () => {
        const t = tenant();
        const now = Date.now();
        const ago = (days: number) => new Date(now - days * 24 * 3600_000).toISOString();
        await repo.upsertExecutions([
          { execution: makeExecution({ id: `${t}-recent`, tenantId: t, startDate: ago(DEFAULT_SEARCH_WINDOW_DAYS - 1) }), version: 1n },
          { execution: makeExecution({ id: `${t}-old`, tenantId: t, startDate: ago(DEFAULT_SEARCH_WINDOW_DAYS + 1) }), version: 1n },
          { execution: makeExecution({ id: `${t}-older`, tenantId: t, startDate: ago(DEFAULT_SEARCH_WINDOW_DAYS + 5) }), version: 1n },
        ]);
        const ids = async (q: Parameters<Repository["searchExecutions"]>[0]) => (await repo.searchExecutions(q)).results.map((e) => e.id);
        expect(await ids({ tenantId: t })).toEqual([`${t}-recent`]);
        expect(await ids({ tenantId: t, startDate: ago(DEFAULT_SEARCH_WINDOW_DAYS + 10) })).toEqual([`${t}-recent`, `${t}-old`, `${t}-older`]);
        // The default window ends at endDate: 30 days before it.
        expect(await ids({ tenantId: t, endDate: ago(DEFAULT_SEARCH_WINDOW_DAYS) })).toEqual([`${t}-old`, `${t}-older`]);
      });

      it("filters by labels (all of them) and free text over id, flow id and labels", async () => {
        const t = tenant();
        await repo.upsertExecutions([
          { execution: makeExecution({ id: `${t}-a`, tenantId: t, flowId: "Nightly-Load", labels: [{ key: "team", value: "data" }, { key: "env", value: "prod" }] }), version: 1n },
          { execution: makeExecution({ id: `${t}-b`, tenantId: t, flowId: "hello", labels: [{ key: "team", value: "data" }, { key: "env", value: "dev" }] }), version: 1n },
          { execution: makeExecution({ id: `${t}-c`, tenantId: t, flowId: "hello", labels: [{ key: "team", value: "web" }] }), version: 1n },
        ]);
        const ids = async (q: Parameters<Repository["searchExecutions"]>[0]) =>
          (await repo.searchExecutions({ tenantId: t, sort: { field: "flowId", order: "asc" }, ...q })).results.map((e) => e.id).sort();
        expect(await ids({ labels: [{ key: "team", value: "data" }] })).toEqual([`${t}-a`, `${t}-b`]);
        expect(await ids({ labels: [{ key: "team", value: "data" }, { key: "env", value: "prod" }] })).toEqual([`${t}-a`]);
        expect(await ids({ labels: [{ key: "team", value: "dat" }] })).toEqual([]);
        expect(await ids({ query: "nightly" })).toEqual([`${t}-a`]);
        expect(await ids({ query: "ENV:DE" })).toEqual([`${t}-b`]);
        expect(await ids({ query: "web" })).toEqual([`${t}-c`]);
        expect(await ids({ query: `${t}-C` })).toEqual([`${t}-c`]);
        expect(await ids({ query: "100%_" })).toEqual([]);
        expect((await repo.searchExecutions({ tenantId: t, query: "hello" })).total).toBe(2);
      });

      it("sorts by a field and pages with cursors through every match exactly once", async () => {
        const t = tenant();
        const base = Date.now() - 3 * 24 * 3600_000;
        const rows: Execution[] = [];
        for (let i = 0; i < 23; i++) {
          // Several executions share a start date: the id breaks ties.
          rows.push(makeExecution({ id: `${t}-${String(i).padStart(2, "0")}`, tenantId: t, namespace: `ns${i % 3}`, startDate: new Date(base + Math.floor(i / 4) * 60_000).toISOString() }));
        }
        await repo.upsertExecutions(rows.map((execution) => ({ execution, version: 1n })));
        for (const sort of [{ field: "startDate", order: "desc" }, { field: "startDate", order: "asc" }, { field: "namespace", order: "asc" }] as const) {
          const seen: string[] = [];
          let cursor: string | undefined;
          for (let guard = 0; guard < 10; guard++) {
            const page = await repo.searchExecutions({ tenantId: t, size: 5, sort, cursor });
            expect(page.total).toBe(23);
            seen.push(...page.results.map((e) => e.id));
            cursor = page.nextCursor;
            if (!cursor) break;
          }
          const expected = [...rows].sort((a, b) => {
            const va = sort.field === "startDate" ? a.startDate : a.namespace;
            const vb = sort.field === "startDate" ? b.startDate : b.namespace;
            const d = (va < vb ? -1 : va > vb ? 1 : 0) * (sort.order === "asc" ? 1 : -1);
            return d || (a.id < b.id ? -1 : 1);
          }).map((e) => e.id);
          expect(seen).toEqual(expected);
        }
        const first = await repo.searchExecutions({ tenantId: t, size: 5 });
        await expect(repo.searchExecutions({ tenantId: t, size: 5, cursor: first.nextCursor, sort: { field: "namespace", order: "asc" } }))
          .rejects.toMatchObject({ code: "QUERY_INVALID" });
        await expect(repo.searchExecutions({ tenantId: t, cursor: "not-a-cursor" })).rejects.toMatchObject({ code: "QUERY_INVALID" });
        await expect(repo.searchExecutions({ tenantId: t, cursor: first.nextCursor, page: 2 })).rejects.toMatchObject({ code: "QUERY_INVALID" });
      });

      it("refuses malformed filters with QUERY_INVALID", async () => {
        for (const q of [{ size: 501 }, { page: 0 }, { startDate: "yesterday" }, { startDate: "2024-05-02T00:00:00Z", endDate: "2024-05-01T00:00:00Z" },
          { query: "x".repeat(201) }, { sort: { field: "bogus", order: "asc" } }, { labels: [{ key: "", value: "x" }] }]) {
          await expect(repo.searchExecutions({ tenantId: tenant(), ...q } as Parameters<Repository["searchExecutions"]>[0])).rejects.toMatchObject({ code: "QUERY_INVALID" });
        }
      });

      it("counts executions per day, namespace, flow and state", async () => {
        const t = tenant();
        const at = (d: number, h: number) => new Date(Date.UTC(2024, 4, d, h)).toISOString();
        await repo.upsertExecutions([
          makeExecution({ tenantId: t, namespace: "a", flowId: "f", state: "SUCCESS", startDate: at(1, 1) }),
          makeExecution({ tenantId: t, namespace: "a", flowId: "f", state: "SUCCESS", startDate: at(1, 23) }),
          makeExecution({ tenantId: t, namespace: "a", flowId: "f", state: "FAILED", startDate: at(1, 5) }),
          makeExecution({ tenantId: t, namespace: "a.b", flowId: "g", state: "SUCCESS", startDate: at(2, 0) }),
          makeExecution({ tenantId: t, namespace: "z", flowId: "f", state: "SUCCESS", startDate: at(2, 0) }),
        ].map((execution) => ({ execution, version: 1n })));
        const w = { tenantId: t, startDate: at(1, 0), endDate: at(3, 0) };
        expect(await repo.dailyStats({ ...w, namespace: "a" })).toEqual([
          { date: "2024-05-01", namespace: "a", flowId: "f", state: "FAILED", count: 1 },
          { date: "2024-05-01", namespace: "a", flowId: "f", state: "SUCCESS", count: 2 },
          { date: "2024-05-02", namespace: "a.b", flowId: "g", state: "SUCCESS", count: 1 },
        ]);
        expect((await repo.dailyStats({ ...w, flowId: "f" })).map((s) => s.count)).toEqual([1, 2, 1]);
        expect(await repo.dailyStats({ tenantId: t })).toEqual([]);
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

    describe("log search", () => {
      it("searches words of messages, by level, execution and window, pages with cursors", async () => {
        const t = tenant();
        const ex1 = randomUUID();
        const ex2 = randomUUID();
        const base = Date.now() - 3600_000;
        const at = (s: number) => new Date(base + s * 1000).toISOString();
        const lines = [
          logLine({ id: "a1", executionId: ex1, tenantId: t, namespace: "company.team", message: "Connecting to the warehouse", timestamp: at(1) }),
          logLine({ id: "a2", executionId: ex1, tenantId: t, namespace: "company.team", level: "ERROR", message: "Warehouse connection refused: timeout", timestamp: at(2) }),
          logLine({ id: "a3", executionId: ex1, tenantId: t, namespace: "company.team", level: "WARN", message: "retrying connection", timestamp: at(3) }),
          logLine({ id: "b1", executionId: ex2, tenantId: t, namespace: "other", flowId: "f2", message: "warehouse loaded 42 rows", timestamp: at(2) }),
          logLine({ id: "b2", executionId: ex2, tenantId: t, namespace: "other", flowId: "f2", level: "DEBUG", message: "done", timestamp: at(4) }),
        ];
        await repo.appendLogs(lines);
        const ids = async (q: Parameters<Repository["searchLogs"]>[0]) => (await repo.searchLogs({ tenantId: t, ...q })).results.map((l) => l.id);
        expect(await ids({})).toEqual(["a1", "a2", "b1", "a3", "b2"]);
        expect(await ids({ order: "desc" })).toEqual(["b2", "a3", "b1", "a2", "a1"]);
        expect(await ids({ query: "warehouse" })).toEqual(["a1", "a2", "b1"]);
        expect(await ids({ query: "WAREHOUSE refused" })).toEqual(["a2"]);
        expect(await ids({ query: "connect" })).toEqual([]);
        expect(await ids({ query: "42" })).toEqual(["b1"]);
        expect(await ids({ minLevel: "WARN" })).toEqual(["a2", "a3"]);
        expect(await ids({ executionId: ex2 })).toEqual(["b1", "b2"]);
        expect(await ids({ namespace: "company" })).toEqual(["a1", "a2", "a3"]);
        expect(await ids({ flowId: "f2", query: "rows" })).toEqual(["b1"]);
        expect(await ids({ startDate: at(2), endDate: at(4) })).toEqual(["a2", "b1", "a3"]);
        expect((await repo.searchLogs({ tenantId: t, query: "warehouse" })).total).toBe(3);

        for (const order of ["asc", "desc"] as const) {
          const seen: string[] = [];
          let cursor: string | undefined;
          for (let guard = 0; guard < 10; guard++) {
            const page = await repo.searchLogs({ tenantId: t, size: 2, order, cursor });
            expect(page.total).toBe(5);
            seen.push(...page.results.map((l) => l.id));
            cursor = page.nextCursor;
            if (!cursor) break;
          }
          expect(seen).toEqual(order === "asc" ? ["a1", "a2", "b1", "a3", "b2"] : ["b2", "a3", "b1", "a2", "a1"]);
        }
        await expect(repo.searchLogs({ tenantId: t, size: 100_000 })).rejects.toMatchObject({ code: "QUERY_INVALID" });
        await expect(repo.searchLogs({ tenantId: t, query: "!!!" })).rejects.toMatchObject({ code: "QUERY_INVALID" });
        await expect(repo.searchLogs({ tenantId: t, minLevel: "LOUD" as "INFO" })).rejects.toMatchObject({ code: "QUERY_INVALID" });
      });

      it("keeps a line too long for the index, cut with a marker", async () => {
        const t = tenant();
        const ex = randomUUID();
        await repo.appendLogs([logLine({ id: `${ex}:big`, executionId: ex, tenantId: t, message: `start ${"x".repeat(200_000)} end` }),
          logLine({ id: `${ex}:small`, executionId: ex, tenantId: t, message: "small one" })]);
        const got = await repo.listLogs(ex);
        expect(got.map((l) => l.id).sort()).toEqual([`${ex}:big`, `${ex}:small`]);
        const big = got.find((l) => l.id === `${ex}:big`);
        expect(big?.message.startsWith("start xxx")).toBe(true);
        expect(big?.message).toMatch(/\[truncated \d+ characters\]$/);
        expect((await repo.searchLogs({ executionId: ex, query: "start" })).total).toBe(1);
      });
    });

    describe("flows from the log and triggers", () => {
      it("putFlowRevision stores a given revision once", async () => {
        const t = tenant();
        const y = flowYaml("company", "fromlog");
        const rev = { tenantId: t, namespace: "company", id: "fromlog", revision: 4, source: y, flow: { ...flowOf(y), revision: 4 }, deleted: false, updated: "2024-05-01T10:00:00.000Z" };
        await repo.putFlowRevision(rev);
        await repo.putFlowRevision({ ...rev, source: "changed" });
        expect(await repo.getFlow(rev)).toMatchObject({ revision: 4, source: y, deleted: false, updated: "2024-05-01T10:00:00.000Z" });
        await repo.putFlowRevision({ ...rev, revision: 2, flow: { ...rev.flow, revision: 2 } });
        expect((await repo.listFlowRevisions(rev)).map((r) => r.revision)).toEqual([2, 4]);
        expect((await repo.listFlows(t)).map((f) => f.revision)).toEqual([4]);
      });

      it("upserts triggers by version, hides deleted ones, pages by key", async () => {
        const t = tenant();
        const trig = (key: string, version: bigint, value: unknown, flowId = "f") =>
          ({ key, tenantId: t, namespace: "company", flowId, triggerId: key.split("/").at(-1) ?? key, value, version, updated: "2024-05-01T10:00:00.000Z" });
        await repo.upsertTriggers([trig(`${t}/k1`, 5n, { next: "10:00" }), trig(`${t}/k2`, 1n, { next: "11:00" }), trig(`${t}/k3`, 1n, { n: 3 }, "g")]);
        await repo.upsertTriggers([trig(`${t}/k1`, 3n, { next: "stale" })]);
        expect((await repo.getTrigger(`${t}/k1`))?.value).toEqual({ next: "10:00" });
        await repo.upsertTriggers([trig(`${t}/k1`, 6n, { next: "12:00", nested: [1, { a: true }] })]);
        expect(await repo.getTrigger(`${t}/k1`)).toMatchObject({ value: { next: "12:00", nested: [1, { a: true }] }, version: 6n, triggerId: "k1" });
        await repo.upsertTriggers([trig(`${t}/k2`, 2n, null)]);
        expect(await repo.getTrigger(`${t}/k2`)).toBeUndefined();
        await repo.upsertTriggers([trig(`${t}/k2`, 1n, { back: "stale" })]);
        expect(await repo.getTrigger(`${t}/k2`)).toBeUndefined();
        const first = await repo.searchTriggers({ tenantId: t, size: 1 });
        expect(first.results.map((x) => x.key)).toEqual([`${t}/k1`]);
        expect(first.total).toBe(2);
        const second = await repo.searchTriggers({ tenantId: t, size: 1, cursor: first.nextCursor });
        expect(second.results.map((x) => x.key)).toEqual([`${t}/k3`]);
        expect((await repo.searchTriggers({ tenantId: t, flowId: "g" })).results.map((x) => x.key)).toEqual([`${t}/k3`]);
        expect(await repo.getTrigger("unknown")).toBeUndefined();
      });
    });
  });
}
