/**
 * `recovery`: how long a crash stalls work, with default liveness settings.
 * - embedded: a process running executor, worker and liveness (bench/lib/embedded-node.ts; the
 *   embedded log is one process's LevelDB) is killed (SIGKILL) while a task runs and started again
 *   on the same data directory; measured: kill → AttemptStarted of attempt 2 (executor's clock).
 * - postgres, dead worker: the executor and liveness run here, the worker in its own `lanner server
 *   worker` process; once the task runs there, a second worker process is started and the first
 *   killed; measured: kill → AttemptStarted of attempt 2.
 * - postgres, dead executor: one executor in its own process, one here (with worker and liveness);
 *   executions of a chain of short Sleep tasks are in flight when that process is killed; measured
 *   per execution: kill → its next event; the slowest is the executor's recovery time.
 * - kafka: the same two steps as postgres, each `lanner server` process with its own data directory
 *   (the executor's state-store copies live there); a killed process is noticed by the broker once
 *   its consumer-group session times out (`kafka.sessionTimeoutMs`), and by liveness once its
 *   heartbeats stop (`liveness.timeoutMs`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { newExecutionId } from "../api/execution-id.js";
import { silentLogger } from "../common/logger.js";
import { encodeCommand } from "../processors/executor/shell/records.js";
import { startRoles } from "../processors/runtime/roles.js";
import { avroRecordCodec } from "../processors/worker/record-codec.js";
import { parseFlowOrThrow } from "../schemas/flow-parser.js";
import { startLanner, type LannerProcess } from "../test/harness/lanner-process.js";
import { topicCatalogue } from "../topology/topics.js";
import { preparePlace, type BenchBackend, type BenchOptions, type BenchPlace } from "./lib/backend.js";
import { ExecutionObserver } from "./lib/observer.js";
import { BENCH_DIR, REPO_DIR, round, summarize, writeResult } from "./lib/report.js";

const SLEEPER = `id: sleeper
namespace: bench
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT60S
`;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every 50 ms until it returns a value, for at most `timeoutMs`. */
async function poll<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`bench: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** A bench node process (bench/lib/embedded-node.ts) and the AttemptStarted lines it printed. */
interface Node {
  proc: ChildProcess;
  started: Array<{ executionId: string; attempt: number; at: number }>;
  exited: Promise<void>;
}

async function startNode(dataDir: string, flowFile?: string): Promise<Node> {
  const script = join(BENCH_DIR, "lib", "embedded-node.ts");
  const proc = spawn(process.execPath, ["--import", "tsx", script, dataDir, ...(flowFile ? ["--create", flowFile] : [])], { cwd: REPO_DIR, stdio: ["ignore", "pipe", "pipe"] });
  const node: Node = { proc, started: [], exited: new Promise((resolve) => proc.on("exit", () => resolve())) };
  let out = "";
  let err = "";
  proc.stderr!.on("data", (c: Buffer) => (err += c.toString()));
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      let nl: number;
      while ((nl = out.indexOf("\n")) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line === "lanner bench-node ready") resolve();
        else if (line.startsWith("{")) node.started.push(JSON.parse(line) as Node["started"][number]);
      }
    });
    void node.exited.then(() => reject(new Error(`bench node exited before it was ready:\n${err}`)));
  });
  return node;
}

async function killNode(node: Node): Promise<void> {
  if (node.proc.exitCode === null && node.proc.signalCode === null) node.proc.kill("SIGKILL");
  await node.exited;
}

/** Embedded: kill the node mid-task (SIGKILL), start it again, time until attempt 2 runs. */
async function embeddedOnce(place: BenchPlace, flowFile: string): Promise<{ recoveryMs: number; restartMs: number }> {
  let node = await startNode(place.config.dataDir, flowFile);
  try {
    await poll("attempt 1 to run", 60_000, async () => node.started.find((s) => s.attempt === 1));
    await sleep(300);
    const killedAt = Date.now();
    await killNode(node);
    node = await startNode(place.config.dataDir);
    const restartMs = Date.now() - killedAt;
    const second = await poll("attempt 2 to run", 120_000, async () => node.started.find((s) => s.attempt === 2));
    return { recoveryMs: second.at - killedAt, restartMs };
  } finally {
    await killNode(node);
  }
}

/**
 * Starts `lanner server <role>` on the place. On Kafka each process gets its own data directory
 * (a state-store copy belongs to one process) and a longer ready wait (joining a consumer group).
 */
async function startServer(place: BenchPlace, role: string): Promise<LannerProcess> {
  if (place.backend !== "kafka") return startLanner(["server", role], { env: place.env });
  const dataDir = mkdtempSync(join(place.config.dataDir, "..", `${role}-`));
  return startLanner(["server", role], { env: { ...place.env, LANNER_DATA_DIR: dataDir }, readyTimeoutMs: 120_000 });
}

/** Postgres and Kafka: kill a worker process mid-task with a second worker alive; time until attempt 2 starts there. */
async function distributedWorkerOnce(place: BenchPlace): Promise<number> {
  const roles = await startRoles(place.config, ["executor", "liveness"], { logger: silentLogger(), onFatal: (err) => { throw err; } });
  const catalogue = topicCatalogue({ executionPartitions: place.config.partitions });
  const observer = new ExecutionObserver(roles.log, avroRecordCodec, catalogue.name("executions"));
  await observer.start();
  const procs: LannerProcess[] = [];
  try {
    procs.push(await startServer(place, "worker"));
    const executionId = newExecutionId();
    const flow = { ...parseFlowOrThrow(SLEEPER), revision: 1, tenantId: "main" };
    await roles.log.append([{ topic: catalogue.name("execution-commands"), key: executionId, value: encodeCommand(avroRecordCodec, { type: "CreateExecution", executionId, flow, inputs: {}, labels: [] }) }]);
    const startedOf = (n: number) => () => observer.events(executionId).some((s) => s.event.type === "AttemptStarted" && s.event.attempt === n);
    await observer.until(startedOf(1), 60_000, "attempt 1 to start");
    procs.push(await startServer(place, "worker"));
    await sleep(300);
    const killedAt = Date.now();
    await procs[0].crash();
    await observer.until(startedOf(2), 120_000, "attempt 2 to start");
    const e = observer.events(executionId).find((s) => s.event.type === "AttemptStarted" && s.event.attempt === 2)!;
    return e.event.at - killedAt;
  } finally {
    for (const p of procs) await p.crash();
    await observer.stop();
    await roles.stop();
  }
}

/** Postgres and Kafka: kill one of two executors with executions in flight; per execution, time until its next event. */
async function distributedExecutorOnce(place: BenchPlace): Promise<{ slowestMs: number; perExecutionMs: number[] }> {
  const other = await startServer(place, "executor");
  const roles = await startRoles(place.config, ["executor", "worker", "liveness"], { logger: silentLogger(), onFatal: (err) => { throw err; }, workerStopTimeoutMs: 1_000 });
  const catalogue = topicCatalogue({ executionPartitions: place.config.partitions });
  const observer = new ExecutionObserver(roles.log, avroRecordCodec, catalogue.name("executions"));
  await observer.start();
  try {
    const steps = Array.from({ length: 400 }, (_, i) => `  - id: s${i}\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT0.05S\n`).join("");
    const flow = { ...parseFlowOrThrow(`id: steps\nnamespace: bench\ntasks:\n${steps}`), revision: 1, tenantId: "main" };
    const ids = Array.from({ length: 8 }, () => newExecutionId());
    await roles.log.append(ids.map((executionId) => ({
      topic: catalogue.name("execution-commands"), key: executionId,
      value: encodeCommand(avroRecordCodec, { type: "CreateExecution", executionId, flow, inputs: {}, labels: [] }),
    })));
    const moving = () => ids.every((id) => observer.events(id).some((s) => s.event.type === "AttemptStarted"));
    await observer.until(moving, 60_000, "every execution to run a task");
    await sleep(1_000);
    const killedAt = performance.now();
    await other.crash();
    const after = (id: string) => observer.events(id).find((s) => s.seenAt > killedAt);
    await observer.until(() => ids.every((id) => after(id) !== undefined), 120_000, "every execution to move after the kill");
    const perExecutionMs = ids.map((id) => round(after(id)!.seenAt - killedAt));
    return { slowestMs: Math.max(...perExecutionMs), perExecutionMs };
  } finally {
    await other.crash();
    await observer.stop();
    await roles.stop();
  }
}

export async function runRecovery(backend: BenchBackend, opts: BenchOptions): Promise<string> {
  const reps = opts.quick ? 1 : 3;
  const body: Record<string, unknown> = { repetitions: reps, unit: "ms" };
  if (backend === "embedded") {
    const samples: number[] = [];
    const restarts: number[] = [];
    let facts: Record<string, unknown> = {};
    for (let i = 0; i < reps; i++) {
      const place = await preparePlace("embedded", opts.durability ? [[["durability"], opts.durability]] : []);
      facts = { ...place.facts, liveness: place.config.liveness };
      try {
        const flowFile = join(place.config.dataDir, "..", "sleeper.yml");
        mkdirSync(place.config.dataDir, { recursive: true });
        writeFileSync(flowFile, SLEEPER);
        const r = await embeddedOnce(place, flowFile);
        samples.push(r.recoveryMs);
        restarts.push(r.restartMs);
        process.stderr.write(`recovery embedded rep ${i + 1}/${reps}: ${r.recoveryMs} ms (restart ${r.restartMs} ms)\n`);
      } finally {
        await place.dispose();
      }
    }
    Object.assign(body, { setup: facts, deadWorker: { what: "kill -9 of the process (executor, worker, liveness), restarted at once → AttemptStarted of attempt 2", samples, ...summarize(samples) }, restartMs: { samples: restarts, ...summarize(restarts) } });
  } else {
    const worker: number[] = [];
    const executor: number[] = [];
    const perExecution: number[][] = [];
    let facts: Record<string, unknown> = {};
    for (let i = 0; i < reps; i++) {
      const place = await preparePlace(backend);
      facts = { ...place.facts, liveness: place.config.liveness, ...(backend === "kafka" ? { sessionTimeoutMs: place.config.kafka.sessionTimeoutMs } : {}) };
      try {
        worker.push(await distributedWorkerOnce(place));
        process.stderr.write(`recovery ${backend} rep ${i + 1}/${reps}: dead worker ${worker.at(-1)} ms\n`);
      } finally {
        await place.dispose();
      }
      const place2 = await preparePlace(backend);
      try {
        const r = await distributedExecutorOnce(place2);
        executor.push(r.slowestMs);
        perExecution.push(r.perExecutionMs);
        process.stderr.write(`recovery ${backend} rep ${i + 1}/${reps}: dead executor ${r.slowestMs} ms\n`);
      } finally {
        await place2.dispose();
      }
    }
    Object.assign(body, {
      setup: facts,
      deadWorker: { what: "kill -9 of a worker process mid-task, a second worker alive → AttemptStarted of attempt 2", samples: worker, ...summarize(worker) },
      deadExecutor: { what: "kill -9 of one of two executor processes, 8 executions in flight → each execution's next event (slowest)", samples: executor, perExecution, ...summarize(executor) },
    });
  }
  const file = writeResult("recovery", backend, body);
  console.log(JSON.stringify({ file, ...body }, null, 2));
  return file;
}
