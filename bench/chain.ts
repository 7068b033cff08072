/**
 * `chain`: one execution of a flow with 40 sequential Return tasks, run by the executor, worker
 * and liveness roles in this process (startRoles) on the embedded log or Postgres. Reports per
 * repetition the total (command appended → terminal event seen), the per-task overhead
 * (total / 40), the median gap between one task's end and the next one's start from the
 * execution's state histories (ms resolution, as stored), and the same hops timed sub-millisecond
 * from when each event reached an observer: executor (AttemptEnded → next TaskRunCreated),
 * dispatch (TaskRunCreated → AttemptStarted) and worker (AttemptStarted → AttemptEnded).
 */
import { silentLogger } from "../common/logger.js";
import { newExecutionId } from "../api/execution-id.js";
import { replayHistory } from "../processors/executor/apply.js";
import type { ExecutionEvent } from "../processors/executor/events.js";
import { encodeCommand } from "../processors/executor/shell/records.js";
import { startRoles } from "../processors/runtime/roles.js";
import { avroRecordCodec } from "../processors/worker/record-codec.js";
import { parseFlowOrThrow } from "../schemas/flow-parser.js";
import { topicCatalogue } from "../topology/topics.js";
import { preparePlace, type BenchBackend, type BenchOptions } from "./lib/backend.js";
import { ExecutionObserver, type SeenEvent } from "./lib/observer.js";
import { percentile, round, summarize, writeResult } from "./lib/report.js";

export const CHAIN_TASKS = 40;

export function chainFlowYaml(n = CHAIN_TASKS): string {
  const tasks = Array.from({ length: n }, (_, i) => `  - id: t${i + 1}\n    type: io.kestra.plugin.core.debug.Return\n    format: "step ${i + 1}"\n`);
  return `id: chain\nnamespace: bench\ntasks:\n${tasks.join("")}`;
}

const TERMINAL = new Set(["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED"]);

/** Hop timings of one execution, from observer arrival times (ms, sub-millisecond). */
interface Hops {
  executor: number[];
  dispatch: number[];
  worker: number[];
}

function hopsOf(seen: SeenEvent[]): Hops {
  const byRun = new Map<string, { created?: number; started?: number; ended?: number }>();
  const order: string[] = [];
  for (const { event, seenAt } of seen) {
    if (!("taskRunId" in event)) continue;
    let r = byRun.get(event.taskRunId);
    if (!r) {
      r = {};
      byRun.set(event.taskRunId, r);
      order.push(event.taskRunId);
    }
    if (event.type === "TaskRunCreated") r.created = seenAt;
    else if (event.type === "AttemptStarted") r.started ??= seenAt;
    else if (event.type === "AttemptEnded") r.ended ??= seenAt;
  }
  const runs = order.map((id) => byRun.get(id)!);
  const hops: Hops = { executor: [], dispatch: [], worker: [] };
  runs.forEach((r, i) => {
    if (r.created !== undefined && r.started !== undefined) hops.dispatch.push(r.started - r.created);
    if (r.started !== undefined && r.ended !== undefined) hops.worker.push(r.ended - r.started);
    const next = runs[i + 1];
    if (next?.created !== undefined && r.ended !== undefined) hops.executor.push(next.created - r.ended);
  });
  return hops;
}

/** Gaps (ms) between a task run's terminal history entry and the next one's RUNNING entry. */
function historyGaps(events: ExecutionEvent[]): number[] {
  const state = replayHistory(events);
  const runs = state.order.map((id) => state.taskRuns[id]);
  const gaps: number[] = [];
  for (let i = 0; i + 1 < runs.length; i++) {
    const end = runs[i].state.histories.at(-1);
    const start = runs[i + 1].state.histories.find((h) => h.state === "RUNNING");
    if (end && start) gaps.push(Date.parse(start.date) - Date.parse(end.date));
  }
  return gaps;
}

export async function runChain(backend: BenchBackend, opts: BenchOptions): Promise<string> {
  const warmup = opts.quick ? 2 : 5;
  const reps = opts.quick ? 5 : 15;
  const place = await preparePlace(backend, opts.durability ? [[["durability"], opts.durability]] : []);
  const roles = await startRoles(place.config, ["executor", "worker", "liveness"], {
    logger: silentLogger(), onFatal: (err) => { throw err; }, workerStopTimeoutMs: 1_000,
  });
  const codec = avroRecordCodec;
  const catalogue = topicCatalogue({ executionPartitions: place.config.partitions });
  const observer = new ExecutionObserver(roles.log, codec, catalogue.name("executions"));
  await observer.start();
  const flow = { ...parseFlowOrThrow(chainFlowYaml()), revision: 1, tenantId: "main" };

  const totals: number[] = [];
  const gapsMedian: number[] = [];
  const all: Hops = { executor: [], dispatch: [], worker: [] };
  const allGaps: number[] = [];
  // CPU time of this process (every role runs here) per measured task: less noisy than wall time on a shared machine.
  let cpuMicros = 0;
  try {
    for (let i = 0; i < warmup + reps; i++) {
      const executionId = newExecutionId();
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      await roles.log.append([{
        topic: catalogue.name("execution-commands"), key: executionId,
        value: encodeCommand(codec, { type: "CreateExecution", executionId, flow, inputs: {}, labels: [] }),
      }]);
      const ended = () => observer.events(executionId).some((s) => s.event.type === "ExecutionStateChanged" && TERMINAL.has(s.event.state));
      await observer.until(ended, 120_000, `execution ${executionId} to end`);
      const cpu = process.cpuUsage(cpu0);
      const seen = observer.events(executionId);
      const end = seen.find((s) => s.event.type === "ExecutionStateChanged" && TERMINAL.has(s.event.state))!;
      if (end.event.type === "ExecutionStateChanged" && end.event.state !== "SUCCESS") throw new Error(`chain ended ${end.event.state}`);
      observer.forget(executionId);
      if (i < warmup) continue;
      totals.push(end.seenAt - t0);
      cpuMicros += cpu.user + cpu.system;
      const gaps = historyGaps(seen.map((s) => s.event));
      allGaps.push(...gaps);
      gapsMedian.push(percentile(gaps, 0.5));
      const h = hopsOf(seen);
      all.executor.push(...h.executor);
      all.dispatch.push(...h.dispatch);
      all.worker.push(...h.worker);
      process.stderr.write(`chain ${backend} rep ${i - warmup + 1}/${reps}: ${round(end.seenAt - t0, 1)} ms\n`);
    }
  } finally {
    await observer.stop();
    await roles.stop();
    await place.dispose();
  }
  const perTask = totals.map((t) => t / CHAIN_TASKS);
  const result = {
    tasks: CHAIN_TASKS, warmup, repetitions: reps, setup: place.facts,
    unit: "ms",
    totalMs: { samples: totals.map((t) => round(t)), ...summarize(totals) },
    perTaskOverheadMs: summarize(perTask),
    cpuMsPerTask: round(cpuMicros / 1000 / (reps * CHAIN_TASKS)),
    historyGapMs: { medianPerExecution: gapsMedian, ...summarize(allGaps) },
    hopsMs: { executor: summarize(all.executor), dispatch: summarize(all.dispatch), worker: summarize(all.worker) },
  };
  const file = writeResult("chain", opts.durability === "os" ? `${backend}-os` : backend, result);
  console.log(JSON.stringify({ file, totalMs: result.totalMs.median, perTaskMs: result.perTaskOverheadMs.median, cpuMsPerTask: result.cpuMsPerTask, historyGapMs: result.historyGapMs.median, hops: {
    executor: result.hopsMs.executor.median, dispatch: result.hopsMs.dispatch.median, worker: result.hopsMs.worker.median,
  } }, null, 2));
  return file;
}
