import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../common/logger.js";
import { parseFlowOrThrow } from "../../../schemas/flow-parser.js";
import { Executor } from "../../../processors/executor/shell/executor.js";
import { StaticFlowResolver } from "../../../processors/executor/shell/flow-resolver.js";
import { openLog } from "../../../topology/factory.js";
import type { Log } from "../../../topology/log.js";
import { topicCatalogue } from "../../../topology/topics.js";
import { createTestSchema } from "../../harness/postgres.js";
import { Observer, ScriptedWorker, codec, send } from "./scripted.js";

const FLOW = parseFlowOrThrow(`
id: pg_chain
namespace: shell.test
tasks:
  - id: a
    type: io.kestra.plugin.core.debug.Return
    format: "a"
  - id: b
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.a.value }}b"
  - id: c
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.b.value }}c"
`);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch {
      // a log closed abruptly by the test rejects its own close again
    }
  }
});

describe("executor shell on Postgres, two instances", () => {
  it("splits partitions, and when one instance dies the other finishes every execution exactly once", async () => {
    const schema = await createTestSchema("exec");
    cleanups.push(() => schema.drop());
    const open = async (): Promise<Log> => {
      const log = await openLog({ backend: "postgres", postgresUrl: schema.url, schema: schema.schema, leaseMs: 1_500, heartbeatMs: 300 });
      cleanups.push(() => log.close());
      await log.ensureTopics([...topicCatalogue({ executionPartitions: 4 }).specs(), { name: "worker-control", partitions: 1 }]);
      return log;
    };
    const logA = await open();
    const logB = await open();
    const flows = new StaticFlowResolver([FLOW]);
    const a = new Executor({ log: logA, logger: silentLogger(), codec, flows, memberId: "executor-a" });
    const b = new Executor({ log: logB, logger: silentLogger(), codec, flows, memberId: "executor-b" });
    await a.start();
    await b.start();
    cleanups.push(() => b.stop());
    const worker = new ScriptedWorker(await open(), "w1");
    await worker.start();
    cleanups.push(() => worker.stop());
    const observer = new Observer(await open());
    await observer.start();
    cleanups.push(() => observer.stop());

    const ids = Array.from({ length: 24 }, (_, i) => `pg-exec-${i}`);
    for (const id of ids.slice(0, 12)) await send(logA, { type: "CreateExecution", executionId: id, flow: FLOW, inputs: {} });
    await observer.until(() => ids.slice(0, 4).every((id) => observer.state(id) === "SUCCESS"));
    // both instances hold a share of the partitions
    expect(a.ownedPartitions().length + b.ownedPartitions().length).toBe(4);
    expect(b.ownedPartitions().length).toBeGreaterThan(0);

    // instance A dies: its connections go without leaving the group; B takes its partitions once the leases lapse
    await logA.close();
    for (const id of ids.slice(12)) await send(logB, { type: "CreateExecution", executionId: id, flow: FLOW, inputs: {} });
    for (const id of ids) expect(await observer.terminal(id)).toBe("SUCCESS");
    expect(b.ownedPartitions()).toEqual([0, 1, 2, 3]);

    for (const id of ids) {
      const events = observer.events.get(id) ?? [];
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      const terminal = observer.of(id, "TaskRunStateChanged").filter((e) => e.state === "SUCCESS");
      expect(new Set(terminal.map((e) => e.taskRunId)).size).toBe(3);
      expect(terminal).toHaveLength(3);
      expect(observer.of(id, "TaskRunOutputs").map((e) => e.outputs.value)).toEqual(["a", "ab", "abc"]);
    }
  }, 60_000);
});
