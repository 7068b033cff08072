/**
 * `peers`: `chain` and `throughput` on Lanner (embedded, Postgres, and Kafka when its broker is
 * fetched) and on its peers, Restate and DBOS
 * Transact, on the same machine in the same run, with the ratio Lanner / peer. Peers run one
 * at a time after Lanner, each alone on the machine. Writes `bench/results/peers-all.json` (and,
 * through the Lanner workloads, their own result files).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { CHAIN_TASKS, runChain } from "./chain.js";
import type { BenchBackend, BenchOptions } from "./lib/backend.js";
import { rateSweep, type RateResult } from "./lib/open-loop.js";
import { ensurePeersInstalled, startDbos, startRestate, type Peer } from "./lib/peers.js";
import { round, summarize, writeResult } from "./lib/report.js";
import { runThroughput } from "./throughput.js";

/** The figures compared, for one system. */
export interface SystemFigures {
  system: string;
  version?: string;
  settings?: Record<string, unknown>;
  /** Median per-task (per-step) overhead of the 40-step chain, ms. */
  chainPerTaskMs: number;
  chainTotalMs: { samples: number[]; median: number; p99: number };
  throughput: { rates: RateResult[]; maxRateP50Under1s: number | null; p50At1000Ms: number | null };
}

const log = (line: string) => process.stderr.write(`${line}\n`);

function readJson(file: string): Record<string, unknown> {
  const doc: unknown = JSON.parse(readFileSync(file, "utf8"));
  if (typeof doc !== "object" || doc === null) throw new Error(`${file}: not a JSON object`);
  return doc as Record<string, unknown>;
}

function num(v: unknown, what: string): number {
  if (typeof v !== "number") throw new Error(`result field ${what} is not a number`);
  return v;
}

function p50At1000(rates: RateResult[]): number | null {
  return rates.find((r) => r.ratePerMinute === 1_000)?.p50Ms ?? null;
}

async function lannerFigures(backend: BenchBackend, opts: BenchOptions): Promise<SystemFigures> {
  const chain = readJson(await runChain(backend, opts));
  const tp = readJson(await runThroughput(backend, opts));
  const total = chain.totalMs as Record<string, unknown>;
  const perTask = chain.perTaskOverheadMs as Record<string, unknown>;
  const rates = tp.rates as RateResult[];
  return {
    system: `lanner-${backend}`,
    settings: chain.setup as Record<string, unknown>,
    chainPerTaskMs: num(perTask.median, "perTaskOverheadMs.median"),
    chainTotalMs: { samples: total.samples as number[], median: num(total.median, "totalMs.median"), p99: num(total.p99, "totalMs.p99") },
    throughput: { rates, maxRateP50Under1s: (tp.maxRateP50Under1s as number | null) ?? null, p50At1000Ms: p50At1000(rates) },
  };
}

async function peerFigures(start: () => Promise<Peer>, opts: BenchOptions): Promise<SystemFigures> {
  const peer = await start();
  try {
    const warmup = opts.quick ? 2 : 5;
    const reps = opts.quick ? 5 : 15;
    const totals: number[] = [];
    for (let i = 0; i < warmup + reps; i++) {
      const t0 = performance.now();
      await peer.chain(CHAIN_TASKS);
      if (i >= warmup) {
        totals.push(performance.now() - t0);
        log(`chain ${peer.name} rep ${i - warmup + 1}/${reps}: ${round(totals.at(-1)!, 1)} ms`);
      }
    }
    for (let i = 0; i < 20; i++) await peer.two();
    log(`throughput ${peer.name}:`);
    const sweep = await rateSweep(() => peer.two(), opts.quick, log);
    const s = summarize(totals);
    return {
      system: peer.name, version: peer.version, settings: peer.settings,
      chainPerTaskMs: round(s.median / CHAIN_TASKS),
      chainTotalMs: { samples: totals.map((t) => round(t)), median: s.median, p99: s.p99 },
      throughput: { rates: sweep.rates, maxRateP50Under1s: sweep.maxRateP50Under1s, p50At1000Ms: p50At1000(sweep.rates) },
    };
  } finally {
    await peer.stop();
  }
}

const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : round(a / b, 2));

/** The comparison lines: one per workload, Lanner's figure per backend, each peer's, and the ratios. */
export function comparisonLines(lanner: SystemFigures[], peers: SystemFigures[]): string[] {
  const lines: string[] = [];
  const fmt = (x: number | null, unit: string) => (x === null ? "n/a" : `${x}${unit}`);
  for (const l of lanner) {
    const chainRatios = peers.map((p) => `${p.system} ${fmt(p.chainPerTaskMs, " ms")} (ratio ${fmt(ratio(l.chainPerTaskMs, p.chainPerTaskMs), "")})`).join(", ");
    lines.push(`chain per-task overhead: ${l.system} ${l.chainPerTaskMs} ms; ${chainRatios}`);
    const tpRatios = peers.map((p) => `${p.system} ${fmt(p.throughput.maxRateP50Under1s, "/min")} (ratio ${fmt(ratio(l.throughput.maxRateP50Under1s, p.throughput.maxRateP50Under1s), "")})`).join(", ");
    lines.push(`throughput, highest rate with p50 < 1 s: ${l.system} ${fmt(l.throughput.maxRateP50Under1s, "/min")}; ${tpRatios}`);
    const p50Ratios = peers.map((p) => `${p.system} ${fmt(p.throughput.p50At1000Ms, " ms")} (ratio ${fmt(ratio(l.throughput.p50At1000Ms, p.throughput.p50At1000Ms), "")})`).join(", ");
    lines.push(`throughput p50 at 1,000/min: ${l.system} ${fmt(l.throughput.p50At1000Ms, " ms")}; ${p50Ratios}`);
  }
  return lines;
}

/**
 * True when a Kafka broker can be run without a download: one is named by
 * LANNER_TEST_KAFKA_BROKERS, or `scripts/kafka.sh fetch` already filled its cache. A benchmark
 * does not fetch a distribution in the middle of a timed run.
 */
function kafkaAvailable(): boolean {
  if ((process.env.LANNER_TEST_KAFKA_BROKERS ?? "") !== "") return true;
  const cache = process.env.LANNER_CACHE ?? join(homedir(), ".cache", "lanner");
  if (!existsSync(cache)) return false;
  return readdirSync(cache).some((d) => d.startsWith("kafka-") && existsSync(join(cache, d, "lib")));
}

export async function runPeers(_backend: BenchBackend, opts: BenchOptions): Promise<string> {
  ensurePeersInstalled(log);
  const backends: BenchBackend[] = ["embedded", "postgres"];
  if (kafkaAvailable()) backends.push("kafka");
  else log("kafka: left out (no broker fetched; `scripts/kafka.sh fetch` adds it to this comparison)");
  const lanner: SystemFigures[] = [];
  for (const backend of backends) lanner.push(await lannerFigures(backend, opts));
  const peers: SystemFigures[] = [];
  for (const start of [startRestate, startDbos]) peers.push(await peerFigures(start, opts));
  const lines = comparisonLines(lanner, peers);
  const ratios = lanner.map((l) => ({
    system: l.system,
    chainPerTask: Object.fromEntries(peers.map((p) => [p.system, ratio(l.chainPerTaskMs, p.chainPerTaskMs)])),
    maxRateP50Under1s: Object.fromEntries(peers.map((p) => [p.system, ratio(l.throughput.maxRateP50Under1s, p.throughput.maxRateP50Under1s)])),
    p50At1000: Object.fromEntries(peers.map((p) => [p.system, ratio(l.throughput.p50At1000Ms, p.throughput.p50At1000Ms)])),
  }));
  const file = writeResult("peers", "all", { quick: opts.quick, chainTasks: CHAIN_TASKS, systems: [...lanner, ...peers], ratios, lines });
  console.log(lines.join("\n"));
  console.log(`written: ${file}`);
  return file;
}
