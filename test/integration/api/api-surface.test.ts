/**
 * The rest of the API surface through `fastify.inject`: flow validation without saving (line:column
 * in multi-document YAML), bulk import/export, search, graph; namespaces with counts; daily stats;
 * health and readiness; Prometheus metrics; the OpenAPI document listing every route; request
 * validation errors; and a fuzz run throwing random JSON, YAML and bytes at every route.
 */
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiFixture } from "./api-fixture.js";
import { readSse } from "./sse-client.js";

const A = `id: first
namespace: company.team
tasks:
  - id: a
    type: io.kestra.plugin.core.debug.Return
    format: "a"
`;

const B = `id: second
namespace: company.team.sub
description: the second flow
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: p1
        type: io.kestra.plugin.core.debug.Return
        format: "1"
      - id: p2
        type: io.kestra.plugin.core.debug.Return
        format: "2"
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: done
errors:
  - id: onError
    type: io.kestra.plugin.core.log.Log
    message: failed
`;

const BROKEN = `id: broken
namespace: company.team
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Return
    formatt: oops
`;

describe("API surface", () => {
  let f: ApiFixture;
  let app: FastifyInstance;

  const inject = async (method: "GET" | "POST" | "PUT" | "DELETE", url: string, body?: string, contentType?: string) => {
    const r = await app.inject({ method, url, ...(body !== undefined ? { payload: body, headers: { "content-type": contentType ?? "application/json" } } : {}) });
    let json: unknown;
    try {
      json = r.json();
    } catch {
      json = undefined;
    }
    return { status: r.statusCode, body: json, text: r.body, type: String(r.headers["content-type"] ?? "") };
  };

  beforeAll(async () => {
    f = await new ApiFixture().start();
    app = f.webserver.fastify;
  });
  afterAll(async () => {
    await f.stop();
  });

  describe("flows", () => {
    it("validates multi-document YAML without saving, with line:column in the whole text", async () => {
      const r = await inject("POST", "/api/v1/flows/validate", `${A}---\n${BROKEN}`, "application/x-yaml");
      expect(r.status).toBe(200);
      const [ok, bad] = r.body as Array<{ valid: boolean; errors: Array<{ line: number; column: number; message: string }> }>;
      expect(ok).toMatchObject({ index: 0, valid: true, id: "first", namespace: "company.team", errors: [] });
      expect(bad).toMatchObject({ index: 1, valid: false });
      // `formatt` is on line 6 of the second document, line 13 of the text.
      expect(bad.errors[0]).toMatchObject({ line: 13 });
      expect(bad.errors[0].message).toMatch(/formatt/);
      expect((await inject("GET", "/api/v1/flows/company.team/first")).status).toBe(404);
      expect((await inject("POST", "/api/v1/flows/validate", "", "application/x-yaml")).body).toMatchObject([{ valid: false }]);
    });

    it("imports all or nothing, exports as multi-document YAML, searches", async () => {
      const refused = await inject("POST", "/api/v1/flows/import", `${A}---\n${BROKEN}`, "application/x-yaml");
      expect(refused).toMatchObject({ status: 422, body: { code: "FLOW_INVALID", errors: [{ path: expect.stringMatching(/^documents\[1\]/), line: 13 }] } });
      expect((await inject("GET", "/api/v1/flows/company.team/first")).status).toBe(404);

      const imported = await inject("POST", "/api/v1/flows/import", `---\n${A}---\n${B}`, "application/x-yaml");
      expect(imported).toMatchObject({ status: 200, body: { count: 2 } });
      const exported = await inject("GET", "/api/v1/flows/export/by-query?namespace=company.team");
      expect(exported.type).toMatch(/yaml/);
      expect(exported.text.split(/^---$/m)).toHaveLength(2);
      expect(exported.text).toContain("id: first");
      expect(exported.text).toContain("id: second");
      const reimport = await inject("POST", "/api/v1/flows/import", exported.text, "application/x-yaml");
      expect((reimport.body as { flows: Array<{ revision: number }> }).flows.map((x) => x.revision)).toEqual([1, 1]);

      expect((await inject("GET", "/api/v1/flows/search?q=second")).body).toMatchObject({ total: 1, results: [{ id: "second" }] });
      expect((await inject("GET", "/api/v1/flows/search?q=SECOND%20FLOW")).body).toMatchObject({ total: 1 });
      expect((await inject("GET", "/api/v1/flows/search?namespace=company.team.sub")).body).toMatchObject({ total: 1 });
      expect((await inject("GET", "/api/v1/flows/search?size=1&page=2")).body).toMatchObject({ total: 2, results: [{ id: "second" }] });
      expect(await inject("GET", "/api/v1/flows/search?size=0")).toMatchObject({ status: 400, body: { errors: [{ path: "query.size" }] } });
      expect(await inject("GET", "/api/v1/flows/search?namespace=Bad%20NS")).toMatchObject({ status: 400, body: { errors: [{ path: "query.namespace" }] } });
    });

    it("answers a flow's graph: start, tasks, parallel branches, errors, end", async () => {
      const r = await inject("GET", "/api/v1/flows/company.team.sub/second/graph");
      expect(r.status).toBe(200);
      const g = r.body as { nodes: Array<{ uid: string; kind: string; parent?: string }>; edges: Array<{ source: string; target: string; relation: string }> };
      expect(g.nodes.map((n) => n.uid)).toEqual(expect.arrayContaining(["root.start", "root.end", "par", "par.p1", "par.p2", "after", "onError"]));
      expect(g.edges).toEqual(expect.arrayContaining([
        { source: "root.start", target: "par", relation: "SEQUENTIAL" },
        { source: "par.start", target: "par.p1", relation: "PARALLEL" },
        { source: "par.start", target: "par.p2", relation: "PARALLEL" },
        { source: "par", target: "after", relation: "SEQUENTIAL" },
        { source: "after", target: "root.end", relation: "SEQUENTIAL" },
        { source: "root.start", target: "onError", relation: "ERROR" },
      ]));
      expect((await inject("GET", "/api/v1/flows/company.team/nope/graph")).status).toBe(404);
      expect((await inject("GET", "/api/v1/flows/BAD%20NS/x/graph")).status).toBe(400);
    });
  });

  describe("namespaces, stats, health, metrics", () => {
    it("lists namespaces (parents included) with flow and execution counts", async () => {
      await inject("POST", "/api/v1/executions/company.team/first", "{}");
      const cmd = await f.nextCommand();
      await f.play(cmd);
      expect((await f.repository.waitForTerminal(cmd.executionId, 60_000))?.state.current).toBe("SUCCESS");
      const r = await inject("GET", "/api/v1/namespaces");
      expect(r.body).toMatchObject({ total: 3 });
      const byId = Object.fromEntries((r.body as { results: Array<{ id: string; flowCount: number; executionCount: number }> }).results.map((n) => [n.id, n]));
      expect(byId.company).toMatchObject({ flowCount: 2 });
      expect(byId["company.team.sub"]).toMatchObject({ flowCount: 1, executionCount: 0 });
      expect((await inject("GET", "/api/v1/namespaces/company.team.sub")).body).toMatchObject({ id: "company.team.sub", flowCount: 1 });
      expect((await inject("GET", "/api/v1/namespaces/nowhere")).status).toBe(404);
    });

    it("counts executions per day and state over a bounded window", async () => {
      const all = await f.repository.searchExecutions({ startDate: "2000-01-01T00:00:00Z" });
      const e = all.results[0];
      const day = e.startDate.slice(0, 10);
      const r = await inject("GET", `/api/v1/stats/executions/daily?startDate=${day}T00:00:00Z&endDate=${day}T23:59:59Z`);
      expect(r.status).toBe(200);
      expect(r.body).toEqual([{ date: day, executionCounts: { [e.state.current]: all.total }, total: all.total }]);
      expect((await inject("GET", "/api/v1/stats/executions/daily?startDate=2020-01-01T00:00:00Z&endDate=2024-01-01T00:00:00Z")).status).toBe(400);
      expect((await inject("GET", "/api/v1/stats/executions/daily?startDate=yesterday")).status).toBe(400);
    });

    it("answers liveness, readiness with the indexer lag, and Prometheus metrics", async () => {
      expect((await inject("GET", "/api/v1/health/liveness")).body).toEqual({ status: "UP" });
      const ready = await inject("GET", "/api/v1/health/readiness");
      expect(ready).toMatchObject({ status: 200, body: { status: "UP", checks: { log: { status: "UP" }, repository: { status: "UP" }, indexer: { status: "UP", details: { lag: expect.any(Number) } } } } });
      const metrics = await inject("GET", "/metrics");
      expect(metrics.type).toMatch(/text\/plain/);
      expect(metrics.text).toMatch(/lanner_http_requests_total\{method="GET",route="\/api\/v1\/health\/liveness",status="200"\} \d+/);
      expect((await inject("GET", "/api/v1/metrics")).status).toBe(200);
    });

    it("publishes an OpenAPI document where every route has a summary", async () => {
      const doc = (await inject("GET", "/api/v1/openapi.json")).body as { openapi: string; paths: Record<string, Record<string, { summary?: string }>> };
      expect(doc.openapi).toMatch(/^3\./);
      const undocumented: string[] = [];
      for (const [path, methods] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(methods)) if (!op.summary) undocumented.push(`${method.toUpperCase()} ${path}`);
      }
      expect(undocumented).toEqual([]);
      for (const p of ["/api/v1/executions/{executionId}/kill", "/api/v1/executions/{executionId}/follow", "/api/v1/flows/validate", "/api/v1/auth/tokens", "/api/v1/stats/executions/daily"]) {
        expect(Object.keys(doc.paths)).toContain(p);
      }
      expect(doc.paths["/api/v1/executions/search"].get).toMatchObject({ parameters: expect.arrayContaining([expect.objectContaining({ name: "state", in: "query" })]) });
      expect((await inject("GET", "/api/docs")).status).toBeLessThan(400);
    });
  });

  describe("live follow without an in-process indexer", () => {
    it("follows a new execution to its end on the bounded re-check, and its log lines", async () => {
      const created = await inject("POST", "/api/v1/executions/company.team/first", "{}");
      const id = (created.body as { id: string }).id;
      const following = readSse(`${f.url}/api/v1/executions/${id}/follow`, () => false);
      const logs = readSse(`${f.url}/api/v1/logs/${id}/follow`, () => false);
      await f.play(await f.nextCommand());
      const messages = await following;
      expect(messages.at(-1)?.event).toBe("end");
      const states = messages.filter((m) => m.event === "message").map((m) => (JSON.parse(m.data) as { state: { current: string } }).state.current);
      // Whether it starts from CREATED or from a later state depends on when the stream opened; it ends at the end.
      expect(states.at(-1)).toBe("SUCCESS");
      expect(states.filter((st) => st === "SUCCESS")).toHaveLength(1);
      expect((await logs).at(-1)?.event).toBe("end");
      expect((await inject("GET", `/api/v1/executions/${id}/follow`, undefined)).status).toBe(200);
      expect((await app.inject({ method: "GET", url: `/api/v1/executions/${id}/follow`, headers: { "last-event-id": "yesterday" } })).statusCode).toBe(400);
    });
  });

  describe("bad input", () => {
    it("validates path parameters, queries and bodies with {message, errors: [{path, message}]}", async () => {
      expect(await inject("GET", "/api/v1/executions/bad%20id")).toMatchObject({ status: 400, body: { errors: [{ path: "path.executionId" }] } });
      expect(await inject("GET", "/api/v1/executions/search?unknown=1")).toMatchObject({ status: 400, body: { errors: [{ path: "query" }] } });
      expect(await inject("GET", "/api/v1/executions/search?state=NOPE")).toMatchObject({ status: 400, body: { errors: [{ path: expect.stringMatching(/^query\.state/) }] } });
      expect(await inject("GET", "/api/v1/executions/search?sort=flowId:sideways")).toMatchObject({ status: 400 });
      expect(await inject("DELETE", "/api/v1/executions/kill/by-ids", '{"ids": 1}')).toMatchObject({ status: 422, body: { errors: [{ path: "body" }] } });
      const huge = await app.inject({ method: "POST", url: "/api/v1/flows/validate", payload: "x".repeat(11 * 1024 * 1024), headers: { "content-type": "application/x-yaml" } });
      expect(huge.statusCode).toBe(413);
      expect(huge.json()).toMatchObject({ message: expect.any(String), errors: [{ path: "body" }] });
    });

    it("answers only 4xx to random JSON, YAML and bytes on every route, and keeps answering", async () => {
      const doc = (await inject("GET", "/api/v1/openapi.json")).body as { paths: Record<string, Record<string, unknown>> };
      const routes = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => ({ method: m.toUpperCase(), path })))
        .filter((r) => ["GET", "POST", "PUT", "DELETE"].includes(r.method) && !r.path.startsWith("/api/docs"));
      expect(routes.length).toBeGreaterThan(30);
      const segment = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom("company.team", "hello", "..", "%00", "a".repeat(300), "0Qz9OUOea6qprCDlne2gpp"));
      const body = fc.oneof(
        fc.json().map((j) => ({ payload: j, type: "application/json" })),
        fc.string({ maxLength: 300 }).map((s) => ({ payload: `id: ${s}\nnamespace: [${s}\ntasks: {{`, type: "application/x-yaml" })),
        fc.uint8Array({ maxLength: 300 }).map((b) => ({ payload: Buffer.from(b), type: "application/octet-stream" })),
        fc.uint8Array({ maxLength: 300 }).map((b) => ({ payload: Buffer.from(b), type: "multipart/form-data; boundary=xyz" })),
        fc.string({ maxLength: 100 }).map((s) => ({ payload: s, type: "application/json" })),
      );
      const query = fc.dictionary(fc.constantFrom("state", "namespace", "size", "page", "path", "taskRunId", "q", "labels", "wait", "sort", "revision", "startDate", "minLevel", "x"), fc.string({ maxLength: 20 }), { maxKeys: 3 });
      await fc.assert(fc.asyncProperty(fc.constantFrom(...routes), fc.array(segment, { minLength: 3, maxLength: 3 }), body, query, async (route, segs, b, q) => {
        let i = 0;
        const path = route.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(segs[i++ % segs.length]));
        const qs = new URLSearchParams(q).toString();
        if (route.path.endsWith("/follow") || q.wait !== undefined) return; // long-lived by design; covered elsewhere
        const r = await app.inject({ method: route.method as "GET", url: `${path}${qs ? `?${qs}` : ""}`, payload: route.method === "GET" ? undefined : b.payload, headers: route.method === "GET" ? {} : { "content-type": b.type } });
        if (r.statusCode >= 500) throw new Error(`${route.method} ${path}?${qs} (${b.type}: ${JSON.stringify(String(b.payload)).slice(0, 200)}) → ${r.statusCode}: ${r.body}`);
        expect(r.body).not.toMatch(/\n\s+at .*\.(ts|js):\d+/);
      }), { numRuns: 400, seed: 20261129 });
      expect((await inject("GET", "/api/v1/health")).status).toBe(200);
    });
  });
});
