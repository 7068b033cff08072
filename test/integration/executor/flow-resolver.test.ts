import { describe, expect, it } from "vitest";
import { KIND } from "../../../processors/executor/shell/records.js";
import { LogFlowResolver, flowRecordDecoder, type FlowRevisionRecord } from "../../../processors/executor/shell/flow-resolver.js";
import { openLog } from "../../../topology/factory.js";
import { codec } from "./scripted.js";

const source = (id: string, message: string) => `id: ${id}\nnamespace: team.a\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: ${message}\n`;

describe("LogFlowResolver", () => {
  it("resolves the latest or a given revision from the flows topic, sees new deploys, and honours deletions", async () => {
    const log = await openLog({ backend: "memory" });
    await log.ensureTopics([{ name: "flows", partitions: 1 }]);
    const put = (r: FlowRevisionRecord) => log.append([{ topic: "flows", key: `${r.tenantId}/${r.namespace}/${r.id}`, value: codec.encode(KIND.flow, r) }]);
    const resolver = new LogFlowResolver(log, flowRecordDecoder(codec));

    expect(await resolver.getFlow("main", "team.a", "f")).toBeUndefined();
    await put({ tenantId: "main", namespace: "team.a", id: "f", revision: 1, source: source("f", "one"), deleted: false });
    await log.append([{ topic: "flows", key: "junk", value: new Uint8Array([9, 9]) }]);
    await put({ tenantId: "main", namespace: "team.a", id: "f", revision: 2, source: source("f", "two"), deleted: false });

    const latest = await resolver.getFlow("main", "team.a", "f");
    expect(latest?.revision).toBe(2);
    expect(latest?.tenantId).toBe("main");
    expect(latest?.tasks[0]).toMatchObject({ id: "say", message: "two" });
    expect((await resolver.getFlow("main", "team.a", "f", 1))?.tasks[0]).toMatchObject({ message: "one" });
    expect(await resolver.getFlow("main", "team.a", "f", 3)).toBeUndefined();
    expect(await resolver.getFlow("other", "team.a", "f")).toBeUndefined();

    await put({ tenantId: "main", namespace: "team.a", id: "f", revision: 3, source: source("f", "two"), deleted: true });
    expect(await resolver.getFlow("main", "team.a", "f")).toBeUndefined();
    expect((await resolver.getFlow("main", "team.a", "f", 2))?.revision).toBe(2);

    await put({ tenantId: "main", namespace: "team.a", id: "f", revision: 4, source: source("f", "back"), deleted: false });
    expect((await resolver.getFlow("main", "team.a", "f"))?.tasks[0]).toMatchObject({ message: "back" });
    await log.close();
  });
});
