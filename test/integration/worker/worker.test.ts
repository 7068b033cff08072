import { afterEach, describe, expect, it } from "vitest";
import { WORKER_CONTROL_TOPIC } from "../../../processors/worker/records.js";
import type { Worker } from "../../../processors/worker/worker.js";
import { readFileBytes } from "../../../storage/read-all.js";
import { partitionForKey } from "../../../topology/partitioner.js";
import {
  appendCancel,
  appendJobs,
  Collector,
  GATE_TYPE,
  Gates,
  job,
  newWorker,
  openEnv,
  registryWith,
  resultOf,
  type Backend,
  type TestEnv,
} from "./harness.js";

let env: TestEnv | undefined;
const workers: Worker[] = [];
const collectors: Collector[] = [];

async function setup(backend: Backend = "embedded"): Promise<TestEnv> {
  env = await openEnv(backend);
  return env;
}

async function collect(e: TestEnv, topic: string): Promise<Collector> {
  const c = await Collector.on(e.log, topic);
  collectors.push(c);
  return c;
}

function track(w: Worker): Worker {
  workers.push(w);
  return w;
}

afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop({ graceful: false, timeoutMs: 0 });
  for (const c of collectors.splice(0)) await c.close().catch(() => undefined);
  await env?.cleanup();
  env = undefined;
});

describe.each(["embedded", "memory", "postgres"] as const)("worker on the %s log", (backend) => {
  it("reports Started then Completed with the task's outputs", async () => {
    const e = await setup(backend);
    const results = await collect(e, "worker-results");
    const w = track(newWorker(e));
    await w.start();
    const j = job({ type: "io.kestra.plugin.core.debug.Return", format: "hello {{ inputs.name }}" }, { vars: { inputs: { name: "ada" } } });
    await appendJobs(e.log, j);
    const [done] = await results.waitFor(resultOf(j, "completed"));
    expect(done.value).toMatchObject({ state: "SUCCESS", outputs: { value: "hello ada" }, workerId: w.workerId, attempt: 1 });
    const started = results.matching(resultOf(j, "started"));
    expect(started).toHaveLength(1);
    expect(started[0].record.offset < done.record.offset).toBe(true);
    expect(started[0].record.key).toBe(j.executionId);
  });

  it("starts jobs that were waiting in the topic before it joined", async () => {
    const e = await setup(backend);
    const results = await collect(e, "worker-results");
    const waiting = [job({ type: "io.kestra.plugin.core.debug.Return", format: "a" }), job({ type: "io.kestra.plugin.core.debug.Return", format: "b" })];
    await appendJobs(e.log, ...waiting);
    const w = track(newWorker(e));
    await w.start();
    for (const j of waiting) await results.waitFor(resultOf(j, "completed"));
    expect(w.completed).toBe(2);
  });

  it("kills a running attempt on CancelJob", async () => {
    const e = await setup(backend);
    const results = await collect(e, "worker-results");
    const w = track(newWorker(e));
    await w.start();
    const j = job({ type: "io.kestra.plugin.core.flow.Sleep", duration: "PT1H" });
    await appendJobs(e.log, j);
    await results.waitFor(resultOf(j, "started"));
    await appendCancel(e.log, { executionId: j.executionId, taskRunId: j.taskRunId, attempt: 1, workerId: w.workerId });
    const [done] = await results.waitFor(resultOf(j, "completed"));
    expect(done.value.state).toBe("KILLED");
  });
});

describe("worker", () => {
  it("never runs more attempts at once than its threads", async () => {
    const e = await setup();
    const gates = new Gates();
    const results = await collect(e, "worker-results");
    const w = track(newWorker(e, { threads: 2, registry: registryWith(gates.definition) }));
    await w.start();
    const jobs = Array.from({ length: 5 }, () => job({ type: GATE_TYPE }));
    await appendJobs(e.log, ...jobs);
    await gates.untilRunning(2);
    expect(w.runningCount).toBe(2);
    for (const j of jobs) gates.open(j.task.id);
    for (const j of jobs) await results.waitFor(resultOf(j, "completed"));
    expect(gates.maxRunning).toBe(2);
    expect(w.completed).toBe(5);
  });

  it("leaves jobs uncommitted in the topic while all its threads are busy", async () => {
    const e = await setup();
    const gates = new Gates();
    const results = await collect(e, "worker-results");
    const w = track(newWorker(e, { threads: 1, registry: registryWith(gates.definition) }));
    await w.start();
    // One execution id: the three jobs share one partition, in order.
    const exec = "exec-backpressure";
    const jobs = [1, 2, 3].map(() => job({ type: GATE_TYPE }, { executionId: exec }));
    const offsets = await appendJobs(e.log, ...jobs);
    await results.waitFor(resultOf(jobs[0], "started"));
    const partition = partitionForKey(exec, e.log.partitionsOf("worker-jobs"));
    expect(await e.log.committed(w.jobsGroup, "worker-jobs", partition)).toBe(offsets[0] + 1n);
    expect(results.matching(resultOf(jobs[1], "started"))).toHaveLength(0);
    gates.open(jobs[0].task.id);
    await results.waitFor(resultOf(jobs[1], "started"));
    expect(await e.log.committed(w.jobsGroup, "worker-jobs", partition)).toBe(offsets[1] + 1n);
    gates.open(jobs[1].task.id);
    gates.open(jobs[2].task.id);
    await results.waitFor(resultOf(jobs[2], "completed"));
    expect(await e.log.committed(w.jobsGroup, "worker-jobs", partition)).toBe(offsets[2] + 1n);
    expect(gates.maxRunning).toBe(1);
  });

  it("kills a running Sleep when a CancelJob arrives", async () => {
    const e = await setup();
    const results = await collect(e, "worker-results");
    const w = track(newWorker(e));
    await w.start();
    const j = job({ type: "io.kestra.plugin.core.flow.Sleep", duration: "PT1H" });
    await appendJobs(e.log, j);
    await results.waitFor(resultOf(j, "started"));
    await appendCancel(e.log, { executionId: j.executionId, taskRunId: j.taskRunId, attempt: 1, workerId: w.workerId });
    const [done] = await results.waitFor(resultOf(j, "completed"));
    expect(done.value.state).toBe("KILLED");
    expect(w.killed).toBe(1);
  });

  it("kills a running shell process (SIGTERM) when a CancelJob arrives", async () => {
    const e = await setup();
    const results = await collect(e, "worker-results");
    const logs = await collect(e, "logs");
    const w = track(newWorker(e));
    await w.start();
    const j = job({ type: "io.kestra.plugin.scripts.shell.Commands", commands: ["echo begun", "sleep 3600"] });
    await appendJobs(e.log, j);
    await logs.waitFor((s) => s.value.taskRunId === j.taskRunId && s.value.message === "begun");
    await appendCancel(e.log, { executionId: j.executionId, taskRunId: j.taskRunId, attempt: 1 });
    const [done] = await results.waitFor(resultOf(j, "completed"));
    expect(done.value.state).toBe("KILLED");
  });

  it("ignores cancellations sent before it started", async () => {
    const e = await setup();
    const results = await collect(e, "worker-results");
    const j = job({ type: "io.kestra.plugin.core.debug.Return", format: "still runs" });
    // A stale cancellation of the same attempt, from before this worker existed.
    await appendCancel(e.log, { executionId: j.executionId, taskRunId: j.taskRunId, attempt: 1 });
    const w = track(newWorker(e));
    await w.start();
    await appendJobs(e.log, j);
    const [done] = await results.waitFor(resultOf(j, "completed"));
    expect(done.value).toMatchObject({ state: "SUCCESS", outputs: { value: "still runs" } });
    const partitions = e.log.partitionsOf(WORKER_CONTROL_TOPIC);
    for (let p = 0; p < partitions; p++) {
      expect(await e.log.committed(`worker-control-${w.workerId}`, WORKER_CONTROL_TOPIC, p)).toBe(await e.log.endOffset(WORKER_CONTROL_TOPIC, p));
    }
  });

  it("fails an attempt at its deadline with a timeout message", async () => {
    const e = await setup();
    const results = await collect(e, "worker-results");
    const w = track(newWorker(e));
    await w.start();
    const j = job({ type: "io.kestra.plugin.core.flow.Sleep", duration: "PT1H", timeout: "PT0.2S" }, { deadline: Date.now() + 200 });
    await appendJobs(e.log, j);
    const [done] = await results.waitFor(resultOf(j, "completed"));
    expect(done.value).toMatchObject({ state: "FAILED", error: { message: "Task timed out after PT0.2S", code: "TASK_TIMEOUT" } });
  });

  it("answers an unknown task type with a FAILED result", async () => {
    const e = await setup();
    const results = await collect(e, "worker-results");
    const w = track(newWorker(e));
    await w.start();
    const j = job({ type: "io.example.NoSuchTask" });
    await appendJobs(e.log, j);
    const [done] = await results.waitFor(resultOf(j, "completed"));
    expect(done.value).toMatchObject({ state: "FAILED", error: { code: "TASK_TYPE_UNKNOWN" } });
    expect(String((done.value.error as { message: string }).message)).toContain("io.example.NoSuchTask");
  });

  it("reports a task's thrown error as FAILED with its code", async () => {
    const e = await setup();
    const results = await collect(e, "worker-results");
    const w = track(newWorker(e));
    await w.start();
    const j = job({ type: "io.kestra.plugin.scripts.shell.Commands", commands: ["exit 3"] });
    await appendJobs(e.log, j);
    const [done] = await results.waitFor(resultOf(j, "completed"));
    expect(done.value).toMatchObject({ state: "FAILED", error: { code: "TASK_COMMAND_FAILED", message: "Command failed with exit code 3" } });
  });

  it("runs a WorkingDirectory's children in one directory, passing outputs along", async () => {
    const e = await setup();
    const results = await collect(e, "worker-results");
    const w = track(newWorker(e));
    await w.start();
    const j = job({
      type: "io.kestra.plugin.core.flow.WorkingDirectory",
      inputFiles: { "in.txt": "from input" },
      outputFiles: ["out.txt"],
      tasks: [
        { id: "write", type: "io.kestra.plugin.scripts.shell.Commands", commands: ["cat in.txt > out.txt", "echo '::{\"outputs\":{\"n\":7}}::'"] },
        { id: "read", type: "io.kestra.plugin.scripts.shell.Commands", commands: ["cat out.txt"] },
        { id: "sum", type: "io.kestra.plugin.core.debug.Return", format: "{{ outputs.write.vars.n + 1 }}" },
      ],
    });
    await appendJobs(e.log, j);
    const [done] = await results.waitFor(resultOf(j, "completed"));
    expect(done.value.state).toBe("SUCCESS");
    const outputs = done.value.outputs as { taskRuns: Array<{ taskId: string; state: string; outputs?: Record<string, unknown> }>; outputFiles: Record<string, string> };
    expect(outputs.taskRuns.map((t) => [t.taskId, t.state])).toEqual([
      ["write", "SUCCESS"],
      ["read", "SUCCESS"],
      ["sum", "SUCCESS"],
    ]);
    expect(outputs.taskRuns[2].outputs).toEqual({ value: "8" });
    expect((await readFileBytes(e.storage, outputs.outputFiles["out.txt"])).toString()).toBe("from input");
  });

  it("stops a WorkingDirectory at the first failure unless the child allows it", async () => {
    const e = await setup();
    const results = await collect(e, "worker-results");
    const w = track(newWorker(e));
    await w.start();
    const j = job({
      type: "io.kestra.plugin.core.flow.WorkingDirectory",
      tasks: [
        { id: "tolerated", type: "io.kestra.plugin.scripts.shell.Commands", commands: ["exit 1"], allowFailure: true },
        { id: "breaks", type: "io.kestra.plugin.core.execution.Fail", errorMessage: "boom" },
        { id: "never", type: "io.kestra.plugin.core.debug.Return", format: "x" },
      ],
    });
    await appendJobs(e.log, j);
    const [done] = await results.waitFor(resultOf(j, "completed"));
    expect(done.value).toMatchObject({ state: "FAILED", error: { message: "boom" } });
    const runs = (done.value.outputs as { taskRuns: Array<{ taskId: string; state: string }> }).taskRuns;
    expect(runs.map((t) => [t.taskId, t.state])).toEqual([
      ["tolerated", "FAILED"],
      ["breaks", "FAILED"],
    ]);
  });

  it("streams task log lines to the logs topic before the result", async () => {
    const e = await setup();
    const results = await collect(e, "worker-results");
    const logs = await collect(e, "logs");
    const w = track(newWorker(e));
    await w.start();
    const j = job({ type: "io.kestra.plugin.core.log.Log", message: ["first {{ inputs.x }}", "second"], level: "WARN" }, { vars: { inputs: { x: 1 } } });
    await appendJobs(e.log, j);
    await results.waitFor(resultOf(j, "completed"));
    // Flushed before the result was appended, so they are already there.
    const lines = logs.seen.length >= 2 ? logs.matching((s) => s.value.taskRunId === j.taskRunId) : await logs.waitFor((s) => s.value.taskRunId === j.taskRunId, 2);
    expect(lines.map((l) => l.value.message)).toEqual(["first 1", "second"]);
    expect(lines[0].value).toMatchObject({ level: "WARN", taskId: j.task.id, executionId: j.executionId, attempt: 1, workerId: w.workerId, namespace: "company.team", flowId: "flow", tenantId: "main" });
    expect(lines[0].record.key).toBe(j.executionId);
  });

  it("gives tasks secrets from SECRET_ environment variables, base64-decoded", async () => {
    const e = await setup();
    const results = await collect(e, "worker-results");
    const w = track(newWorker(e, { env: { SECRET_API_TOKEN: Buffer.from("s3cr3t").toString("base64") } }));
    await w.start();
    const j = job({ type: "io.kestra.plugin.core.debug.Return", format: "{{ secret('API_TOKEN') }}" });
    await appendJobs(e.log, j);
    const [done] = await results.waitFor(resultOf(j, "completed"));
    expect(done.value.outputs).toEqual({ value: "s3cr3t" });
  });

  it("serves read() from internal storage", async () => {
    const e = await setup();
    const results = await collect(e, "worker-results");
    const w = track(newWorker(e));
    await w.start();
    const uri = await e.storage.put("main/company/team/flow/executions/exec-read/inputs/f.txt", new TextEncoder().encode("file body"));
    const j = job({ type: "io.kestra.plugin.core.debug.Return", format: "{{ read(inputs.file) }}" }, { executionId: "exec-read", vars: { inputs: { file: uri } } });
    await appendJobs(e.log, j);
    const [done] = await results.waitFor(resultOf(j, "completed"));
    expect(done.value.outputs).toEqual({ value: "file body" });
  });

  it("skips jobs of another worker group and commits past them", async () => {
    const e = await setup();
    const results = await collect(e, "worker-results");
    const w = track(newWorker(e));
    await w.start();
    const exec = "exec-groups";
    const gpuJob = job({ type: "io.kestra.plugin.core.debug.Return", format: "gpu" }, { executionId: exec, workerGroup: "gpu" });
    const plain = job({ type: "io.kestra.plugin.core.debug.Return", format: "plain" }, { executionId: exec });
    await appendJobs(e.log, gpuJob, plain);
    await results.waitFor(resultOf(plain, "completed"));
    expect(results.matching(resultOf(gpuJob, "started"))).toHaveLength(0);
    const gpu = track(newWorker(e, { group: "gpu" }));
    await gpu.start();
    const [done] = await results.waitFor(resultOf(gpuJob, "completed"));
    expect(done.value).toMatchObject({ state: "SUCCESS", workerId: gpu.workerId });
    expect(results.matching(resultOf(plain, "started"))).toHaveLength(1);
  });

  it("sends an undecodable job to dead letters and keeps going", async () => {
    const e = await setup();
    const results = await collect(e, "worker-results");
    const w = track(newWorker(e));
    await w.start();
    await e.log.append([{ topic: "worker-jobs", key: "exec-bad", value: new Uint8Array([1, 2, 3]) }]);
    const j = job({ type: "io.kestra.plugin.core.debug.Return", format: "after" }, { executionId: "exec-bad" });
    await appendJobs(e.log, j);
    await results.waitFor(resultOf(j, "completed"));
    // Dead letters keep the original bytes (which do not decode): read them raw.
    let found = 0;
    for await (const rec of e.log.readPartition("dead-letters", 0, 0n)) {
      if (rec.headers["lanner.dlq.source-topic"] === "worker-jobs") found++;
    }
    expect(found).toBe(1);
  });

  it("appends heartbeats while running, then STOPPING and STOPPED", async () => {
    const e = await setup();
    const beats = await collect(e, "heartbeats");
    const w = track(newWorker(e, { heartbeatIntervalMs: 10, threads: 3 }));
    await w.start();
    await beats.waitFor((s) => s.value.workerId === w.workerId && s.value.status === "RUNNING", 3);
    await w.stop({ graceful: true, timeoutMs: 1000 });
    const mine = await beats.waitFor((s) => s.value.workerId === w.workerId && s.value.status === "STOPPED");
    expect(mine[0].value).toMatchObject({ group: "default", threads: 3, running: 0 });
    const statuses = beats.matching((s) => s.value.workerId === w.workerId).map((s) => s.value.status);
    expect(statuses.indexOf("STOPPING")).toBeGreaterThan(0);
    expect(statuses.slice(statuses.indexOf("STOPPING"))).toEqual(["STOPPING", "STOPPED"]);
    expect(typeof beats.seen[0].value.at).toBe("number");
  });

  it("hands back a running attempt on graceful stop: no result, STOPPED with running=1", async () => {
    const e = await setup();
    const gates = new Gates();
    const results = await collect(e, "worker-results");
    const beats = await collect(e, "heartbeats");
    const w = track(newWorker(e, { registry: registryWith(gates.definition) }));
    await w.start();
    const j = job({ type: GATE_TYPE });
    await appendJobs(e.log, j);
    await results.waitFor(resultOf(j, "started"));
    const { handedBack } = await w.stop({ graceful: true, timeoutMs: 20 });
    expect(handedBack).toBe(1);
    const [stopped] = await beats.waitFor((s) => s.value.workerId === w.workerId && s.value.status === "STOPPED");
    expect(stopped.value.running).toBe(1);
    expect(results.matching(resultOf(j, "completed"))).toHaveLength(0);
  });

  it("lets a running attempt finish on graceful stop within the timeout", async () => {
    const e = await setup();
    const gates = new Gates();
    const results = await collect(e, "worker-results");
    const w = track(newWorker(e, { registry: registryWith(gates.definition) }));
    await w.start();
    const j = job({ type: GATE_TYPE });
    await appendJobs(e.log, j);
    await results.waitFor(resultOf(j, "started"));
    const stopping = w.stop({ graceful: true, timeoutMs: 60_000 });
    gates.open(j.task.id);
    expect(await stopping).toEqual({ handedBack: 0 });
    const [done] = await results.waitFor(resultOf(j, "completed"));
    expect(done.value.state).toBe("SUCCESS");
  });

  it("commits a job's offset with its Started result: a reopened log does not deliver it again", async () => {
    const e = await setup();
    const gates = new Gates();
    let results = await collect(e, "worker-results");
    const first = newWorker(e, { registry: registryWith(gates.definition) });
    await first.start();
    const exec = "exec-reopen";
    const j1 = job({ type: GATE_TYPE }, { executionId: exec });
    await appendJobs(e.log, j1);
    await results.waitFor(resultOf(j1, "started"));
    // A crash: the process dies with the attempt running (no stop, no result).
    await e.log.close();
    collectors.length = 0;
    await e.reopen();
    results = await collect(e, "worker-results");
    const second = track(newWorker(e, { registry: registryWith(gates.definition) }));
    await second.start();
    const j2 = job({ type: "io.kestra.plugin.core.debug.Return", format: "next" }, { executionId: exec });
    await appendJobs(e.log, j2);
    await results.waitFor(resultOf(j2, "completed"));
    // Same partition, delivered in order: had j1 been redelivered it would have started first.
    expect(results.matching(resultOf(j1, "started")).map((s) => s.value.workerId)).toEqual([first.workerId]);
    expect(results.matching((s) => s.value.workerId === second.workerId && s.value.taskRunId === j1.taskRunId)).toHaveLength(0);
  });
});
