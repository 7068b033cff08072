/**
 * ForEachItem through the runtime: the executor shell and a real worker on the embedded log, with
 * internal storage on disk. A parent writes a file, splits it into batches, runs one child
 * execution per batch and merges their outputs; every batch runs exactly once.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../common/logger.js";
import { StaticFlowResolver } from "../../../processors/executor/shell/flow-resolver.js";
import { Worker } from "../../../processors/worker/worker.js";
import { parseFlowOrThrow } from "../../../schemas/flow-parser.js";
import type { Flow } from "../../../schemas/flow-types.js";
import { LocalStorage } from "../../../storage/local-storage.js";
import { readFileBytes } from "../../../storage/read-all.js";
import { Observer, openTestLog, send, startExecutor, tempDir } from "./scripted.js";

const PARENT = parseFlowOrThrow(`
id: each_parent
namespace: runtime.items
tasks:
  - id: extract
    type: io.kestra.plugin.core.storage.Write
    extension: .txt
    content: "{% for i in range(1, 6) %}row{{ i }}\\n{% endfor %}"
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{ outputs.extract.uri }}"
    batch:
      rows: 2
    namespace: runtime.items
    flowId: each_child
    wait: true
    transmitFailed: true
    inputs:
      file: "{{ taskrun.items }}"
      n: "{{ taskrun.iteration }}"
    labels:
      from: parent
  - id: report
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.each_items.iterations.SUCCESS }} of {{ outputs.each_items.numberOfBatches }} in {{ outputs.each_merge.subflowOutputs }}"
`);

const CHILD = parseFlowOrThrow(`
id: each_child
namespace: runtime.items
inputs:
  - id: file
    type: FILE
  - id: n
    type: INT
tasks:
  - id: content
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.n }}={{ read(inputs.file) | trim | replace({'\\n': ','}) }}"
outputs:
  - id: batch
    type: STRING
    value: "{{ outputs.content.value }}"
`);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The executor and a real worker on an embedded log in a temporary directory, with local storage. */
async function startRuntime() {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const log = await openTestLog(join(dir, "log"));
  mkdirSync(join(dir, "storage"));
  const storage = new LocalStorage(join(dir, "storage"));
  const executor = startExecutor(log, new StaticFlowResolver([PARENT, CHILD]));
  await executor.start();
  const worker = new Worker({ log, logger: silentLogger(), storage, threads: 2, heartbeatIntervalMs: 60_000, killGraceMs: 1_000 });
  await worker.start();
  const observer = new Observer(log);
  await observer.start();
  cleanups.push(async () => {
    await observer.stop();
    await worker.stop({ graceful: false, timeoutMs: 1_000 });
    await executor.stop();
    await log.close();
  });
  return { log, storage, observer };
}

describe("ForEachItem on the runtime", () => {
  it("runs every batch once as a child execution and merges their outputs in order", async () => {
    const { log, storage, observer } = await startRuntime();
    await send(log, { type: "CreateExecution", executionId: "items-parent", flow: PARENT, inputs: {} });
    expect(await observer.terminal("items-parent")).toBe("SUCCESS");

    const planned = observer.of("items-parent", "BatchesPlanned");
    expect(planned).toHaveLength(1);
    expect(planned[0].count).toBe(3);
    // every batch ended exactly once, each from its own child execution
    const ended = observer.of("items-parent", "BatchEnded");
    expect(ended.map((e) => e.index).sort()).toEqual([0, 1, 2]);
    expect(ended.every((e) => e.state === "SUCCESS")).toBe(true);
    expect(observer.of("items-parent", "ResultIgnored")).toEqual([]);

    const children = [...observer.events.keys()].filter((id) => id !== "items-parent");
    expect(children).toHaveLength(3);
    for (const id of children) {
      const created = observer.of(id, "ExecutionCreated");
      expect(created).toHaveLength(1);
      expect(created[0].execution.parentId).toBe("items-parent");
      expect(created[0].execution.labels).toContainEqual({ key: "from", value: "parent" });
      expect(await observer.terminal(id)).toBe("SUCCESS");
      // the child's one task ran once, on one attempt
      expect(observer.of(id, "AttemptCreated")).toHaveLength(1);
    }

    const outputs = new Map(observer.of("items-parent", "TaskRunOutputs").map((e) => [e.taskRunId, e.outputs]));
    const report = [...outputs.values()].map((o) => o.value).find((v) => typeof v === "string" && v.includes(" of "));
    const merged = String(report).split(" in ")[1];
    expect(report).toBe(`3 of 3 in ${merged}`);
    const lines = (await readFileBytes(storage, merged)).toString("utf8").trim().split("\n").map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual([{ batch: "0=row1,row2" }, { batch: "1=row3,row4" }, { batch: "2=row5,row6" }]);
  });

  it("fails the task when the child flow is not deployed: every batch ends FAILED once", async () => {
    const { log, observer } = await startRuntime();
    const orphan: Flow = { ...PARENT, id: "each_orphan", tasks: PARENT.tasks.map((t) => (t.id === "each" ? { ...t, flowId: "nowhere" } : t)) };
    await send(log, { type: "CreateExecution", executionId: "items-orphan", flow: orphan, inputs: {} });
    expect(await observer.terminal("items-orphan")).toBe("FAILED");
    const ended = observer.of("items-orphan", "BatchEnded");
    expect(ended.map((e) => [e.index, e.state, e.outputs])).toEqual([[0, "FAILED", undefined], [1, "FAILED", undefined], [2, "FAILED", undefined]]);
    const failed = observer.of("items-orphan", "TaskRunStateChanged").filter((e) => e.state === "FAILED" && e.error);
    expect(failed[0].error).toEqual({ message: "3 of 3 subflow executions did not succeed", code: "FOREACHITEM_SUBFLOW_FAILED" });
  });
});
