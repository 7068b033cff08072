import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KIND } from "../../../processors/executor/shell/records.js";
import { readFileBytes } from "../../../storage/read-all.js";
import { avroRecordCodec as codec } from "../../../processors/worker/record-codec.js";
import { ApiFixture } from "./api-fixture.js";

const HELLO = `id: hello
namespace: company.team
labels:
  team: data
inputs:
  - id: name
    type: STRING
    defaults: world
  - id: count
    type: INT
    required: false
tasks:
  - id: greet
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ inputs.name }}"
outputs:
  - id: greeting
    type: STRING
    value: "{{ outputs.greet.value }}"
`;

const WITH_FILE = `id: upload
namespace: company.team
inputs:
  - id: data
    type: FILE
tasks:
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.data }}"
`;

const BAD = `id: broken
namespace: company.team
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Return
    formatt: oops
`;

interface Answer {
  status: number;
  body: unknown;
  text: string;
  type: string;
}

async function http(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text, type: res.headers.get("content-type") ?? "" };
}

const yaml = (body: string, method = "POST"): RequestInit => ({ method, headers: { "content-type": "application/x-yaml" }, body });
const json = (body: unknown): RequestInit => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("Webserver", () => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await new ApiFixture().start();
  });
  afterAll(async () => {
    await f.stop();
  });

  it("answers health", async () => {
    expect(await http(`${f.url}/api/v1/health`)).toMatchObject({ status: 200, body: { status: "UP" } });
  });

  describe("flows", () => {
    it("deploys a flow: revision 1, the same source again stays 1, a change makes 2; each deploy goes to the flows topic", async () => {
      const first = await http(`${f.url}/api/v1/flows`, yaml(HELLO));
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ id: "hello", namespace: "company.team", revision: 1, tenantId: "main", deleted: false, source: HELLO });
      expect((await http(`${f.url}/api/v1/flows`, yaml(HELLO))).body).toMatchObject({ revision: 1 });
      const changed = HELLO.replace("hello {{", "hi {{");
      expect((await http(`${f.url}/api/v1/flows`, { ...yaml(changed), headers: { "content-type": "text/plain" } })).body).toMatchObject({ revision: 2 });
      // Back to the first source for the tests below: revision 3.
      expect((await http(`${f.url}/api/v1/flows`, yaml(HELLO))).body).toMatchObject({ revision: 3 });

      const records = [];
      // one flow's revisions share a partition (keyed by tenant/namespace/id), in order
      for (let p = 0; p < f.log.partitionsOf("flows"); p++) for await (const r of f.log.readPartition("flows", p, 0n)) records.push(codec.decode(r.value));
      const revisions = records.filter((r) => r.type === KIND.flow).map((r) => (r.value as { id: string; revision: number }).revision);
      expect(revisions).toEqual([1, 1, 2, 3]);
    });

    it("refuses an invalid flow with 422 and line:column errors", async () => {
      const r = await http(`${f.url}/api/v1/flows`, yaml(BAD));
      expect(r.status).toBe(422);
      expect(r.body).toMatchObject({ code: "FLOW_INVALID", errors: [{ path: "tasks[0].formatt", line: 6, column: 5 }] });
      const syntax = await http(`${f.url}/api/v1/flows`, yaml("id: x\n  bad: [\n"));
      expect(syntax.status).toBe(422);
      expect((syntax.body as { errors: unknown[] }).errors[0]).toMatchObject({ code: "YAML_SYNTAX", line: 1, column: 5, message: expect.stringMatching(/YAML syntax error/) });
      expect(syntax.text).not.toMatch(/at .*\.ts:\d+/);
    });

    it("refuses a JSON body for a flow with 415", async () => {
      const r = await http(`${f.url}/api/v1/flows`, json({ id: "x" }));
      expect(r.status).toBe(415);
      expect(r.body).toMatchObject({ code: "FLOW_BODY_NOT_YAML" });
    });

    it("reads a flow as JSON, as YAML, by revision, and lists revisions", async () => {
      const r = await http(`${f.url}/api/v1/flows/company.team/hello`);
      expect(r.body).toMatchObject({ id: "hello", revision: 3, tasks: [{ id: "greet" }] });
      const y = await http(`${f.url}/api/v1/flows/company.team/hello`, { headers: { accept: "application/x-yaml" } });
      expect(y.type).toMatch(/yaml/);
      expect(y.text).toBe(HELLO);
      expect((await http(`${f.url}/api/v1/flows/company.team/hello?revision=2`)).body).toMatchObject({ revision: 2 });
      expect(((await http(`${f.url}/api/v1/flows/company.team/hello/revisions`)).body as unknown[]).length).toBe(3);
      expect((await http(`${f.url}/api/v1/flows/company`)).body).toMatchObject([{ id: "hello" }]);
      expect(await http(`${f.url}/api/v1/flows/company.team/nope`)).toMatchObject({ status: 404, body: { code: "FLOW_NOT_FOUND" } });
      expect((await http(`${f.url}/api/v1/flows/company.team/hello?revision=zero`)).status).toBe(400);
    });

    it("PUT updates a flow and refuses a body for another flow with the line of the mismatch", async () => {
      const put = await http(`${f.url}/api/v1/flows/company.team/hello`, yaml(HELLO, "PUT"));
      expect(put).toMatchObject({ status: 200, body: { revision: 3 } });
      const other = await http(`${f.url}/api/v1/flows/company.team/other`, yaml(HELLO, "PUT"));
      expect(other.status).toBe(404);
      await http(`${f.url}/api/v1/flows`, yaml(HELLO.replace("id: hello", "id: other")));
      const mismatch = await http(`${f.url}/api/v1/flows/company.team/other`, yaml(HELLO, "PUT"));
      expect(mismatch).toMatchObject({ status: 422, body: { code: "FLOW_INVALID", errors: [{ path: "id", line: 1, column: 5 }] } });
    });

    it("deletes a flow", async () => {
      await http(`${f.url}/api/v1/flows`, yaml(HELLO.replace("id: hello", "id: doomed")));
      expect((await http(`${f.url}/api/v1/flows/company.team/doomed`, { method: "DELETE" })).status).toBe(204);
      expect((await http(`${f.url}/api/v1/flows/company.team/doomed`)).status).toBe(404);
      expect((await http(`${f.url}/api/v1/flows/company.team/doomed`, { method: "DELETE" })).status).toBe(404);
    });
  });

  describe("executions", () => {
    it("404 for an unknown flow", async () => {
      expect(await http(`${f.url}/api/v1/executions/company.team/nope`, json({}))).toMatchObject({ status: 404, body: { code: "FLOW_NOT_FOUND" } });
    });

    it("422 with one error per bad input", async () => {
      const r = await http(`${f.url}/api/v1/executions/company.team/hello`, json({ count: "many" }));
      expect(r.status).toBe(422);
      expect(r.body).toMatchObject({ code: "INPUTS_INVALID", errors: [{ input: "count", code: "INPUT_INVALID", path: "inputs.count" }] });
      expect(await f.newCommands()).toEqual([]);
      const labels = await http(`${f.url}/api/v1/executions/company.team/hello?labels=nocolon`, json({}));
      expect(labels).toMatchObject({ status: 422, body: { code: "LABELS_INVALID" } });
    });

    it("creates an execution: CREATED at once, readable before the read side has it, then its final state", async () => {
      const r = await http(`${f.url}/api/v1/executions/company.team/hello?labels=env:test&labels=team:ops`, json({ count: "3" }));
      expect(r.status).toBe(200);
      const created = r.body as { id: string; state: { current: string }; labels: unknown; inputs: unknown };
      expect(created.id).toMatch(/^[0-9A-Za-z]{22}$/);
      expect(created.state.current).toBe("CREATED");
      expect(created.inputs).toEqual({ name: "world", count: 3 });
      expect(created.labels).toEqual([{ key: "team", value: "ops" }, { key: "env", value: "test" }]);

      const cmd = await f.nextCommand();
      expect(cmd).toMatchObject({ executionId: created.id, inputs: { name: "world", count: 3 }, labels: [{ key: "env", value: "test" }, { key: "team", value: "ops" }] });
      expect(cmd.flow).toMatchObject({ id: "hello", revision: 3, tenantId: "main" });

      expect((await http(`${f.url}/api/v1/executions/${created.id}`)).body).toMatchObject({ id: created.id, state: { current: "CREATED" } });
      await f.play(cmd);
      expect((await f.repository.waitForTerminal(created.id, 600_000))?.state.current).toBe("SUCCESS");
      const got = await http(`${f.url}/api/v1/executions/${created.id}`);
      expect(got.body).toMatchObject({
        id: created.id, namespace: "company.team", flowId: "hello",
        state: { current: "SUCCESS", histories: expect.arrayContaining([{ state: "SUCCESS", date: expect.any(String) }]) },
        taskRunList: [{ taskId: "greet", namespace: "company.team", flowId: "hello", attempts: [{ state: { current: "SUCCESS" } }], outputs: { value: "hello world" } }],
        outputs: { greeting: "hello world" },
      });
      expect((got.body as { taskRunList: Array<Record<string, unknown>> }).taskRunList[0].valuePath).toBeUndefined();
      const search = await http(`${f.url}/api/v1/executions/search?namespace=company&state=SUCCESS&startDate=2000-01-01T00:00:00Z`);
      expect(search.body).toMatchObject({ total: 1, results: [{ id: created.id }] });
      expect((await http(`${f.url}/api/v1/executions/search?state=DONE`)).status).toBe(400);
    });

    it("?wait=true answers the final execution", async () => {
      const waiting = http(`${f.url}/api/v1/executions/company.team/hello?wait=true`, json({ name: "you" }));
      const cmd = await f.nextCommand();
      await f.play(cmd);
      const r = await waiting;
      expect(r).toMatchObject({ status: 200, body: { id: cmd.executionId, state: { current: "SUCCESS" }, outputs: { greeting: "hello you" } } });
    });

    it("takes multipart inputs, FILE inputs stored in internal storage", async () => {
      await http(`${f.url}/api/v1/flows`, yaml(WITH_FILE));
      const form = new FormData();
      form.append("data", new Blob(["a,b\n1,2\n"]), "my data.csv");
      form.append("ignored", "x");
      const r = await http(`${f.url}/api/v1/executions/company.team/upload`, { method: "POST", body: form });
      expect(r.status).toBe(200);
      const cmd = await f.nextCommand();
      const uri = cmd.inputs.data;
      expect(uri).toBe(`lanner:///main/company/team/upload/executions/${cmd.executionId}/inputs/data/my_data.csv`);
      expect((await readFileBytes(f.storage, String(uri))).toString()).toBe("a,b\n1,2\n");

      const missing = await http(`${f.url}/api/v1/executions/company.team/upload`, { method: "POST", body: new FormData() });
      expect(missing).toMatchObject({ status: 422, body: { errors: [{ input: "data", code: "INPUT_REQUIRED" }] } });
    });

    it("404 for an unknown execution", async () => {
      expect(await http(`${f.url}/api/v1/executions/doesNotExist`)).toMatchObject({ status: 404, body: { code: "EXECUTION_NOT_FOUND" } });
    });
  });

  describe("logs", () => {
    it("lists an execution's log lines, filtered by level and task run", async () => {
      await f.repository.appendLogs([
        { id: "l1", tenantId: "main", namespace: "company.team", flowId: "hello", executionId: "e1", taskRunId: "tr1", taskId: "a", level: "DEBUG", message: "d", timestamp: "2026-01-01T00:00:01.000Z" },
        { id: "l2", tenantId: "main", namespace: "company.team", flowId: "hello", executionId: "e1", taskRunId: "tr2", taskId: "b", level: "WARN", message: "w", timestamp: "2026-01-01T00:00:02.000Z" },
      ]);
      expect((await http(`${f.url}/api/v1/logs/e1`)).body).toMatchObject([{ message: "d" }, { message: "w" }]);
      expect((await http(`${f.url}/api/v1/logs/e1?minLevel=INFO`)).body).toMatchObject([{ message: "w", level: "WARN" }]);
      expect((await http(`${f.url}/api/v1/logs/e1?taskRunId=tr1`)).body).toMatchObject([{ message: "d" }]);
      expect((await http(`${f.url}/api/v1/logs/e1?minLevel=LOUD`)).status).toBe(400);
      expect((await http(`${f.url}/api/v1/logs/unknown`)).body).toEqual([]);
    });
  });

  it("answers unknown paths with a JSON 404 and never a stack trace", async () => {
    const r = await http(`${f.url}/api/v1/nothing`);
    expect(r).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } });
    const broken = await http(`${f.url}/api/v1/executions/company.team/hello`, { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
    expect(broken.status).toBe(400);
    expect(broken.body).toMatchObject({ message: expect.any(String), code: expect.any(String) });
    expect(broken.text).not.toMatch(/\n\s+at /);
  });
});
