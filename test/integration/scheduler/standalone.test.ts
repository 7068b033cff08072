/**
 * The scheduler in the composed standalone process (every role, embedded backend, real clock):
 * a `* * * * * *` (withSeconds) schedule fires and its executions complete, each with the id
 * derived from its scheduled date; a webhook with `?wait=true` answers with the flow's outputs.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployFlows, type ClientIo } from "../../../cli/client-commands.js";
import { loadConfig } from "../../../cli/config.js";
import { silentLogger } from "../../../common/logger.js";
import { ROLE_NAMES, startRoles, type RolesHandle } from "../../../processors/runtime/roles.js";
import { scheduleExecutionId } from "../../../processors/scheduler/schedule-core.js";
import { Observer } from "../executor/scripted.js";

const NS = "company.standalone";
const TICKING = `id: ticking
namespace: ${NS}
tasks:
  - id: at
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.date }}"
triggers:
  - id: every_second
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "* * * * * *"
    withSeconds: true
`;
const HOOK = `id: hook
namespace: ${NS}
tasks:
  - id: greet
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ trigger.body.name }} ({{ trigger.parameters.source }})"
outputs:
  - id: greeting
    type: STRING
    value: "{{ outputs.greet.value }}"
triggers:
  - id: in
    type: io.kestra.plugin.core.trigger.Webhook
    key: "secret-{{ flow.id }}"
`;

describe("scheduler in the standalone process", () => {
  let dir: string;
  let roles: RolesHandle;
  let url: string;
  let observer: Observer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "lanner-sched-standalone-"));
    const config = loadConfig({ env: {}, overrides: [[["dataDir"], join(dir, "data")], [["port"], 0], [["partitions"], 2]] });
    roles = await startRoles(config, ROLE_NAMES, { logger: silentLogger(), onFatal: (err) => { throw err; }, workerStopTimeoutMs: 1_000 });
    url = roles.url ?? "";
    observer = new Observer(roles.log, "test-scheduler-standalone");
    await observer.start();
    const files = [["ticking.yml", TICKING], ["hook.yml", HOOK]].map(([name, text]) => {
      const file = join(dir, name);
      writeFileSync(file, text);
      return file;
    });
    const out: string[] = [];
    const io: ClientIo = { out: (l) => out.push(l), err: (l) => out.push(l) };
    expect(await deployFlows(files, url, io)).toBe(0);
  });
  afterAll(async () => {
    await observer?.stop();
    await roles?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a withSeconds schedule fires every second and its executions complete", async () => {
    const scheduled = () =>
      [...observer.events.values()].flatMap((events) => events.filter((e) => e.type === "ExecutionCreated" && e.execution.flowId === "ticking"));
    const succeeded = () => scheduled().filter((e) => observer.state(e.executionId) === "SUCCESS");
    await observer.until(() => succeeded().length >= 2);
    const key = { tenantId: "main", namespace: NS, flowId: "ticking", triggerId: "every_second" };
    const dates = new Set<string>();
    for (const e of succeeded()) {
      if (e.type !== "ExecutionCreated") continue;
      const date = String(e.execution.trigger?.date);
      expect(date).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(e.executionId).toBe(scheduleExecutionId(key, Date.parse(date)));
      dates.add(date);
      const outputs = observer.of(e.executionId, "TaskRunOutputs").map((o) => o.outputs);
      expect(outputs).toEqual([{ value: date }]);
    }
    expect(dates.size).toBe(succeeded().length);
  });

  it("a webhook with ?wait=true answers once the execution ended, with the flow's outputs", async () => {
    const res = await fetch(`${url}/api/v1/executions/webhook/${NS}/hook/secret-hook?wait=true&source=test`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "ann" }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { id: string; state: { current: string }; outputs?: Record<string, unknown>; trigger?: unknown };
    expect(body.state.current).toBe("SUCCESS");
    expect(body.outputs).toEqual({ greeting: "hello ann (test)" });
    expect(observer.state(body.id)).toBe("SUCCESS");

    const wrong = await fetch(`${url}/api/v1/executions/webhook/${NS}/hook/secret-other?wait=true`, { method: "POST" });
    expect(wrong.status).toBe(404);
  });
});
