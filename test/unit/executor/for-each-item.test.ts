import { describe, expect, it } from "vitest";
import { batchExecutionId, isTerminal } from "../../../processors/executor/index.js";
import { Attempt, type AttemptEnv } from "../../../processors/worker/attempt.js";
import { batchRule, isForEachItemWork } from "../../../processors/worker/for-each-item-files.js";
import type { TaskLogLine, WorkerJob } from "../../../processors/worker/protocol.js";
import { parseFlowOrThrow } from "../../../schemas/flow-parser.js";
import { MemoryStorage } from "../../../storage/memory-storage.js";
import { executionPrefix } from "../../../storage/paths.js";
import { readFileBytes } from "../../../storage/read-all.js";
import { registry } from "../../../tasks/registry.js";
import { ExecutorHarness } from "../../harness/executor-harness.js";
import { flowYaml } from "../../harness/fixtures.js";

const NS = "company.team";

/** A harness whose ForEachItem split and merge jobs run through the real worker attempt on `storage`. */
function setUp() {
  const h = new ExecutorHarness();
  const storage = new MemoryStorage();
  const logs: TaskLogLine[] = [];
  h.addFlow(flowYaml("foreach-item-child"));
  h.addFlow(flowYaml("foreach-item-quiet-child"));
  // only what split and merge jobs use: they send no commands
  const env = { registry, storage, workerId: "worker-1", emitLog: (l: TaskLogLine) => void logs.push(l), killGraceMs: 100 } as AttemptEnv;
  /** Runs the worker-side jobs the harness holds until none is left. */
  const work = async () => {
    for (;;) {
      const job = h.pendingJobs.find((j) => isForEachItemWork(j.task));
      if (!job) return;
      const outcome = await new Attempt(job, env).run();
      h.completeJob(job, outcome);
    }
  };
  /** Writes the items file in the parent execution's storage and returns its URI. */
  const items = (flowId: string, executionId: string, text: string, name = "items.txt") =>
    storage.put(`${executionPrefix({ tenantId: "main", namespace: NS, flowId, executionId })}/inputs/${name}`, Buffer.from(text));
  const read = async (uri: string) => (await readFileBytes(storage, uri)).toString("utf8");
  /** Starts the parent (split and merge held for `work`) and runs it to its end. */
  const run = async (fixture: string, text: string, executionId = "parent1") => {
    const flow = h.addFlow(flowYaml(fixture));
    const file = await items(flow.id, executionId, text);
    h.script("each_split", () => "hang").script("each_merge", () => "hang");
    h.start(flow, { file }, { executionId });
    await work();
    h.runTimersUntil(() => h.isDone(executionId));
    return { ex: h.execution(executionId), file };
  };
  const children = (parentId: string) =>
    h.executionIds().map((id) => h.state(id)).filter((s) => s.execution.parentId === parentId);
  return { h, storage, logs, work, run, read, children };
}

describe("ForEachItem", () => {
  it("splits by rows, starts one subflow per batch, waits, and merges their outputs in batch order", async () => {
    const { h, run, read, children, logs } = setUp();
    const { ex } = await run("foreach-item-rows", "a\nb\nc\nd\ne\n");
    expect(ex.state.current).toBe("SUCCESS");
    expect(logs.map((l) => [l.taskId, l.message])).toContainEqual(["each_split", expect.stringMatching(/into 3 batches$/)]);
    const each = h.taskRuns(ex.id, "each")[0];
    for (const id of ["each_split", "each_items", "each_merge"]) {
      const [tr] = h.taskRuns(ex.id, id);
      expect(tr.parentTaskRunId).toBe(each.id);
      expect(tr.state.current).toBe("SUCCESS");
    }
    expect(h.taskRuns(ex.id, "each_merge")[0].attempts).toHaveLength(1);

    const kids = children(ex.id);
    expect(kids).toHaveLength(3);
    const items = h.taskRuns(ex.id, "each_items")[0];
    expect(kids.map((k) => k.execution.id)).toEqual([0, 1, 2].map((i) => batchExecutionId(ex.id, items.id, 0, i)));
    expect(kids.map((k) => k.execution.parentTaskRunId)).toEqual([items.id, items.id, items.id]);
    expect(kids.map((k) => k.execution.inputs.n)).toEqual(["0", "1", "2"]);
    expect(await Promise.all(kids.map((k) => read(String(k.execution.inputs.file))))).toEqual(["a\nb\n", "c\nd\n", "e\n"]);
    for (const k of kids) expect(k.execution.labels).toContainEqual({ key: "from", value: "parent" });

    expect(items.outputs).toEqual({ numberOfBatches: 3, iterations: { SUCCESS: 3 } });
    const split = h.taskRuns(ex.id, "each_split")[0].outputs as Record<string, unknown>;
    expect((await read(String(split.splits))).trim().split("\n")).toEqual(kids.map((k) => k.execution.inputs.file));

    const merged = String(h.taskRuns(ex.id, "each_merge")[0].outputs?.subflowOutputs);
    const lines = (await read(merged)).trim().split("\n").map((l) => JSON.parse(l) as { seen: string });
    expect(lines.map((l) => l.seen)).toEqual(kids.map((k, i) => `${i}:${String(k.execution.inputs.file)}`));
    expect(h.taskRuns(ex.id, "after")[0].outputs).toEqual({ value: `${merged}|3|3` });
    // the state is the fold of the recorded events, and the merge job carried the outputs in order
    expect(h.replayed(ex.id)).toEqual(h.state(ex.id));
    const mergeJob = h.dispatched.find((j) => j.task.id === "each_merge");
    expect((mergeJob?.vars.subflowOutputs as unknown[]).length).toBe(3);
  });

  it("splits by bytes: a batch closes once it reaches the size", async () => {
    const { run, read, children } = setUp();
    const { ex } = await run("foreach-item-bytes", "aaaa\nbbbb\ncccc\ndd\nee\nff\n");
    expect(ex.state.current).toBe("SUCCESS");
    const files = await Promise.all(children(ex.id).map((k) => read(String(k.execution.inputs.file))));
    expect(files).toEqual(["aaaa\nbbbb\n", "cccc\ndd\nee\n", "ff\n"]);
  });

  it("splits into partitions round-robin (lines end at \\n, \\r\\n or \\r), written with a custom separator; without subflow outputs there is no merge", async () => {
    const { h, run, read, children } = setUp();
    const { ex } = await run("foreach-item-partitions", "1\n2\r\n3\n4\r5\n6\n7");
    expect(ex.state.current).toBe("SUCCESS");
    const files = await Promise.all(children(ex.id).map((k) => read(String(k.execution.inputs.file))));
    expect(files).toEqual(["1;4;7;", "2;5;", "3;6;"]);
    expect(h.taskRuns(ex.id, "each_merge")).toEqual([]);
    expect(h.taskRuns(ex.id, "each_items")[0].outputs).toEqual({ numberOfBatches: 3, iterations: { SUCCESS: 3 } });
  });

  it("keeps the items file's extension on the batch files", async () => {
    const { h, storage, work, read, children } = setUp();
    const flow = h.addFlow(flowYaml("foreach-item-partitions"));
    const file = await storage.put(`${executionPrefix({ tenantId: "main", namespace: NS, flowId: flow.id, executionId: "csv1" })}/data.csv`, Buffer.from("x\ny\n"));
    h.script("each_split", () => "hang");
    h.start(flow, { file }, { executionId: "csv1" });
    await work();
    const uris = children("csv1").map((k) => String(k.execution.inputs.file));
    expect(uris.map((u) => u.slice(u.lastIndexOf("/") + 1))).toEqual(["1.csv", "2.csv"]);
    expect(await read(uris[0])).toBe("x;");
  });

  it("with wait: false ends the items once every subflow is requested", async () => {
    const { h, storage, work, children } = setUp();
    const flow = h.addFlow(flowYaml("foreach-item-nowait"));
    const file = await storage.put(`${executionPrefix({ tenantId: "main", namespace: NS, flowId: flow.id, executionId: "nw" })}/i.txt`, Buffer.from("p\nq\n"));
    h.script("each_split", () => "hang").script("count", () => "hang");
    h.start(flow, { file }, { executionId: "nw" });
    await work();
    const ex = h.execution("nw");
    expect(ex.state.current).toBe("SUCCESS");
    expect(h.taskRuns("nw", "each_items")[0].outputs).toEqual({ numberOfBatches: 2, iterations: { CREATED: 2 } });
    expect(h.taskRuns("nw", "next")[0].outputs).toEqual({ value: "2" });
    expect(h.taskRuns("nw", "each_merge")).toEqual([]);
    const kids = children("nw");
    expect(kids).toHaveLength(2);
    expect(kids.every((k) => !isTerminal(k.execution.state.current))).toBe(true);
  });

  it("with transmitFailed, a failing subflow fails the task once every batch ended, and nothing is merged", async () => {
    const { h, run, children } = setUp();
    h.script("count", (job) => (job.vars.inputs as { n: unknown }).n === "1"
      ? { state: "FAILED", error: { message: "bad batch" } }
      : { state: "SUCCESS", outputs: { value: "ok" } });
    const { ex } = await run("foreach-item-rows", "a\nb\nc\nd\ne\n");
    expect(ex.state.current).toBe("FAILED");
    expect(children(ex.id).map((k) => k.execution.state.current)).toEqual(["SUCCESS", "FAILED", "SUCCESS"]);
    const items = h.taskRuns(ex.id, "each_items")[0];
    expect(items.state.current).toBe("FAILED");
    expect(items.error).toEqual({ message: "1 of 3 subflow executions did not succeed", code: "FOREACHITEM_SUBFLOW_FAILED" });
    expect(items.outputs).toEqual({ numberOfBatches: 3, iterations: { SUCCESS: 2, FAILED: 1 } });
    expect(h.taskState(ex.id, "each")).toBe("FAILED");
    expect(h.taskRuns(ex.id, "each_merge")).toEqual([]);
    expect(h.taskRuns(ex.id, "after")).toEqual([]);
  });

  it("the task's own errors branch runs when a batch failed", async () => {
    const { h, storage, work } = setUp();
    const yaml = flowYaml("foreach-item-rows").replace("  - id: after\n", "    errors:\n      - id: handle\n        type: io.kestra.plugin.core.log.Log\n        message: \"{{ outputs.each_items.iterations.FAILED }} failed\"\n  - id: after\n");
    const flow = h.addFlow(yaml);
    const file = await storage.put(`${executionPrefix({ tenantId: "main", namespace: NS, flowId: flow.id, executionId: "er" })}/i.txt`, Buffer.from("a\nb\nc\n"));
    h.script("each_split", () => "hang").script("count", { fail: 9 });
    h.start(flow, { file }, { executionId: "er" });
    await work();
    expect(h.execution("er").state.current).toBe("FAILED");
    const handle = h.taskRuns("er", "handle")[0];
    expect(handle.state.current).toBe("SUCCESS");
    expect(handle.parentTaskRunId).toBe(h.taskRuns("er", "each")[0].id);
    expect(h.dispatched.find((j) => j.task.id === "handle")?.vars.outputs).toMatchObject({ each_items: { iterations: { FAILED: 2 } } });
  });

  it("without transmitFailed, a failing subflow leaves the task successful and its line in the merge empty", async () => {
    const { h, run, read } = setUp();
    h.script("count", (job) => (job.vars.inputs as { n: unknown }).n === "1"
      ? { state: "FAILED", error: { message: "bad batch" } }
      : { state: "SUCCESS", outputs: { value: `v${String((job.vars.inputs as { n: unknown }).n)}` } });
    const { ex } = await run("foreach-item-lenient", "a\nb\nc\n");
    expect(ex.state.current).toBe("SUCCESS");
    expect(h.taskRuns(ex.id, "each_items")[0].outputs).toEqual({ numberOfBatches: 3, iterations: { SUCCESS: 2, FAILED: 1 } });
    const merged = String(h.taskRuns(ex.id, "each_merge")[0].outputs?.subflowOutputs);
    expect((await read(merged)).split("\n")).toEqual(['{"seen":"v0"}', "{}", '{"seen":"v2"}', ""]);
  });

  it("a restart retries only the failed batches as new executions (RETRY_FAILED), the others keep their result", async () => {
    const { h, run, work, children } = setUp();
    let broken = true;
    h.script("count", (job) => broken && (job.vars.inputs as { n: unknown }).n === "1"
      ? { state: "FAILED", error: { message: "bad batch" } }
      : { state: "SUCCESS", outputs: { value: `ok${String((job.vars.inputs as { n: unknown }).n)}` } });
    const { ex } = await run("foreach-item-rows", "a\nb\nc\nd\ne\nf\n");
    expect(ex.state.current).toBe("FAILED");
    const failedKid = children(ex.id).find((k) => k.execution.state.current === "FAILED");
    broken = false;
    h.send({ type: "Restart", executionId: ex.id });
    await work();
    expect(h.execution(ex.id).state.current).toBe("SUCCESS");
    const kids = children(ex.id);
    expect(kids).toHaveLength(4);
    expect(kids.slice(3).map((k) => k.execution.inputs.n)).toEqual(["1"]);
    expect(h.taskRuns(ex.id, "each_split")[0].attempts).toHaveLength(1);
    expect(h.taskRuns(ex.id, "each_items")[0].outputs).toEqual({ numberOfBatches: 3, iterations: { SUCCESS: 3 } });
    // the failed execution of the first run no longer answers for its batch
    const items = h.taskRuns(ex.id, "each_items")[0];
    const before = h.events(ex.id).length;
    h.send({ type: "SubflowEnded", executionId: ex.id, childExecutionId: String(failedKid?.execution.id), parentTaskRunId: items.id, state: "FAILED" });
    expect(h.events(ex.id).slice(before).map((e) => e.type)).toEqual(["ResultIgnored"]);
    const merged = h.dispatched.filter((j) => j.task.id === "each_merge").at(-1);
    expect(merged?.vars.subflowOutputs).toEqual([{ seen: "ok0" }, { seen: "ok1" }, { seen: "ok2" }]);
    expect(h.replayed(ex.id)).toEqual(h.state(ex.id));
  });

  it("with restartBehavior NEW_EXECUTION a restart runs every batch again", async () => {
    const { h, storage, work, children } = setUp();
    const flow = h.addFlow(flowYaml("foreach-item-rows").replace("    labels:\n", "    restartBehavior: NEW_EXECUTION\n    labels:\n"));
    const file = await storage.put(`${executionPrefix({ tenantId: "main", namespace: NS, flowId: flow.id, executionId: "ne" })}/i.txt`, Buffer.from("a\nb\nc\nd\n"));
    let broken = true;
    h.script("each_split", () => "hang").script("each_merge", () => "hang");
    h.script("count", (job) => broken && (job.vars.inputs as { n: unknown }).n === "1"
      ? { state: "FAILED", error: { message: "bad batch" } }
      : { state: "SUCCESS", outputs: { value: "ok" } });
    h.start(flow, { file }, { executionId: "ne" });
    await work();
    expect(h.execution("ne").state.current).toBe("FAILED");
    broken = false;
    h.send({ type: "Restart", executionId: "ne" });
    await work();
    expect(h.execution("ne").state.current).toBe("SUCCESS");
    expect(new Set(children("ne").map((k) => k.execution.id)).size).toBe(4);
    expect(h.replayed("ne")).toEqual(h.state("ne"));
  });

  it("ignores a duplicate or unknown subflow ending, and a redelivered create starts nothing twice", async () => {
    const { h, run, children } = setUp();
    const { ex } = await run("foreach-item-rows", "a\nb\n");
    const items = h.taskRuns(ex.id, "each_items")[0];
    const [kid] = children(ex.id);
    const before = h.events(ex.id).length;
    h.send({ type: "SubflowEnded", executionId: ex.id, childExecutionId: kid.execution.id, parentTaskRunId: items.id, state: "FAILED" });
    h.send({ type: "SubflowEnded", executionId: ex.id, childExecutionId: "constructor", parentTaskRunId: items.id, state: "FAILED" });
    expect(h.events(ex.id).slice(before).map((e) => e.type)).toEqual(["ResultIgnored", "ResultIgnored"]);
    expect(h.execution(ex.id).state.current).toBe("SUCCESS");
    const created = h.actions.filter((a) => a.type === "CreateExecution");
    expect(new Set(created.map((a) => a.type === "CreateExecution" && a.executionId)).size).toBe(created.length);
    const kidEvents = h.events(kid.execution.id).length;
    h.send({ type: "CreateExecution", executionId: kid.execution.id, flow: kid.flow, inputs: {} });
    expect(h.events(kid.execution.id)).toHaveLength(kidEvents);
  });

  it("a kill while subflows run kills every unfinished one", async () => {
    const { h, storage, work, children } = setUp();
    const flow = h.addFlow(flowYaml("foreach-item-rows"));
    const file = await storage.put(`${executionPrefix({ tenantId: "main", namespace: NS, flowId: flow.id, executionId: "k1" })}/i.txt`, Buffer.from("a\nb\nc\nd\n"));
    h.script("each_split", () => "hang").script("count", () => "hang");
    h.start(flow, { file }, { executionId: "k1" });
    await work();
    expect(children("k1")).toHaveLength(2);
    // `iterations` follows the subflow executions as they end
    h.completeJob(h.pendingJob("count") as WorkerJob, { state: "SUCCESS", outputs: { value: "x" } });
    expect(h.taskRuns("k1", "each_items")[0].outputs).toEqual({ numberOfBatches: 2, iterations: { CREATED: 1, SUCCESS: 1 } });
    h.send({ type: "Kill", executionId: "k1" });
    expect(h.execution("k1").state.current).toBe("KILLED");
    expect(h.taskState("k1", "each_items")).toBe("KILLED");
    expect(children("k1").map((k) => k.execution.state.current)).toEqual(["SUCCESS", "KILLED"]);
  });

  it("refuses more than 10,000 batches with a clear error", async () => {
    const { h, run } = setUp();
    const text = Array.from({ length: 10_001 }, (_, i) => `r${i}`).join("\n");
    const { ex } = await run("foreach-item-lenient", text);
    expect(ex.state.current).toBe("FAILED");
    const split = h.taskRuns(ex.id, "each_split")[0];
    expect(split.error?.code).toBe("FOREACHITEM_TOO_MANY_BATCHES");
    expect(split.error?.message).toContain("10000");
    expect(h.taskRuns(ex.id, "each_items")).toEqual([]);
    expect(h.executionIds()).toEqual([ex.id]);
  });

  it("10,000 batches: one child execution each, all distinct, the merge job carries every output in order", () => {
    const h = new ExecutorHarness();
    h.addFlow(flowYaml("foreach-item-child"));
    const prefix = "lanner:///main/company/team/each_rows/executions/big/tasks/each_split/x/";
    // the split's report, as the worker-side tests above check it is written
    h.script("each_split", () => ({ state: "SUCCESS", outputs: { numberOfBatches: 10_000, batchUriPrefix: prefix, batchUriSuffix: ".txt", splits: `${prefix}splits.txt` } }));
    h.script("each_merge", () => ({ state: "SUCCESS", outputs: { subflowOutputs: `${prefix}merged.jsonl` } }));
    h.start(h.addFlow(flowYaml("foreach-item-rows")), { file: `${prefix}items.txt` }, { executionId: "big" });
    h.runTimersUntil(() => h.isDone("big"));
    expect(h.execution("big").state.current).toBe("SUCCESS");
    const kids = h.executionIds().filter((id) => h.state(id).execution.parentId === "big");
    expect(new Set(kids).size).toBe(10_000);
    expect(h.state(kids[9_999]).execution.inputs).toEqual({ file: `${prefix}10000.txt`, n: "9999" });
    const merge = h.dispatched.find((j) => j.task.id === "each_merge");
    const outs = merge?.vars.subflowOutputs as Array<{ seen: string }>;
    expect(outs).toHaveLength(10_000);
    expect(outs[41].seen).toBe(`41:${prefix}42.txt`);
    expect(h.taskRuns("big", "each_items")[0].outputs).toEqual({ numberOfBatches: 10_000, iterations: { SUCCESS: 10_000 } });
  });

  it("fails the split clearly when items is not a storage URI or the file is missing", async () => {
    const { h, work } = setUp();
    const flow = h.addFlow(flowYaml("foreach-item-rows"));
    h.script("each_split", () => "hang");
    h.start(flow, { file: "not a uri" }, { executionId: "bad1" });
    h.start(flow, { file: "lanner:///main/company/team/each_rows/executions/bad2/none.txt" }, { executionId: "bad2" });
    await work();
    expect(h.taskRuns("bad1", "each_split")[0].error?.code).toBe("FOREACHITEM_INVALID_ITEMS");
    expect(h.taskRuns("bad2", "each_split")[0].error?.code).toBe("STORAGE_NOT_FOUND");
    expect(h.execution("bad1").state.current).toBe("FAILED");
    expect(h.execution("bad2").state.current).toBe("FAILED");
  });

  it("inputs that do not render fail the items task run clearly, and nothing is left running", async () => {
    const { h, storage, work } = setUp();
    const flow = h.addFlow(flowYaml("foreach-item-rows").replace('n: "{{ taskrun.iteration }}"', 'n: "{{ taskrun.iteration | nosuchfilter }}"'));
    const file = await storage.put(`${executionPrefix({ tenantId: "main", namespace: NS, flowId: flow.id, executionId: "rf" })}/i.txt`, Buffer.from("a\n"));
    h.script("each_split", () => "hang");
    h.start(flow, { file }, { executionId: "rf" });
    await work();
    expect(h.execution("rf").state.current).toBe("FAILED");
    const items = h.taskRuns("rf", "each_items")[0];
    expect(items.state.current).toBe("FAILED");
    expect(items.error?.message).toMatch(/^each: .*nosuchfilter/);
    expect(Object.keys(h.state("rf").active)).toEqual([]);
    expect(h.executionIds()).toEqual(["rf"]);
  });

  it("batch rules: defaults to one row, refuses two rules at once and malformed sizes", () => {
    expect(batchRule(undefined)).toEqual({ rows: 1 });
    expect(batchRule({ rows: "3" })).toEqual({ rows: 3 });
    expect(batchRule({ bytes: "2KB" })).toEqual({ bytes: 2048 });
    expect(batchRule({ partitions: 4 })).toEqual({ partitions: 4 });
    expect(() => batchRule({ rows: 2, partitions: 2 })).toThrow(/only one of/);
    expect(() => batchRule({ bytes: "lots" })).toThrow(/10KB/);
    expect(() => batchRule({ rows: 0 })).toThrow(/≥ 1/);
    expect(() => batchRule({ partitions: 10_001 })).toThrow(/10000/);
  });

  it("the flow parser refuses two batch rules and a malformed size", () => {
    const flow = (batch: string) => `id: f\nnamespace: ${NS}\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEachItem\n    items: x\n    batch: ${batch}\n    namespace: ${NS}\n    flowId: c\n`;
    expect(() => parseFlowOrThrow(flow("{ rows: 2, bytes: 1KB }"))).toThrow(/only one of/);
    expect(() => parseFlowOrThrow(flow("{ bytes: huge }"))).toThrow(/10KB/);
    expect(parseFlowOrThrow(flow("{ partitions: 2 }")).tasks[0].batch).toEqual({ partitions: 2 });
  });
});
