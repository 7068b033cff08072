/**
 * `foreach`: a ForEach over 100, 1,000 and 10,000 Return tasks run by the executor, worker and
 * liveness roles in this process (startRoles) on the embedded log or Postgres; the time from the
 * command appended to the terminal event seen, per size, and time(10k)/time(1k), which stays near
 * 10 when each step costs O(changed task runs). Two series: `concurrencyLimit: 0` (every
 * iteration at once: the executor's cost per item) and the default `concurrencyLimit: 1` (one
 * after the other: per-item latency); 10,000 only in the full run. Also reports the
 * same flows through the executor harness alone (pure reducer, scripted worker, no I/O).
 */
import { newExecutionId } from "../api/execution-id.js";
import { silentLogger } from "../common/logger.js";
import { encodeCommand } from "../processors/executor/shell/records.js";
import { startRoles } from "../processors/runtime/roles.js";
import { avroRecordCodec } from "../processors/worker/record-codec.js";
import { parseFlowOrThrow } from "../schemas/flow-parser.js";
import { ExecutorHarness } from "../test/harness/executor-harness.js";
import { topicCatalogue } from "../topology/topics.js";
import { preparePlace, type BenchBackend, type BenchOptions } from "./lib/backend.js";
import { ExecutionObserver } from "./lib/observer.js";
import { round, writeResult } from "./lib/report.js";

export function foreachFlowYaml(n: number, limit: number): string {
  return `
id: foreach_${n}_${limit}
namespace: bench
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ range(1, ${n}) }}"
    concurrencyLimit: ${limit}
    tasks:
      - id: ret
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
`;
}

/** The same flow through the pure reducer and a scripted worker (no log, no store): ms. */
function reducerOnce(n: number, limit: number): number {
  const flow = parseFlowOrThrow(foreachFlowYaml(n, limit));
  const h = new ExecutorHarness();
  const t0 = performance.now();
  const ex = h.runFlow(flow);
  const ms = performance.now() - t0;
  if (ex.state.current !== "SUCCESS" || ex.taskRunList.length !== n + 1) {
    throw new Error(`foreach ${n}: ended ${ex.state.current} with ${ex.taskRunList.length} task runs`);
  }
  return ms;
}

interface Series {
  concurrencyLimit: number;
  /** Milliseconds per size. */
  ms: Record<string, number>;
  ratio10kTo1k: number | null;
}

const ratioOf = (ms: Record<string, number>) => (ms["10000"] !== undefined && ms["1000"] ? round(ms["10000"] / ms["1000"], 2) : null);

export async function runForeach(backend: BenchBackend, opts: BenchOptions): Promise<string> {
  const place = await preparePlace(backend, opts.durability ? [[["durability"], opts.durability]] : []);
  const roles = await startRoles(place.config, ["executor", "worker", "liveness"], {
    logger: silentLogger(), onFatal: (err) => { throw err; }, workerStopTimeoutMs: 1_000,
  });
  const catalogue = topicCatalogue({ executionPartitions: place.config.partitions });
  const observer = new ExecutionObserver(roles.log, avroRecordCodec, catalogue.name("executions"));
  await observer.start();
  const once = async (n: number, limit: number): Promise<number> => {
    const flow = { ...parseFlowOrThrow(foreachFlowYaml(n, limit)), revision: 1, tenantId: "main" };
    const executionId = newExecutionId();
    const t0 = performance.now();
    await roles.log.append([{
      topic: catalogue.name("execution-commands"), key: executionId,
      value: encodeCommand(avroRecordCodec, { type: "CreateExecution", executionId, flow, inputs: {}, labels: [] }),
    }]);
    const state = await observer.whenTerminal(executionId, 900_000);
    const ms = performance.now() - t0;
    observer.forget(executionId);
    if (state !== "SUCCESS") throw new Error(`foreach ${n} (concurrencyLimit ${limit}) ended ${state}`);
    process.stderr.write(`foreach ${backend} ${n} items, concurrencyLimit ${limit}: ${round(ms, 1)} ms\n`);
    return round(ms, 1);
  };
  const series: Series[] = [];
  try {
    await once(100, 0); // warm-up
    // 10,000 items only in the full run: through the runtime it takes minutes on a loaded 2-core machine.
    const sizes = opts.quick ? [100, 1_000] : [100, 1_000, 10_000];
    for (const limit of [0, 1]) {
      const ms: Record<string, number> = {};
      for (const n of sizes) ms[n] = await once(n, limit);
      series.push({ concurrencyLimit: limit, ms, ratio10kTo1k: ratioOf(ms) });
    }
  } finally {
    await observer.stop();
    await roles.stop();
    await place.dispose();
  }
  const reducerOnly: Series[] = [];
  for (const limit of [0, 1]) {
    reducerOnce(1_000, limit); // warm-up (JIT, template cache)
    const ms: Record<string, number> = {};
    for (const n of [100, 1_000, 10_000]) ms[n] = round(reducerOnce(n, limit), 1);
    reducerOnly.push({ concurrencyLimit: limit, ms, ratio10kTo1k: ratioOf(ms) });
  }
  const file = writeResult("foreach", opts.durability === "os" ? `${backend}-os` : backend, {
    setup: place.facts, unit: "ms", what: "command appended → terminal event seen", series, reducerOnly,
  });
  console.log(JSON.stringify({ file, series, reducerOnly }, null, 2));
  return file;
}
