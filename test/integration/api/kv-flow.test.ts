/**
 * The KV store end to end in one standalone process (embedded backend): a flow sets a key, gets it
 * back and logs it through `kv()`, ending SUCCESS; the webserver then serves the value the worker
 * stored, since both use the same internal storage.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployFlows, executeFlow, type ClientIo } from "../../../cli/client-commands.js";
import { loadConfig } from "../../../cli/config.js";
import { silentLogger } from "../../../common/logger.js";
import { startRoles, type RolesHandle } from "../../../processors/runtime/roles.js";
import { flowYaml } from "../../harness/fixtures.js";

const io = () => {
  const lines: string[] = [];
  const sink: ClientIo = { out: (l) => lines.push(l), err: (l) => lines.push(l) };
  return { lines, sink };
};

describe("KV flow on a standalone server", () => {
  let dir: string;
  let roles: RolesHandle;
  let url: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "lanner-kv-flow-"));
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

  it("Set, Get and a Log using kv() end SUCCESS with the stored value everywhere", async () => {
    const file = join(dir, "kv.yml");
    writeFileSync(file, flowYaml("kv"));
    const d = io();
    expect(await deployFlows([file], url, d.sink)).toBe(0);

    const x = io();
    expect(await executeFlow("company.kv", "kv_roundtrip", { inputs: ["who=bob"], wait: true, server: url }, x.sink)).toBe(0);
    const id = x.lines[0];
    expect(JSON.parse(x.lines.slice(1).join("\n"))).toEqual({ id, state: "SUCCESS", outputs: { greeting: "hello bob" } });

    const got = (await (await fetch(`${url}/api/v1/executions/${id}`)).json()) as { taskRunList: Array<{ taskId: string; state: { current: string }; outputs?: unknown }> };
    expect(got.taskRunList.map((t) => [t.taskId, t.state.current])).toEqual([["set", "SUCCESS"], ["get", "SUCCESS"], ["log", "SUCCESS"]]);
    expect(got.taskRunList.find((t) => t.taskId === "get")?.outputs).toEqual({ value: { greeting: "hello bob", count: 2 } });

    let logs: Array<{ message: string; taskId?: string }> = [];
    for (let i = 0; i < 500 && !logs.some((l) => l.taskId === "log"); i++) {
      logs = (await (await fetch(`${url}/api/v1/logs/${id}`)).json()) as typeof logs;
      if (!logs.some((l) => l.taskId === "log")) await new Promise((r) => setTimeout(r, 20));
    }
    expect(logs).toContainEqual(expect.objectContaining({ taskId: "log", message: "kv says hello bob (20)" }));

    expect(await (await fetch(`${url}/api/v1/namespaces/company.kv/kv/k`)).json()).toEqual({ type: "JSON", value: { greeting: "hello bob", count: 2 } });
    const list = (await (await fetch(`${url}/api/v1/namespaces/company.kv/kv`)).json()) as Array<{ key: string; description?: string }>;
    expect(list).toEqual([expect.objectContaining({ key: "k", description: "set by the flow" })]);
  });
});
