/**
 * What every benchmark reports: raw samples, their median and p99, the machine it ran on and the
 * commit it measured, written to `bench/results/<workload>-<backend>.json`.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const REPO_DIR = dirname(BENCH_DIR);

/** Facts about where a figure was measured, so two result files can be compared honestly. */
export interface MachineFacts {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  commit: string;
  /** True when the working tree had uncommitted changes at the time of the run. */
  dirty: boolean;
}

function git(args: string[]): string {
  try {
    return execFileSync("git", args, { cwd: REPO_DIR, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "";
  }
}

export function machineFacts(): MachineFacts {
  const c = cpus();
  return {
    cpuModel: c[0]?.model.trim() ?? "unknown",
    cores: c.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    commit: git(["rev-parse", "HEAD"]) || "unknown",
    dirty: git(["status", "--porcelain", "--", "bench", "processors", "topology", "expressions", "stores", "tasks"]) !== "",
  };
}

/** Summary of a list of samples. */
export interface Summary {
  n: number;
  min: number;
  median: number;
  p99: number;
  max: number;
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Nearest-rank percentile of `samples` (not modified); `q` in [0, 1]. */
export function percentile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1];
}

export function summarize(samples: readonly number[]): Summary {
  return {
    n: samples.length,
    min: round(Math.min(...samples)),
    median: round(percentile(samples, 0.5)),
    p99: round(percentile(samples, 0.99)),
    max: round(Math.max(...samples)),
  };
}

/**
 * Writes `bench/results/<workload>-<backend>.json` (`…-quick.json` for a `--quick` run, so a smoke
 * run never replaces the figures of a full one) and returns its path.
 */
export function writeResult(workload: string, backend: string, body: Record<string, unknown>): string {
  const dir = join(BENCH_DIR, "results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${workload}-${backend}${process.argv.includes("--quick") ? "-quick" : ""}.json`);
  const doc = { workload, backend, at: new Date().toISOString(), command: `npm run bench -- ${process.argv.slice(2).join(" ")}`, machine: machineFacts(), ...body };
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  return file;
}

export { round };
