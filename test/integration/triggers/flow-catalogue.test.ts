import { afterEach, describe, expect, it } from "vitest";
import { LogFlowResolver, flowRecordDecoder } from "../../../processors/executor/shell/flow-resolver.js";
import { KIND } from "../../../processors/executor/shell/records.js";
import type { Log } from "../../../topology/log.js";
import { codec, openTestLog, tempDir } from "../executor/scripted.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const source = (id: string, message: string) => `id: ${id}\nnamespace: company.cat\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: ${message}\n`;

async function deploy(log: Log, id: string, revision: number, message: string, deleted = false): Promise<void> {
  await log.append([{ topic: "flows", key: `main/company.cat/${id}`, value: codec.encode(KIND.flow, { tenantId: "main", namespace: "company.cat", id, revision, source: source(id, message), deleted }) }]);
}

describe("flow catalogue from the flows topic", () => {
  it("lists the latest revision of each deployed flow and changes its version on every deploy or deletion", async () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.cleanup());
    const log = await openTestLog(tmp.dir);
    cleanups.push(() => log.close());
    const catalog = new LogFlowResolver(log, flowRecordDecoder(codec));
    expect((await catalog.latestFlows()).flows).toEqual([]);

    await deploy(log, "one", 1, "first");
    await deploy(log, "two", 1, "x");
    await deploy(log, "one", 2, "second");
    const v1 = await catalog.latestFlows();
    const byId = new Map(v1.flows.map((f) => [f.id, f]));
    expect([...byId.keys()].sort()).toEqual(["one", "two"]);
    expect(byId.get("one")?.revision).toBe(2);
    expect(byId.get("one")?.tasks[0]).toMatchObject({ message: "second" });
    expect(await catalog.latestFlows()).toBe(v1); // unchanged: the same list

    await deploy(log, "two", 1, "x", true);
    const v2 = await catalog.latestFlows();
    expect(v2.version).not.toBe(v1.version);
    expect(v2.flows.map((f) => f.id)).toEqual(["one"]);
  });
});
