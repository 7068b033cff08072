/**
 * The KV endpoints over HTTP, without and with multi-tenancy: store (JSON or text, type inferred,
 * ttl and description headers), read with its type, list, delete one or several; values written
 * by tasks (the store on the same internal storage) are the ones served; another tenant's key is
 * 404; bad keys, bodies and headers are 4xx with a clear message.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StorageKvStore } from "../../../storage/kv-store.js";
import { ApiFixture } from "./api-fixture.js";

interface Answer {
  status: number;
  body: unknown;
}

function client(f: () => ApiFixture) {
  return async (method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> => {
    const res = await fetch(`${f().url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: kept as text
    }
    return { status: res.status, body: parsed };
  };
}

describe("KV API (one tenant)", () => {
  let f: ApiFixture;
  const http = client(() => f);
  beforeAll(async () => {
    f = await new ApiFixture().start();
  });
  afterAll(async () => {
    await f.stop();
  });

  const base = "/api/v1/namespaces/company.team/kv";
  const json = { "content-type": "application/json" };
  const text = { "content-type": "text/plain" };

  it("stores values with the type Kestra infers and reads them back as {type, value}", async () => {
    const cases: Array<[string, Record<string, string>, unknown]> = [
      ['"hello"', json, { type: "STRING", value: "hello" }],
      ["hello world", text, { type: "STRING", value: "hello world" }],
      ["42.5", json, { type: "NUMBER", value: 42.5 }],
      ["true", text, { type: "BOOLEAN", value: true }],
      ['{"a": [1, {"b": null}]}', json, { type: "JSON", value: { a: [1, { b: null }] } }],
      ["[1, 2]", text, { type: "JSON", value: [1, 2] }],
      ["2024-05-01T12:00:00+02:00", text, { type: "DATETIME", value: "2024-05-01T10:00:00.000Z" }],
      ["2024-05-01", text, { type: "DATE", value: "2024-05-01" }],
      ["PT5M", text, { type: "DURATION", value: "PT5M" }],
      ['"P1D"', json, { type: "DURATION", value: "P1D" }],
    ];
    for (const [i, [body, headers, expected]] of cases.entries()) {
      const put = await http("PUT", `${base}/k${i}`, body, headers);
      expect(put.status, body).toBe(200);
      expect(put.body).toMatchObject({ key: `k${i}`, creationDate: expect.any(String), updateDate: expect.any(String) });
      expect(await http("GET", `${base}/k${i}`)).toEqual({ status: 200, body: expected });
    }
  });

  it("lists keys with their dates, honours ttl and description headers, and deletes", async () => {
    const ns = "/api/v1/namespaces/app.list/kv";
    expect(await http("GET", ns)).toEqual({ status: 200, body: [] });
    expect((await http("PUT", `${ns}/b`, '"v"', { ...json, ttl: "PT1H", description: "with ttl" })).status).toBe(200);
    expect((await http("PUT", `${ns}/a`, "1", json)).status).toBe(200);
    const list = await http("GET", ns);
    expect(list.status).toBe(200);
    const [a, b] = list.body as Array<Record<string, string>>;
    expect(a).toEqual({ key: "a", creationDate: expect.any(String), updateDate: expect.any(String) });
    expect(b).toMatchObject({ key: "b", description: "with ttl" });
    expect(Date.parse(b.expirationDate) - Date.parse(b.updateDate)).toBe(3_600_000);

    expect(await http("DELETE", `${ns}/a`)).toEqual({ status: 200, body: true });
    expect(await http("DELETE", `${ns}/a`)).toEqual({ status: 200, body: false });
    expect(await http("GET", `${ns}/a`)).toMatchObject({ status: 404, body: { code: "KV_KEY_NOT_FOUND", message: "No value found for key 'a' in namespace 'app.list'" } });

    for (const k of ["x", "y", "z"]) await http("PUT", `${ns}/${k}`, '"v"', json);
    expect(await http("DELETE", ns, JSON.stringify({ keys: ["x", "z", "missing"] }), json)).toEqual({ status: 200, body: { keys: ["x", "z"] } });
    expect(((await http("GET", ns)).body as Array<{ key: string }>).map((e) => e.key)).toEqual(["b", "y"]);
  });

  it("serves what a task stored in the same internal storage, and a task reads what the API stored", async () => {
    const store = new StorageKvStore(f.storage);
    await store.put({ tenantId: "main", namespace: "from.flow" }, "result", { type: "JSON", value: { rows: 3 } });
    expect(await http("GET", "/api/v1/namespaces/from.flow/kv/result")).toEqual({ status: 200, body: { type: "JSON", value: { rows: 3 } } });
    await http("PUT", "/api/v1/namespaces/from.flow/kv/setting", "12", json);
    expect(await store.get({ tenantId: "main", namespace: "from.flow" }, "setting")).toMatchObject({ type: "NUMBER", value: 12 });
  });

  it("refuses bad keys, namespaces, bodies and headers with 4xx and a clear message", async () => {
    const badKey = await http("GET", `${base}/_hidden`);
    expect(badKey).toMatchObject({ status: 400, body: { code: "PATH_INVALID", errors: [{ path: "path.key" }] } });
    expect((badKey.body as { message: string }).message).toContain("a KV key (letters, digits, ., _ and -, starting with a letter or digit)");
    expect(await http("PUT", `${base}/bad%20key`, '"v"', json)).toMatchObject({ status: 400, body: { code: "PATH_INVALID" } });
    expect(await http("PUT", `${base}/${"k".repeat(201)}`, '"v"', json)).toMatchObject({ status: 400 });
    expect(await http("GET", "/api/v1/namespaces/Bad..NS/kv")).toMatchObject({ status: 400, body: { errors: [{ path: "path.namespace" }] } });
    expect(await http("PUT", `${base}/k`, "{not json", json)).toMatchObject({ status: 422, body: { code: "BODY_INVALID" } });
    expect(await http("PUT", `${base}/k`, "   ", text)).toMatchObject({ status: 422, body: { code: "BODY_INVALID" } });
    const ttl = await http("PUT", `${base}/k`, '"v"', { ...json, ttl: "one hour" });
    expect(ttl).toMatchObject({ status: 422, body: { code: "DURATION_INVALID" } });
    expect((ttl.body as { message: string }).message).toContain("ISO-8601 duration");
    expect(await http("GET", `${base}/k`)).toMatchObject({ status: 404 });
    expect(await http("DELETE", base, '{"keys": ["ok", "not ok"]}', json)).toMatchObject({ status: 422, body: { code: "BODY_INVALID" } });
    expect(await http("DELETE", base, "keys", text)).toMatchObject({ status: 422, body: { code: "BODY_INVALID" } });
  });
});

describe("KV API (multi-tenancy)", () => {
  let f: ApiFixture;
  const http = client(() => f);
  beforeAll(async () => {
    f = await new ApiFixture({ tenancy: { enabled: true, defaultTenant: "main", tenants: ["acme"] } }).start();
  });
  afterAll(async () => {
    await f.stop();
  });

  it("keeps each tenant's keys to itself: another tenant's key is 404 and absent from its list", async () => {
    const json = { "content-type": "application/json" };
    expect((await http("PUT", "/api/v1/main/namespaces/company.team/kv/token", '"main secret"', json)).status).toBe(200);
    expect(await http("GET", "/api/v1/main/namespaces/company.team/kv/token")).toEqual({ status: 200, body: { type: "STRING", value: "main secret" } });
    expect(await http("GET", "/api/v1/acme/namespaces/company.team/kv/token")).toMatchObject({ status: 404, body: { code: "KV_KEY_NOT_FOUND" } });
    expect(await http("GET", "/api/v1/acme/namespaces/company.team/kv")).toEqual({ status: 200, body: [] });
    expect(await http("DELETE", "/api/v1/acme/namespaces/company.team/kv/token")).toEqual({ status: 200, body: false });
    expect((await http("GET", "/api/v1/main/namespaces/company.team/kv/token")).status).toBe(200);
    expect(await http("GET", "/api/v1/nobody/namespaces/company.team/kv/token")).toMatchObject({ status: 404, body: { code: "TENANT_NOT_FOUND" } });
  });
});
