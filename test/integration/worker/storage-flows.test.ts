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
import type { Log } from "../../../topology/log.js";
import { Observer, openTestLog, send, startExecutor, tempDir } from "../executor/scripted.js";

/*
 * Flows run end to end on the embedded log: the real executor, the real worker with local
 * internal storage, and an observer of the `executions` topic.
 */

const SPLIT_CONCAT_SIZE = parseFlowOrThrow(`
id: split_concat
namespace: company.team
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: "a1\\na2\\na3\\na4\\na5\\n"
    extension: .txt
  - id: split
    type: io.kestra.plugin.core.storage.Split
    from: "{{ outputs.write.uri }}"
    rows: 2
  - id: concat
    type: io.kestra.plugin.core.storage.Concat
    files: "{{ outputs.split.uris | json }}"
    separator: "--\\n"
    extension: .txt
  - id: size
    type: io.kestra.plugin.core.storage.Size
    uri: "{{ outputs.concat.uri }}"
outputs:
  - id: parts
    type: INT
    value: "{{ outputs.split.uris | length }}"
  - id: size
    type: INT
    value: "{{ outputs.size.size }}"
`);

const APPROVAL = parseFlowOrThrow(`
id: approval
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    timeout: PT1H
    onResume:
      - id: reason
        type: STRING
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "resumed: {{ outputs.wait.onResume.reason }}"
`);

const RESUMER = parseFlowOrThrow(`
id: resumer
namespace: company.ops
inputs:
  - id: target
    type: STRING
tasks:
  - id: resume
    type: io.kestra.plugin.core.execution.Resume
    executionId: "{{ inputs.target }}"
    namespace: company.team
    flowId: approval
    inputs:
      reason: "from {{ flow.id }}"
`);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(flows: Flow[]): Promise<{ log: Log; storage: LocalStorage; observer: Observer }> {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const log = await openTestLog(dir);
  mkdirSync(join(dir, "storage"));
  const storage = new LocalStorage(join(dir, "storage"));
  const executor = startExecutor(log, new StaticFlowResolver(flows));
  await executor.start();
  const worker = new Worker({ log, logger: silentLogger(), storage, threads: 2, heartbeatIntervalMs: 60_000 });
  await worker.start();
  const observer = new Observer(log);
  await observer.start();
  cleanups.push(async () => {
    await observer.stop();
    await worker.stop({ graceful: false, timeoutMs: 0 });
    await executor.stop();
    await log.close();
  });
  return { log, storage, observer };
}

function outputsOf(o: Observer, executionId: string, taskId: string): Record<string, unknown> | undefined {
  const created = o.of(executionId, "TaskRunCreated").find((e) => e.taskId === taskId);
  if (!created) return undefined;
  const ended = (o.events.get(executionId) ?? []).filter(
    (e) => "taskRunId" in e && e.taskRunId === created.taskRunId && "outputs" in e && e.outputs !== undefined,
  ) as Array<{ outputs: Record<string, unknown> }>;
  return ended.at(-1)?.outputs;
}

describe("storage tasks in a flow run by the worker", () => {
  it("Split → Concat → Size through the executor and the worker", async () => {
    const { log, storage, observer } = await start([SPLIT_CONCAT_SIZE]);
    await send(log, { type: "CreateExecution", executionId: "exec-split-1", flow: SPLIT_CONCAT_SIZE, inputs: {} });
    expect(await observer.terminal("exec-split-1")).toBe("SUCCESS");
    // 3 parts (2 + 2 + 1 lines) joined with "--\n" after each: 15 bytes of lines + 3 × 3 bytes.
    expect(observer.of("exec-split-1", "ExecutionOutputs").map((e) => e.outputs)).toEqual([{ parts: 3, size: 24 }]);
    const concat = outputsOf(observer, "exec-split-1", "concat");
    expect(concat?.uri).toMatch(/^lanner:\/\/\/main\/company\/team\/split_concat\/executions\/exec-split-1\/tasks\/concat\/.+\.txt$/);
    expect((await readFileBytes(storage, concat?.uri as string)).toString()).toBe("a1\na2\n--\na3\na4\n--\na5\n--\n");
  });
});

describe("the Resume task", () => {
  it("resumes a paused execution of another flow with its inputs", async () => {
    const { log, observer } = await start([APPROVAL, RESUMER]);
    await send(log, { type: "CreateExecution", executionId: "exec-approval", flow: APPROVAL, inputs: {} });
    await observer.until(() => observer.state("exec-approval") === "PAUSED");
    await send(log, { type: "CreateExecution", executionId: "exec-resumer", flow: RESUMER, inputs: { target: "exec-approval" } });
    expect(await observer.terminal("exec-resumer")).toBe("SUCCESS");
    expect(await observer.terminal("exec-approval")).toBe("SUCCESS");
    expect(outputsOf(observer, "exec-approval", "wait")).toEqual({ onResume: { reason: "from resumer" } });
    expect(outputsOf(observer, "exec-approval", "after")).toEqual({ value: "resumed: from resumer" });
  });

  it("leaves an execution that is not paused as it is (the executor's rule), and the task succeeds", async () => {
    const { log, observer } = await start([APPROVAL, RESUMER]);
    await send(log, { type: "CreateExecution", executionId: "exec-done", flow: APPROVAL, inputs: {} });
    await observer.until(() => observer.state("exec-done") === "PAUSED");
    await send(log, { type: "Kill", executionId: "exec-done" });
    expect(await observer.terminal("exec-done")).toBe("KILLED");
    const before = observer.events.get("exec-done")?.length ?? 0;
    await send(log, { type: "CreateExecution", executionId: "exec-resumer-2", flow: RESUMER, inputs: { target: "exec-done" } });
    expect(await observer.terminal("exec-resumer-2")).toBe("SUCCESS");
    // A later command for the same execution lands on the same partition after the Resume:
    // once its event is seen, the Resume has been applied (and changed nothing).
    await send(log, { type: "SetLabels", executionId: "exec-done", labels: [{ key: "checked", value: "yes" }] });
    await observer.until(() => observer.of("exec-done", "LabelsChanged").length > 0);
    const after = (observer.events.get("exec-done") ?? []).slice(before).map((e) => e.type);
    expect(after).toEqual(["LabelsChanged"]);
    expect(observer.state("exec-done")).toBe("KILLED");
  });
});
