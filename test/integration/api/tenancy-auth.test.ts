/**
 * Multi-tenancy and authentication: tenants created through the API, basic auth from the
 * configuration (scrypt hashes), tokens scoped to tenants, and isolation — a token of tenant beta
 * gets 404 (never 403) on every resource of tenant alpha, through every endpoint family.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashSecret } from "../../../api/password-hash.js";
import { Webserver } from "../../../api/server.js";
import { silentLogger } from "../../../common/logger.js";
import type { Execution } from "../../../processors/executor/model.js";
import { avroRecordCodec as codec } from "../../../processors/worker/record-codec.js";
import { ApiFixture } from "./api-fixture.js";
import { readSse } from "./sse-client.js";

const FLOW = `id: hello
namespace: company.team
tasks:
  - id: greet
    type: io.kestra.plugin.core.debug.Return
    format: "hello"
`;

interface Answer {
  status: number;
  body: unknown;
  text: string;
}

describe("tenants and authentication", () => {
  let f: ApiFixture;
  const admin = `Basic ${Buffer.from("admin:correct horse").toString("base64")}`;
  let alphaToken = "";
  let betaToken = "";
  let alphaTokenId = "";
  let alphaExecution: Execution;

  const http = async (path: string, auth: string | undefined, init: RequestInit = {}): Promise<Answer> => {
    const headers = new Headers(init.headers);
    if (auth) headers.set("authorization", auth);
    const res = await fetch(`${f.url}${path}`, { ...init, headers });
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, body, text };
  };
  const json = (body: unknown, method = "POST"): RequestInit => ({ method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const yaml = (body: string): RequestInit => ({ method: "POST", headers: { "content-type": "application/x-yaml" }, body });
  const bearer = (t: string) => `Bearer ${t}`;

  beforeAll(async () => {
    f = await new ApiFixture({
      tenancy: { enabled: true, defaultTenant: "main", tenants: [] },
      auth: { users: [{ username: "admin", password: await hashSecret("correct horse"), tenants: "*", admin: true }], tokens: [] },
    }).start();
  });
  afterAll(async () => {
    await f.stop();
  });

  it("asks for credentials everywhere but health and the OpenAPI document", async () => {
    expect(await http("/api/v1/main/flows/company.team", undefined)).toMatchObject({ status: 401, body: { code: "UNAUTHORIZED" } });
    expect((await http("/api/v1/main/flows/company.team", `Basic ${Buffer.from("admin:wrong").toString("base64")}`)).status).toBe(401);
    expect((await http("/api/v1/main/flows/company.team", "Bearer lnr_nope_nope")).status).toBe(401);
    expect((await http("/api/v1/main/flows/company.team", "Digest abc")).status).toBe(401);
    expect((await http("/api/v1/main/flows/company.team", admin)).status).toBe(200);
    expect((await http("/api/v1/health", undefined)).status).toBe(200);
    expect((await http("/api/v1/openapi.json", undefined)).status).toBe(200);
    expect((await http("/metrics", undefined)).status).toBe(401);
  });

  it("creates tenants through the API (admins only); unknown and reserved tenants are 404", async () => {
    expect((await http("/api/v1/tenants", admin, json({ id: "alpha" }))).status).toBe(201);
    expect((await http("/api/v1/tenants", admin, json({ id: "beta", name: "Beta team" }))).status).toBe(201);
    expect((await http("/api/v1/tenants", admin, json({ id: "alpha" }))).status).toBe(409);
    expect(await http("/api/v1/tenants", admin, json({ id: "Not A Tenant" }))).toMatchObject({ status: 422, body: { errors: [{ path: "body.id" }] } });
    expect((await http("/api/v1/tenants", admin, json({ id: "health" }))).status).toBe(422);
    expect((await http("/api/v1/tenants", admin)).body).toEqual(expect.arrayContaining([expect.objectContaining({ id: "alpha" }), expect.objectContaining({ id: "beta", name: "Beta team" })]));
    expect(await http("/api/v1/gamma/flows/company.team", admin)).toMatchObject({ status: 404, body: { code: "TENANT_NOT_FOUND" } });

    const a = await http("/api/v1/auth/tokens", admin, json({ name: "alpha-ci", tenants: ["alpha"] }));
    expect(a.status).toBe(201);
    ({ token: alphaToken, id: alphaTokenId } = a.body as { token: string; id: string });
    betaToken = ((await http("/api/v1/auth/tokens", admin, json({ name: "beta-ci", tenants: ["beta"] }))).body as { token: string }).token;
    expect(alphaToken).toMatch(/^lnr_/);
    const listed = (await http("/api/v1/auth/tokens", admin)).text;
    expect(listed).toContain("alpha-ci");
    expect(listed).not.toContain(alphaToken);
    expect(listed).not.toContain("scrypt$");
    // A tenant token is no administrator.
    expect((await http("/api/v1/tenants", bearer(alphaToken), json({ id: "delta" }))).status).toBe(403);
  });

  it("keeps the same namespace.id apart in two tenants", async () => {
    expect((await http("/api/v1/alpha/flows", bearer(alphaToken), yaml(FLOW))).status).toBe(200);
    expect((await http("/api/v1/beta/flows", bearer(betaToken), yaml(FLOW.replace('"hello"', '"hello beta"')))).status).toBe(200);
    const alphaFlow = (await http("/api/v1/alpha/flows/company.team/hello", bearer(alphaToken))).body as { tenantId: string; source: string };
    const betaFlow = (await http("/api/v1/beta/flows/company.team/hello", bearer(betaToken))).body as { tenantId: string; source: string };
    expect(alphaFlow.tenantId).toBe("alpha");
    expect(betaFlow.tenantId).toBe("beta");
    expect(betaFlow.source).toContain("hello beta");

    const created = await http("/api/v1/alpha/executions/company.team/hello", bearer(alphaToken), json({}));
    expect(created.status).toBe(200);
    const cmd = await f.nextCommand();
    expect(cmd.flow.tenantId).toBe("alpha");
    await f.play(cmd);
    const done = await f.repository.waitForTerminal(cmd.executionId, 60_000);
    expect(done?.tenantId).toBe("alpha");
    alphaExecution = done as Execution;
    await f.repository.appendLogs([{ id: "alpha-log-1", tenantId: "alpha", namespace: "company.team", flowId: "hello", executionId: alphaExecution.id, level: "INFO", message: "secret of alpha", timestamp: new Date().toISOString() }]);
    expect((await http(`/api/v1/alpha/executions/${alphaExecution.id}`, bearer(alphaToken))).status).toBe(200);
    expect(((await http(`/api/v1/alpha/logs/${alphaExecution.id}`, bearer(alphaToken))).body as unknown[]).length).toBe(1);
  });

  it("answers 404 (not 403) to a token of beta on every resource of alpha", async () => {
    const id = alphaExecution.id;
    const file = encodeURIComponent(`lanner:///alpha/company/team/hello/executions/${id}/x.txt`);
    const beta = bearer(betaToken);
    // Through alpha's prefix: the tenant itself is not found for this token.
    const alphaPaths: Array<[string, RequestInit?]> = [
      ["/api/v1/alpha/flows/company.team/hello"], ["/api/v1/alpha/flows/company.team"], ["/api/v1/alpha/flows/search"],
      ["/api/v1/alpha/flows/company.team/hello/graph"], ["/api/v1/alpha/flows/company.team/hello/revisions"],
      [`/api/v1/alpha/executions/${id}`], ["/api/v1/alpha/executions/search"], [`/api/v1/alpha/logs/${id}`], ["/api/v1/alpha/logs/search"],
      [`/api/v1/alpha/executions/${id}/file?path=${file}`], ["/api/v1/alpha/namespaces"], ["/api/v1/alpha/stats/executions/daily"],
      [`/api/v1/alpha/executions/${id}/kill`, { method: "DELETE" }], [`/api/v1/alpha/executions/${id}`, { method: "DELETE" }],
      ["/api/v1/alpha/executions/company.team/hello", json({})], ["/api/v1/alpha/flows", yaml(FLOW)],
    ];
    for (const [path, init] of alphaPaths) {
      const r = await http(path, beta, init);
      expect({ path, status: r.status }).toEqual({ path, status: 404 });
      expect(r.text).not.toContain("secret of alpha");
    }
    // Through beta's own prefix: alpha's resources do not exist there.
    for (const path of [`/api/v1/beta/executions/${id}`, `/api/v1/beta/executions/${id}/file?path=${file}`, `/api/v1/beta/executions/${id}/follow`]) {
      expect({ path, status: (await http(path, beta)).status }).toEqual({ path, status: 404 });
    }
    expect((await http(`/api/v1/beta/executions/${id}/restart`, beta, { method: "POST" })).status).toBe(404);
    expect((await http(`/api/v1/beta/executions/${id}/labels`, beta, json([{ key: "a", value: "b" }]))).status).toBe(404);
    expect((await http(`/api/v1/beta/logs/${id}`, beta)).body).toEqual([]);
    const search = (await http("/api/v1/beta/executions/search", beta)).body as { results: Execution[]; total: number };
    expect(search.results.map((e) => e.id)).not.toContain(id);
    expect(((await http("/api/v1/beta/logs/search?q=secret", beta)).body as { total: number }).total).toBe(0);
    expect((await http("/api/v1/beta/executions/kill/by-ids", beta, json([id], "DELETE"))).body).toEqual({ count: 0 });
    // The follow stream of alpha's execution is not reachable through alpha's prefix either.
    await expect(readSse(`${f.url}/api/v1/alpha/executions/${id}/follow`, () => true, { authorization: beta })).rejects.toThrow(/HTTP 404/);
    // And alpha's own token follows it.
    const own = await readSse(`${f.url}/api/v1/alpha/executions/${id}/follow`, () => false, { authorization: bearer(alphaToken) });
    expect(own.map((m) => m.event)).toEqual(["message", "end"]);
  });

  it("a revoked token stops working at once", async () => {
    expect((await http("/api/v1/alpha/namespaces", bearer(alphaToken))).status).toBe(200);
    expect((await http(`/api/v1/auth/tokens/${alphaTokenId}`, admin, { method: "DELETE" })).status).toBe(204);
    expect((await http("/api/v1/alpha/namespaces", bearer(alphaToken))).status).toBe(401);
    expect((await http(`/api/v1/auth/tokens/${alphaTokenId}`, admin, { method: "DELETE" })).status).toBe(404);
  });

  it("users created through the API log in with basic auth, scoped to their tenants", async () => {
    expect((await http("/api/v1/auth/users", admin, json({ username: "ann", password: "s3cret-enough", tenants: ["beta"] }, "PUT"))).status).toBe(200);
    const ann = `Basic ${Buffer.from("ann:s3cret-enough").toString("base64")}`;
    expect((await http("/api/v1/beta/flows/company.team/hello", ann)).status).toBe(200);
    expect((await http("/api/v1/alpha/flows/company.team/hello", ann)).status).toBe(404);
    expect((await http("/api/v1/auth/users", admin, json({ username: "bob", password: "short" }, "PUT"))).status).toBe(422);
  });

  it("refuses to listen on a non-loopback address without authentication", async () => {
    const w = new Webserver({ config: { host: "0.0.0.0", port: 0, dataDir: f.dir }, log: f.log, repository: f.repository, logger: silentLogger(), codec, storage: f.storage });
    await expect(w.start()).rejects.toMatchObject({ code: "AUTH_REQUIRED", message: expect.stringContaining("without authentication") });
  });
});
