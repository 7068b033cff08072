/**
 * `throughput`: open loop over the API. A standalone set of roles (executor, worker, liveness,
 * scheduler, indexer, webserver) runs in this process on the chosen backend; executions of a
 * 2-task flow are started with `POST /api/v1/executions/bench/two` at fixed rates (250 … 16,000
 * per minute, 60 s each; `--quick`: 1,000, 4,000, 16,000 for 10 s each), and each latency runs
 * from the request's scheduled time to its terminal state seen on the `executions` topic by an
 * observer. Reports p50/p99 per rate and the highest rate whose p50 stays under 1 s.
 */
import { request } from "undici";
import { silentLogger } from "../common/logger.js";
import { startRoles } from "../processors/runtime/roles.js";
import { avroRecordCodec } from "../processors/worker/record-codec.js";
import { topicCatalogue } from "../topology/topics.js";
import { preparePlace, type BenchBackend, type BenchOptions } from "./lib/backend.js";
import { ExecutionObserver } from "./lib/observer.js";
import { rateSweep } from "./lib/open-loop.js";
import { writeResult } from "./lib/report.js";

export const TWO_STEP_FLOW = `id: two
namespace: bench
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "one"
  - id: second
    type: io.kestra.plugin.core.debug.Return
    format: "two"
`;

/** POSTs `body` (none when undefined) and returns the parsed JSON answer; throws with the status and body otherwise. */
export async function postJson(url: string, body?: string, contentType = "application/json"): Promise<unknown> {
  const res = await request(url, body === undefined ? { method: "POST" } : { method: "POST", headers: { "content-type": contentType }, body });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`POST ${url}: ${res.statusCode} ${text.slice(0, 300)}`);
  return text === "" ? undefined : JSON.parse(text);
}

function idOf(answer: unknown): string {
  if (typeof answer === "object" && answer !== null && "id" in answer && typeof answer.id === "string") return answer.id;
  throw new Error(`the API answered without an execution id: ${JSON.stringify(answer).slice(0, 200)}`);
}

export async function runThroughput(backend: BenchBackend, opts: BenchOptions): Promise<string> {
  const place = await preparePlace(backend, opts.durability ? [[["durability"], opts.durability]] : []);
  const roles = await startRoles(place.config, ["executor", "worker", "liveness", "scheduler", "indexer", "webserver"], {
    logger: silentLogger(), onFatal: (err) => { throw err; }, workerStopTimeoutMs: 1_000,
  });
  const catalogue = topicCatalogue({ executionPartitions: place.config.partitions });
  const observer = new ExecutionObserver(roles.log, avroRecordCodec, catalogue.name("executions"));
  await observer.start();
  const base = roles.url;
  if (!base) throw new Error("throughput: the webserver did not start");
  try {
    await postJson(`${base}/api/v1/flows`, TWO_STEP_FLOW, "application/x-yaml");
    const startOne = async () => {
      const id = idOf(await postJson(`${base}/api/v1/executions/bench/two`));
      const state = await observer.whenTerminal(id, 120_000);
      observer.forget(id);
      if (state !== "SUCCESS") throw new Error(`execution ${id} ended ${state}`);
    };
    // Warm-up: JIT, connections, first snapshots.
    for (let i = 0; i < 20; i++) await startOne();
    process.stderr.write(`throughput ${backend}:\n`);
    const sweep = await rateSweep(startOne, opts.quick, (line) => process.stderr.write(`${line}\n`));
    const result = { flow: "2 × Return", latency: "scheduled request time → terminal ExecutionStateChanged seen on executions", setup: place.facts, unit: "ms", ...sweep };
    const file = writeResult("throughput", opts.durability === "os" ? `${backend}-os` : backend, result);
    console.log(JSON.stringify({ file, maxRateP50Under1s: sweep.maxRateP50Under1s, rates: sweep.rates.map((r) => ({ rate: r.ratePerMinute, p50: r.p50Ms, p99: r.p99Ms })) }, null, 2));
    return file;
  } finally {
    await observer.stop();
    await roles.stop();
    await place.dispose();
  }
}
