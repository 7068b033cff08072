/**
 * Execution and log search through the API pass every repository filter through (labels
 * `key:value` repeatable, free text `q`, sort `field:order`, cursor, states, time window, page and
 * page size), and refuse a malformed filter or an unbounded page size with a 400 QUERY_INVALID that
 * says what is wrong — whether the API's own checks or the repository's find it. Readiness reports
 * the indexer's lag over every topic it reads, and /metrics exports the lag gauge.
 */
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Execution, State } from "../../../processors/executor/model.js";
import type { LogEntry, LogLevel } from "../../../projections/repository.js";
import { ApiFixture } from "./api-fixture.js";

interface Answer {
  status: number;
  body: unknown;
}

interface SearchPage<T> {
  results: T[];
  total: number;
  nextCursor?: string;
}

function execution(id: string, tenantId: string, namespace: string, flowId: string, state: State, startDate: string, labels: Array<[string, string]>): Execution {
  return {
    id, tenantId, namespace, flowId, flowRevision: 1, state: { current: state, histories: [{ state, date: startDate }] },
    inputs: {}, labels: labels.map(([key, value]) => ({ key, value })), taskRunList: [], originalId: id, attemptNumber: 1, startDate,
  };
}

function line(id: string, executionId: string, namespace: string, flowId: string, level: LogLevel, message: string, timestamp: string, taskRunId?: string): LogEntry {
  return { id, tenantId: "main", namespace, flowId, executionId, level, message, timestamp, ...(taskRunId ? { taskRunId, taskId: "t" } : {}) };
}

/** Inside the window every execution query below uses, unless it tests the window itself. */
const WINDOW = "startDate=2025-02-15T00:00:00Z&endDate=2025-04-01T00:00:00Z";

describe("search filters through the API", () => {
  let f: ApiFixture;
  let app: FastifyInstance;

  const get = async (url: string): Promise<Answer> => {
    const r = await app.inject({ method: "GET", url });
    return { status: r.statusCode, body: r.json() };
  };
  const ids = async (query: string): Promise<string[]> => {
    const r = await get(`/api/v1/executions/search?${query}`);
    expect(r.status).toBe(200);
    return (r.body as SearchPage<Execution>).results.map((e) => e.id);
  };
  const messages = async (query: string): Promise<string[]> => {
    const r = await get(`/api/v1/logs/search?${query}`);
    expect(r.status).toBe(200);
    return (r.body as SearchPage<LogEntry>).results.map((l) => l.message);
  };
  /** Expects a 400 QUERY_INVALID whose message (and first error) mentions `what`. */
  const refused = async (url: string, what: RegExp) => {
    const r = await get(url);
    expect(r.status, url).toBe(400);
    const body = r.body as { code: string; message: string; errors: Array<{ path: string; message: string }> };
    expect(body.code, url).toBe("QUERY_INVALID");
    expect(body.message, url).toMatch(what);
    expect(body.errors.length, url).toBeGreaterThan(0);
    expect(body.errors[0].path, url).toMatch(/^query/);
  };

  beforeAll(async () => {
    f = await new ApiFixture().start();
    app = f.webserver.fastify;
    await f.repository.upsertExecutions([
      execution("exec1", "main", "company.team", "alpha", "SUCCESS", "2025-03-01T10:00:00.000Z", [["env", "prod"], ["team", "data"]]),
      execution("exec2", "main", "company.team", "beta", "FAILED", "2025-03-02T10:00:00.000Z", [["env", "prod"]]),
      execution("exec3", "main", "company.other", "alpha", "RUNNING", "2025-03-03T10:00:00.000Z", [["env", "dev"], ["team", "data"]]),
      execution("exec4", "main", "company.team", "gamma", "SUCCESS", "2025-03-04T10:00:00.000Z", [["env", "dev"]]),
      execution("exec5", "main", "company.team", "alpha", "SUCCESS", "2024-01-01T10:00:00.000Z", [["env", "prod"]]),
      execution("exec6", "other", "company.team", "alpha", "SUCCESS", "2025-03-01T11:00:00.000Z", [["env", "prod"], ["team", "data"]]),
    ].map((execution, i) => ({ execution, version: BigInt(i) })));
    await f.repository.appendLogs([
      line("l1", "exec1", "company.team", "alpha", "INFO", "starting the copy", "2025-03-01T10:00:01.000Z", "tr1"),
      line("l2", "exec1", "company.team", "alpha", "WARN", "disk almost full", "2025-03-01T10:00:02.000Z", "tr1"),
      line("l3", "exec1", "company.team", "alpha", "ERROR", "the disk is full", "2025-03-01T10:00:03.000Z", "tr2"),
      line("l4", "exec3", "company.other", "alpha", "DEBUG", "copy done", "2025-03-03T10:00:01.000Z"),
      line("l5", "exec3", "company.other", "alpha", "INFO", "full report sent", "2025-03-03T10:00:02.000Z"),
    ]);
  });
  afterAll(async () => {
    await f.stop();
  });

  describe("executions", () => {
    it("labels: every repeated key:value must match", async () => {
      expect(await ids(`${WINDOW}&labels=env:prod&labels=team:data`)).toEqual(["exec1"]);
      expect(await ids(`${WINDOW}&labels=env:prod`)).toEqual(["exec2", "exec1"]);
      expect(await ids(`${WINDOW}&labels=env:staging`)).toEqual([]);
    });

    it("free text q over ids, flow ids and labels, case-insensitive", async () => {
      expect(await ids(`${WINDOW}&q=gamm`)).toEqual(["exec4"]);
      expect(await ids(`${WINDOW}&q=TEAM:DATA`)).toEqual(["exec3", "exec1"]);
    });

    it("states (repeatable), namespace prefix and flow id", async () => {
      expect(await ids(`${WINDOW}&state=SUCCESS&state=failed`)).toEqual(["exec4", "exec2", "exec1"]);
      expect(await ids(`${WINDOW}&namespace=company.team&flowId=alpha`)).toEqual(["exec1"]);
      expect(await ids(`${WINDOW}&namespace=company`)).toEqual(["exec4", "exec3", "exec2", "exec1"]);
    });

    it("sort field:order, ties by id", async () => {
      expect(await ids(`${WINDOW}&sort=flowId:asc`)).toEqual(["exec1", "exec3", "exec2", "exec4"]);
      expect(await ids(`${WINDOW}&sort=startDate:asc`)).toEqual(["exec1", "exec2", "exec3", "exec4"]);
      expect(await ids(`${WINDOW}&sort=namespace:desc`)).toEqual(["exec1", "exec2", "exec4", "exec3"]);
    });

    it("time window: an explicit one, and the bounded default before endDate", async () => {
      expect(await ids("startDate=2024-01-01T00:00:00Z&endDate=2024-12-31T00:00:00Z")).toEqual(["exec5"]);
      // No startDate: DEFAULT_SEARCH_WINDOW_DAYS (30) before endDate, so from 2025-03-02T00:00Z.
      expect(await ids("endDate=2025-04-01T00:00:00Z")).toEqual(["exec4", "exec3", "exec2"]);
    });

    it("pages by cursor and by page number, with the total of every match", async () => {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 5; i++) {
        const r = await get(`/api/v1/executions/search?${WINDOW}&sort=startDate:asc&size=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
        const page = r.body as SearchPage<Execution>;
        expect(page.total).toBe(4);
        expect(page.results.length).toBeLessThanOrEqual(3);
        seen.push(...page.results.map((e) => e.id));
        cursor = page.nextCursor;
        if (!cursor) break;
      }
      expect(seen).toEqual(["exec1", "exec2", "exec3", "exec4"]);
      expect(await ids(`${WINDOW}&sort=startDate:asc&page=2&size=3`)).toEqual(["exec4"]);
    });

    it("refuses malformed filters and unbounded page sizes with 400 QUERY_INVALID", async () => {
      const base = "/api/v1/executions/search?";
      await refused(`${base}size=0`, /size/);
      await refused(`${base}size=501`, /size/);
      await refused(`${base}size=100000000`, /size/);
      await refused(`${base}size=ten`, /size/);
      await refused(`${base}page=0`, /page/);
      await refused(`${base}sort=state:asc`, /sort/);
      await refused(`${base}state=NOPE`, /state/);
      await refused(`${base}labels=nocolon`, /labels/);
      await refused(`${base}startDate=yesterday`, /startDate/);
      await refused(`${base}q=${"x".repeat(201)}`, /q/);
      await refused(`${base}colour=red`, /colour|unrecognized/i);
      // Found by the repository, not by the query schema.
      await refused(`${base}cursor=not-a-cursor`, /cursor/);
      await refused(`${base}startDate=2025-03-02T00:00:00Z&endDate=2025-03-01T00:00:00Z`, /startDate.*before endDate/);
      await refused(`${base}q=${encodeURIComponent("a\u0001b")}`, /control characters/);
      const first = (await get(`${base}${WINDOW}&size=1`)).body as SearchPage<Execution>;
      await refused(`${base}${WINDOW}&size=1&sort=flowId:asc&cursor=${encodeURIComponent(first.nextCursor ?? "")}`, /another sort/);
    });
  });

  describe("logs", () => {
    it("free text: every word must be a word of the line", async () => {
      expect(await messages("executionId=exec1&q=disk%20full")).toEqual(["disk almost full", "the disk is full"]);
      expect(await messages(`${WINDOW}&q=full`)).toEqual(["disk almost full", "the disk is full", "full report sent"]);
    });

    it("level, execution, task run, namespace, flow and window filters", async () => {
      expect(await messages(`${WINDOW}&minLevel=warn`)).toEqual(["disk almost full", "the disk is full"]);
      expect(await messages("executionId=exec1&taskRunId=tr1")).toEqual(["starting the copy", "disk almost full"]);
      expect(await messages(`${WINDOW}&namespace=company.other&flowId=alpha`)).toEqual(["copy done", "full report sent"]);
      expect(await messages("startDate=2025-03-01T10:00:02Z&endDate=2025-03-03T00:00:00Z")).toEqual(["disk almost full", "the disk is full"]);
    });

    it("orders newest first on request and pages by cursor", async () => {
      expect(await messages(`${WINDOW}&order=desc&size=2`)).toEqual(["full report sent", "copy done"]);
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 5; i++) {
        const page = (await get(`/api/v1/logs/search?${WINDOW}&size=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`)).body as SearchPage<LogEntry>;
        expect(page.total).toBe(5);
        seen.push(...page.results.map((l) => l.id));
        cursor = page.nextCursor;
        if (!cursor) break;
      }
      expect(seen).toEqual(["l1", "l2", "l3", "l4", "l5"]);
    });

    it("refuses malformed filters and unbounded page sizes with 400 QUERY_INVALID", async () => {
      const base = "/api/v1/logs/search?";
      await refused(`${base}size=501`, /size/);
      await refused(`${base}size=0`, /size/);
      await refused(`${base}minLevel=LOUD`, /minLevel/);
      await refused(`${base}order=sideways`, /order/);
      await refused(`${base}endDate=tomorrow`, /endDate/);
      await refused(`${base}executionId=${encodeURIComponent("bad id")}`, /executionId/);
      // Found by the repository.
      await refused(`${base}q=${encodeURIComponent("!!!")}`, /query|word/i);
      await refused(`${base}cursor=garbage`, /cursor/);
      await refused(`${base}startDate=2025-03-02T00:00:00Z&endDate=2025-03-01T00:00:00Z`, /before endDate/);
    });
  });

  describe("readiness and metrics", () => {
    const lagNow = async (): Promise<number> => {
      const r = await get("/api/v1/health/readiness");
      expect(r.status).toBe(200);
      return (r.body as { checks: { indexer: { details: { lag: number } } } }).checks.indexer.details.lag;
    };

    it("reports the indexer's lag over the flows topic too, and the lag drains once it runs", async () => {
      expect(await lagNow()).toBe(await f.indexer.lag().then(Number));
      await f.indexer.stop();
      const deployed = await app.inject({ method: "POST", url: "/api/v1/flows", payload: "id: lagging\nnamespace: company.team\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.debug.Return\n    format: a\n", headers: { "content-type": "application/x-yaml" } });
      expect(deployed.statusCode).toBe(200);
      expect(await lagNow()).toBe(1);
      expect(Number(await f.indexer.lag())).toBe(1);
      await f.indexer.start();
      let lag = -1;
      // Bounded: the indexer commits the flow record within a few deliveries.
      for (let i = 0; i < 500 && lag !== 0; i++) {
        lag = await lagNow();
        if (lag !== 0) await new Promise((r) => setTimeout(r, 10));
      }
      expect(lag).toBe(0);
    });

    it("exports the lag gauge in the Prometheus text", async () => {
      const metrics = await app.inject({ method: "GET", url: "/metrics" });
      expect(metrics.body).toMatch(/^# TYPE lanner_indexer_lag_records gauge$/m);
      expect(metrics.body).toMatch(/^lanner_indexer_lag_records \d+$/m);
    });
  });
});
