/**
 * `footprint`: resident memory of a `lanner server standalone` process (its own process, as a user
 * runs it): idle after start, then with 10,000 executions in flight. An execution in flight is
 * one paused on a Pause task with no delay (it waits for a resume), so it stays RUNNING in the
 * executor's state, the repository and the API's caches without using a worker thread. RSS is
 * read from /proc/<pid>/status (VmRSS; VmHWM for the peak).
 */
import { readFileSync } from "node:fs";
import { request } from "undici";
import { startLanner } from "../test/harness/lanner-process.js";
import { preparePlace, type BenchBackend, type BenchOptions } from "./lib/backend.js";
import { round, writeResult } from "./lib/report.js";
import { postJson } from "./throughput.js";

const PAUSED_FLOW = `id: paused
namespace: bench
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "resumed"
`;

/** VmRSS and VmHWM of `pid`, MiB. */
function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: round(kb("VmRSS") / 1024, 1), peakMiB: round(kb("VmHWM") / 1024, 1) };
}

/** Number of executions of bench.paused the API reports in `state`. */
async function countIn(base: string, state: string): Promise<number> {
  const res = await request(`${base}/api/v1/executions/search?namespace=bench&flowId=paused&state=${state}&size=1`);
  const doc: unknown = await res.body.json();
  if (typeof doc === "object" && doc !== null && "total" in doc && typeof doc.total === "number") return doc.total;
  throw new Error(`search answered ${res.statusCode} without a total: ${JSON.stringify(doc).slice(0, 200)}`);
}

export async function runFootprint(backend: BenchBackend, opts: BenchOptions): Promise<string> {
  const inFlight = opts.quick ? 1_000 : 10_000;
  const place = await preparePlace(backend, opts.durability ? [[["durability"], opts.durability]] : []);
  const proc = await startLanner(["server", "standalone"], { env: { ...place.env, LANNER_PORT: "0", LANNER_LOG_LEVEL: "warn" }, readyTimeoutMs: 120_000 });
  try {
    const base = proc.url;
    const pid = proc.child.pid;
    if (!base || pid === undefined) throw new Error("footprint: the server printed no URL");
    // Idle: sampled once a second for a while, since start-up garbage (module loading through
    // tsx) leaves the heap only when V8 gets round to it; the last sample is the idle figure.
    const idleSamples: number[] = [];
    for (let i = 0; i < (opts.quick ? 10 : 30); i++) {
      await new Promise((r) => setTimeout(r, 1_000));
      idleSamples.push(memoryOf(pid).rssMiB);
    }
    const idle = { ...memoryOf(pid), minMiB: Math.min(...idleSamples), samples: idleSamples };
    process.stderr.write(`footprint ${backend}: idle RSS ${idle.rssMiB} MiB (min ${idle.minMiB} MiB over ${idleSamples.length} s)\n`);
    await postJson(`${base}/api/v1/flows`, PAUSED_FLOW, "application/x-yaml");
    const t0 = performance.now();
    // 16 clients at a time: fast enough, without measuring a burst of HTTP buffers instead of executions.
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < inFlight) {
        next++;
        await postJson(`${base}/api/v1/executions/bench/paused`);
      }
    }));
    // Bounded wait until every execution is seen PAUSED by the API.
    let paused = 0;
    const deadline = Date.now() + 600_000;
    while ((paused = await countIn(base, "PAUSED")) < inFlight) {
      if (Date.now() > deadline) throw new Error(`footprint: only ${paused}/${inFlight} executions paused after 10 minutes`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const createMs = performance.now() - t0;
    const loaded = memoryOf(pid);
    process.stderr.write(`footprint ${backend}: ${inFlight} executions paused in ${round(createMs / 1000, 1)} s; RSS ${loaded.rssMiB} MiB (peak ${loaded.peakMiB} MiB)\n`);
    const result = { setup: place.facts, process: "lanner server standalone", inFlight, unit: "MiB", idle, withInFlight: loaded, createSeconds: round(createMs / 1000, 1) };
    const file = writeResult("footprint", backend, result);
    console.log(JSON.stringify({ file, idleMiB: idle.rssMiB, inFlight, inFlightMiB: loaded.rssMiB, peakMiB: loaded.peakMiB }, null, 2));
    return file;
  } finally {
    await proc.stop();
    await place.dispose();
  }
}
