/**
 * API benchmark: requests/s and latency percentiles of create-execution and execution search
 * against `lanner server standalone` on the embedded backend, run as its own process (every role
 * in it: the executions created keep running while the load goes on, as in production).
 *
 * A closed loop of `--connections` clients (undici, keep-alive), each sending its next request as
 * soon as the previous one answered, for `--seconds` per workload after a short warm-up; any
 * non-2xx answer counts as an error. Workloads:
 *   - create:  POST /api/v1/executions/bench/two (a 2-task flow), no wait
 *   - search:  GET  /api/v1/executions/search?namespace=bench&size=25 over what create left
 * `--profile` also runs the server with `--cpu-prof` during create and prints the top frames.
 *
 *   npx tsx bench/api.ts [--connections 32] [--seconds 20] [--durability fsync|os] [--profile] [--quick]
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { execFileSync, spawn } from "node:child_process";
import { Pool } from "undici";
import { preparePlace } from "./lib/backend.js";
import { BENCH_DIR, REPO_DIR, round, summarize, writeResult } from "./lib/report.js";
import { TWO_STEP_FLOW } from "./throughput.js";

const { values: args } = parseArgs({
  options: { connections: { type: "string", default: "32" }, seconds: { type: "string", default: "20" }, profile: { type: "boolean", default: false }, durability: { type: "string", default: "fsync" }, quick: { type: "boolean", default: false } },
});
const CONNECTIONS = Number(args.connections);
const SECONDS = args.quick ? 5 : Number(args.seconds);
const say = (s: string) => process.stderr.write(`${s}\n`);

interface LoadResult {
  requests: number;
  errors: number;
  requestsPerSec: number;
  latencyMs: ReturnType<typeof summarize> & { p90: number };
  /** The first error answers (status and body start), to tell a refusal from a failure. */
  errorSamples: string[];
}

/** Runs `connections` closed loops of `send` for `seconds`; latency per answered request. */
async function closedLoop(pool: Pool, seconds: number, connections: number, send: (pool: Pool) => Promise<number>): Promise<LoadResult> {
  const samples: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < until) {
      const s = performance.now();
      try {
        const status = await send(pool);
        if (status >= 300) {
          errors++;
          if (errorSamples.length < 3) errorSamples.push(`status ${status}`);
          continue;
        }
      } catch (err) {
        errors++;
        if (errorSamples.length < 3) errorSamples.push(err instanceof Error ? err.message : String(err));
        continue;
      }
      samples.push(performance.now() - s);
    }
  }));
  const elapsed = (performance.now() - t0) / 1000;
  const sorted = [...samples].sort((a, b) => a - b);
  const p90 = sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(0.9 * sorted.length) - 1)] : Number.NaN;
  return { requests: samples.length, errors, requestsPerSec: round(samples.length / elapsed, 1), latencyMs: { ...summarize(samples), p90: round(p90) }, errorSamples };
}

async function createOne(pool: Pool): Promise<number> {
  const res = await pool.request({ path: "/api/v1/executions/bench/two", method: "POST" });
  await res.body.dump();
  return res.statusCode;
}

async function searchOne(pool: Pool): Promise<number> {
  const res = await pool.request({ path: "/api/v1/executions/search?namespace=bench&size=25", method: "GET" });
  await res.body.dump();
  return res.statusCode;
}

/**
 * Starts `lanner server standalone` with `nodeFlags` before the script (`--cpu-prof` is refused in
 * NODE_OPTIONS); resolves once it printed its ready line, with its URL and a stop that waits for exit.
 */
async function startServer(dataDir: string, env: Record<string, string>, nodeFlags: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [...nodeFlags, join(REPO_DIR, "bin", "lanner.mjs"), "server", "standalone", "--port", "0", "--data-dir", dataDir], {
    env: { ...process.env, LANNER_LOG_LEVEL: "warn", ...env }, stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<void>((res) => child.on("exit", () => res()));
  let out = "";
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`the server was not ready after 120 s:\n${out}`)), 120_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /lanner \S+ ready on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1]);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    void exited.then(() => rej(new Error(`the server exited before it was ready:\n${out}`)));
  });
  return {
    url,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

async function main(): Promise<void> {
  if (args.durability !== "fsync" && args.durability !== "os") throw new Error(`--durability must be fsync or os, got ${args.durability}`);
  const place = await preparePlace("embedded", [[["durability"], args.durability]]);
  const profDir = mkdtempSync(join(tmpdir(), "lanner-api-prof-"));
  const server = await startServer(place.config.dataDir, place.env, args.profile ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : []);
  const base = server.url;
  const pool = new Pool(base, { connections: CONNECTIONS, pipelining: 1 });
  try {
    const deployed = await pool.request({ path: "/api/v1/flows", method: "POST", headers: { "content-type": "application/x-yaml" }, body: TWO_STEP_FLOW });
    await deployed.body.dump();
    if (deployed.statusCode >= 300) throw new Error(`deploying the flow answered ${deployed.statusCode}`);
    // Warm-up: JIT, connections, the first units of work.
    await closedLoop(pool, 2, CONNECTIONS, createOne);
    const create = await closedLoop(pool, SECONDS, CONNECTIONS, createOne);
    say(`create-execution: ${create.requestsPerSec} req/s, p50 ${create.latencyMs.median} ms, p99 ${create.latencyMs.p99} ms, ${create.errors} errors ${create.errorSamples.join("; ")}`);
    const search = await closedLoop(pool, SECONDS, CONNECTIONS, searchOne);
    say(`search: ${search.requestsPerSec} req/s, p50 ${search.latencyMs.median} ms, p99 ${search.latencyMs.p99} ms, ${search.errors} errors ${search.errorSamples.join("; ")}`);
    const metrics = await pool.request({ path: "/metrics", method: "GET" });
    const lagLine = (await metrics.body.text()).split("\n").find((l) => l.startsWith("lanner_indexer_lag_records "));
    await pool.close();
    await server.stop();
    let profile: string | undefined;
    if (args.profile) {
      // The largest profile is the server's (tsx's loader may leave a small one of its own).
      const file = readdirSync(profDir).filter((f) => f.endsWith(".cpuprofile")).sort((x, y) => statSync(join(profDir, y)).size - statSync(join(profDir, x)).size)[0];
      if (file) profile = execFileSync(process.execPath, ["--import", "tsx", join(BENCH_DIR, "profile-summary.ts"), join(profDir, file), "20"], { cwd: REPO_DIR, encoding: "utf8" });
      if (profile) say(profile);
    }
    const out = writeResult("api", args.durability === "os" ? "embedded-os" : "embedded", {
      connections: CONNECTIONS, seconds: SECONDS, setup: place.facts, target: "create-execution ≥ 1,000 requests/s",
      create, search, indexerLagAfter: lagLine ?? null, ...(profile ? { profile } : {}),
    });
    say(`wrote ${out}`);
  } finally {
    await pool.close().catch(() => undefined);
    await server.stop().catch(() => undefined);
    rmSync(profDir, { recursive: true, force: true });
    await place.dispose();
  }
}

await main();
