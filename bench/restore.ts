/**
 * `restore`: how fast an executor's state is rebuilt from the log. First a log is filled by the
 * real runtime (executor, worker, liveness in this process): executions of a 5-task flow, all
 * submitted at once, run to their end. Then, with the roles stopped and the log reopened:
 * - replay: every partition of `executions` read from offset 0, each event decoded and folded
 *   with `applyEvent` into the execution states, as `Executor.restore` does past its snapshots
 *   (the cost of rebuilding the state store from the log alone): events per second;
 * - executor start: an executor role started on that data (snapshots + replay since the
 *   checkpoint + joining its group), ms until `startRoles` resolved.
 */
import { newExecutionId } from "../api/execution-id.js";
import { silentLogger } from "../common/logger.js";
import { applyEvent } from "../processors/executor/apply.js";
import type { ExecutionState } from "../processors/executor/model.js";
import { decodeEvent, encodeCommand } from "../processors/executor/shell/records.js";
import { startRoles } from "../processors/runtime/roles.js";
import { avroRecordCodec } from "../processors/worker/record-codec.js";
import { parseFlowOrThrow } from "../schemas/flow-parser.js";
import { topicCatalogue } from "../topology/topics.js";
import { preparePlace, type BenchBackend, type BenchOptions } from "./lib/backend.js";
import { ExecutionObserver } from "./lib/observer.js";
import { round, summarize, writeResult } from "./lib/report.js";

const FLOW = `id: five
namespace: bench
tasks:
${[1, 2, 3, 4, 5].map((i) => `  - id: t${i}\n    type: io.kestra.plugin.core.debug.Return\n    format: "step ${i}"\n`).join("")}`;

export async function runRestore(backend: BenchBackend, opts: BenchOptions): Promise<string> {
  const executions = opts.quick ? 300 : 3_000;
  const reps = opts.quick ? 3 : 7;
  const place = await preparePlace(backend, opts.durability ? [[["durability"], opts.durability]] : []);
  const catalogue = topicCatalogue({ executionPartitions: place.config.partitions });
  const topic = catalogue.name("executions");
  try {
    // 1. Fill the log through the runtime.
    const roles = await startRoles(place.config, ["executor", "worker", "liveness"], { logger: silentLogger(), onFatal: (err) => { throw err; }, workerStopTimeoutMs: 1_000 });
    const observer = new ExecutionObserver(roles.log, avroRecordCodec, topic);
    await observer.start();
    const flow = { ...parseFlowOrThrow(FLOW), revision: 1, tenantId: "main" };
    const ids = Array.from({ length: executions }, () => newExecutionId());
    const t0 = performance.now();
    for (let i = 0; i < ids.length; i += 100) {
      await roles.log.append(ids.slice(i, i + 100).map((executionId) => ({
        topic: catalogue.name("execution-commands"), key: executionId,
        value: encodeCommand(avroRecordCodec, { type: "CreateExecution", executionId, flow, inputs: {}, labels: [] }),
      })));
    }
    const states = await Promise.all(ids.map((id) => observer.whenTerminal(id, 600_000)));
    const fillMs = performance.now() - t0;
    if (states.some((s) => s !== "SUCCESS")) throw new Error(`restore: some executions did not succeed: ${[...new Set(states)].join(", ")}`);
    process.stderr.write(`restore ${backend}: ${executions} executions filled the log in ${round(fillMs, 0)} ms\n`);
    await observer.stop();
    await roles.stop();

    // 2. Replay `executions` from offset 0, as a restore without snapshots does.
    const replayRates: number[] = [];
    let events = 0;
    let liveAtEnd = 0;
    const bare = await startRoles(place.config, [], { logger: silentLogger(), onFatal: (err) => { throw err; } });
    try {
      for (let r = 0; r < reps + 1; r++) {
        const t = performance.now();
        let n = 0;
        const mem = new Map<string, ExecutionState>();
        for (let p = 0; p < place.config.partitions; p++) {
          for await (const rec of bare.log.readPartition(topic, p, 0n)) {
            const e = decodeEvent(avroRecordCodec, rec.value);
            const st = mem.get(e.executionId);
            if (st && e.seq <= st.seq) continue;
            mem.set(e.executionId, applyEvent(st, e));
            n++;
          }
        }
        const ms = performance.now() - t;
        if (r === 0) continue; // warm-up (JIT, page cache)
        events = n;
        liveAtEnd = mem.size;
        replayRates.push(n / (ms / 1000));
        process.stderr.write(`restore ${backend} replay ${r}/${reps}: ${n} events in ${round(ms, 1)} ms = ${Math.round(n / (ms / 1000))} events/s\n`);
      }
    } finally {
      await bare.stop();
    }
    if (liveAtEnd !== executions) throw new Error(`restore: replay rebuilt ${liveAtEnd} executions, expected ${executions}`);

    // 3. An executor role started on that data.
    const startMs: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t = performance.now();
      const ex = await startRoles(place.config, ["executor"], { logger: silentLogger(), onFatal: (err) => { throw err; } });
      startMs.push(performance.now() - t);
      await ex.stop();
    }
    const rate = summarize(replayRates);
    const result = {
      setup: place.facts, executions, tasksPerExecution: 5, events, fillMs: round(fillMs),
      replayEventsPerSecond: { samples: replayRates.map((x) => Math.round(x)), ...rate, min: Math.round(rate.min), median: Math.round(rate.median), max: Math.round(rate.max) },
      executorStartMs: { samples: startMs.map((x) => round(x)), ...summarize(startMs) },
    };
    const file = writeResult("restore", opts.durability === "os" ? `${backend}-os` : backend, result);
    console.log(JSON.stringify({ file, events, replayEventsPerSecond: result.replayEventsPerSecond.median, executorStartMs: result.executorStartMs.median }, null, 2));
    return file;
  } finally {
    await place.dispose();
  }
}
