/**
 * `npm run bench -- <workload> [--backend embedded|postgres] [--quick]`: runs one workload and
 * writes `bench/results/<workload>-<backend>.json`.
 */
import { runChain } from "./chain.js";
import type { BenchBackend } from "./lib/backend.js";
import { runRecovery } from "./recovery.js";

const WORKLOADS: Record<string, (backend: BenchBackend, quick: boolean) => Promise<string>> = {
  chain: runChain,
  recovery: runRecovery,
};

function usage(msg: string): never {
  process.stderr.write(`${msg}\nusage: npm run bench -- <${Object.keys(WORKLOADS).join("|")}> [--backend embedded|postgres] [--quick]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const name = args.find((a) => !a.startsWith("--") && args[args.indexOf(a) - 1] !== "--backend");
if (!name) usage("bench: name a workload");
const run = WORKLOADS[name];
if (!run) usage(`bench: unknown workload ${JSON.stringify(name)}`);
const bi = args.indexOf("--backend");
const backend = bi >= 0 ? args[bi + 1] : "embedded";
if (backend !== "embedded" && backend !== "postgres") usage(`bench: unknown backend ${JSON.stringify(backend)}`);
try {
  await run(backend, args.includes("--quick"));
  process.exit(0);
} catch (err) {
  process.stderr.write(`bench ${name} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
}
