/**
 * Triggers in a composed process (embedded backend): the executor role routes endings to flow
 * triggers, the scheduler role dispatches polling triggers, the worker role evaluates them.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../../cli/config.js";
import { silentLogger } from "../../../common/logger.js";
import { KIND } from "../../../processors/executor/shell/records.js";
import { startRoles } from "../../../processors/runtime/roles.js";
import { parseFlowOrThrow } from "../../../schemas/flow-parser.js";
import { Observer, codec, send, tempDir } from "../executor/scripted.js";

const UPSTREAM = `id: a
namespace: company.roles
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: "done"
`;
const DOWNSTREAM = `id: after_a
namespace: company.roles
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.executionId }}"
triggers:
  - id: on_a
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: a
      flows:
        - namespace: company.roles
          flowId: a
`;
const poller = (uri: string) => `id: poller
namespace: company.roles
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.body }}"
triggers:
  - id: http
    type: io.kestra.plugin.core.http.Trigger
    uri: "${uri}"
    interval: PT1S
`;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("triggers in the composed roles", () => {
  it("a flow trigger and an HTTP polling trigger start their flows", async () => {
    const server = createServer((_req, res) => res.end("pong"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ping`;

    const tmp = tempDir();
    cleanups.push(() => tmp.cleanup());
    const config = loadConfig({ env: {}, overrides: [[["dataDir"], join(tmp.dir, "data")], [["partitions"], 2]] });
    const roles = await startRoles(config, ["executor", "worker", "scheduler"], {
      logger: silentLogger(), onFatal: (err) => { throw err; }, workerStopTimeoutMs: 1_000,
    });
    cleanups.push(() => roles.stop());
    const sources = [UPSTREAM, DOWNSTREAM, poller(uri)];
    await roles.log.append(sources.map((source) => {
      const f = parseFlowOrThrow(source);
      return { topic: "flows", key: `main/${f.namespace}/${f.id}`, value: codec.encode(KIND.flow, { tenantId: "main", namespace: f.namespace, id: f.id, revision: 1, source, deleted: false }) };
    }));
    const observer = new Observer(roles.log);
    await observer.start();
    cleanups.push(() => observer.stop());

    await send(roles.log, { type: "CreateExecution", executionId: "roles-a-1", flow: { ...parseFlowOrThrow(UPSTREAM), tenantId: "main", revision: 1 }, inputs: {} });
    const ofFlow = (flowId: string) => [...observer.events.entries()]
      .filter(([, events]) => events.some((e) => e.type === "ExecutionCreated" && e.execution.flowId === flowId)).map(([id]) => id);
    await observer.until(() => ofFlow("after_a").length === 1 && ofFlow("poller").length >= 1);
    const [downstream] = ofFlow("after_a");
    expect(await observer.terminal(downstream)).toBe("SUCCESS");
    expect(observer.of(downstream, "TaskRunOutputs").map((e) => e.outputs.value)).toEqual(["roles-a-1"]);
    const [polled] = ofFlow("poller");
    expect(await observer.terminal(polled)).toBe("SUCCESS");
    expect(observer.of(polled, "TaskRunOutputs").map((e) => e.outputs.value)).toEqual(["pong"]);
  }, 60_000);
});
