/**
 * Every role in one process on the embedded backend (log in LevelDB, read side on PGlite): deploy
 * with `flow deploy`, run with `execute --wait`, read the execution and its logs over the API.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployFlows, executeFlow, type ClientIo } from "../../../cli/client-commands.js";
import { loadConfig } from "../../../cli/config.js";
import { silentLogger } from "../../../common/logger.js";
import { startRoles, type RolesHandle } from "../../../processors/runtime/roles.js";

const FLOW = `id: chain
namespace: company.e2e
inputs:
  - id: who
    type: STRING
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "hello {{ inputs.who }}"
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: echo
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}-{{ inputs.who }}"
outputs:
  - id: last
    type: STRING
    value: "{{ outputs.echo['b'].value }}"
`;

const io = () => {
  const lines: string[] = [];
  const errors: string[] = [];
  const sink: ClientIo = { out: (l) => lines.push(l), err: (l) => errors.push(l) };
  return { lines, errors, sink };
};

describe("standalone server (embedded backend)", () => {
  let dir: string;
  let roles: RolesHandle;
  let url: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "lanner-standalone-"));
    const config = loadConfig({ env: {}, overrides: [[["dataDir"], join(dir, "data")], [["port"], 0], [["partitions"], 2]] });
    roles = await startRoles(config, ["executor", "worker", "liveness", "indexer", "webserver"], {
      logger: silentLogger(), onFatal: (err) => { throw err; }, workerStopTimeoutMs: 1_000,
    });
    url = roles.url ?? "";
  });
  afterAll(async () => {
    await roles?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("deploys, executes with --wait, and serves the execution and its logs", async () => {
    const file = join(dir, "chain.yml");
    writeFileSync(file, FLOW);
    const d = io();
    expect(await deployFlows([file], url, d.sink)).toBe(0);
    expect(d.lines).toEqual(["company.e2e.chain revision 1"]);

    const x = io();
    expect(await executeFlow("company.e2e", "chain", { inputs: ["who=ann"], wait: true, server: url }, x.sink)).toBe(0);
    const id = x.lines[0];
    expect(JSON.parse(x.lines.slice(1).join("\n"))).toEqual({ id, state: "SUCCESS", outputs: { last: "b-ann" } });

    const got = (await (await fetch(`${url}/api/v1/executions/${id}`)).json()) as { state: { current: string }; taskRunList: Array<{ taskId: string; value?: string; outputs?: { value?: string } }> };
    expect(got.state.current).toBe("SUCCESS");
    expect(got.taskRunList.filter((t) => t.taskId === "echo").map((t) => [t.value, t.outputs?.value])).toEqual([["a", "a-ann"], ["b", "b-ann"]]);

    // Log lines reach the read side through the logs topic and the indexer.
    let logs: Array<{ message: string; taskId?: string }> = [];
    for (let i = 0; i < 500 && !logs.some((l) => l.message === "hello ann"); i++) {
      logs = (await (await fetch(`${url}/api/v1/logs/${id}`)).json()) as typeof logs;
      if (!logs.some((l) => l.message === "hello ann")) await new Promise((r) => setTimeout(r, 20));
    }
    expect(logs).toContainEqual(expect.objectContaining({ message: "hello ann", taskId: "say" }));
  });

  it("creates executions of the revision deployed a moment before, and none of a flow deleted a moment before", async () => {
    const flow = (n: number) => `id: rev\nnamespace: company.e2e\ntasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    format: "v${n}"\n`;
    const post = (body: string) => fetch(`${url}/api/v1/flows`, { method: "POST", headers: { "content-type": "application/x-yaml" }, body });
    const execute = async () => {
      const res = await fetch(`${url}/api/v1/executions/company.e2e/rev?wait=true`, { method: "POST" });
      return { status: res.status, body: (await res.json()) as { flowRevision?: number; taskRunList?: Array<{ outputs?: { value?: string } }> } };
    };
    for (const n of [1, 2, 3]) {
      expect((await post(flow(n))).status).toBe(200);
      const run = await execute();
      expect(run.status).toBe(200);
      expect(run.body.flowRevision).toBe(n);
      expect(run.body.taskRunList?.[0]?.outputs?.value).toBe(`v${n}`);
    }
    expect((await fetch(`${url}/api/v1/flows/company.e2e/rev`, { method: "DELETE" })).status).toBeLessThan(300);
    expect((await execute()).status).toBe(404);
  });
});
