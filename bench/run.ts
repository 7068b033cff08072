/**
 * `npm run bench -- <workload> [--backend embedded|postgres|kafka] [--quick]`: runs one workload and
 * writes `bench/results/<workload>-<backend>.json`.
 */
import { runChain } from "./chain.js";
import { runPeers } from "./compare-peers.js";
import { runFootprint } from "./footprint.js";
import { runForeach } from "./foreach.js";
import type { BenchBackend, BenchOptions } from "./lib/backend.js";
import { runRecovery } from "./recovery.js";
import { runRestore } from "./restore.js";
import { runThroughput } from "./throughput.js";

const WORKLOADS: Record<string, (backend: BenchBackend, opts: BenchOptions) => Promise<string>> = {
  chain: runChain,
  footprint: runFootprint,
  foreach: runForeach,
  peers: runPeers,
  recovery: runRecovery,
  restore: runRestore,
  throughput: runThroughput,
};

function usage(msg: string): never {
  process.stderr.write(`${msg}\nusage: npm run bench -- <${Object.keys(WORKLOADS).join("|")}> [--backend embedded|postgres|kafka] [--durability fsync|os] [--quick]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const valued = new Set(["--backend", "--durability"]);
const name = args.find((a, i) => !a.startsWith("--") && !valued.has(args[i - 1] ?? ""));
if (!name) usage("bench: name a workload");
const run = WORKLOADS[name];
if (!run) usage(`bench: unknown workload ${JSON.stringify(name)}`);
const bi = args.indexOf("--backend");
const backend = bi >= 0 ? args[bi + 1] : "embedded";
if (backend !== "embedded" && backend !== "postgres" && backend !== "kafka") usage(`bench: unknown backend ${JSON.stringify(backend)}`);
const di = args.indexOf("--durability");
const durability = di >= 0 ? args[di + 1] : undefined;
if (durability !== undefined && durability !== "fsync" && durability !== "os") usage(`bench: unknown durability ${JSON.stringify(durability)}`);
try {
  await run(backend, { quick: args.includes("--quick"), ...(durability ? { durability } : {}) });
  process.exit(0);
} catch (err) {
  process.stderr.write(`bench ${name} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
}
