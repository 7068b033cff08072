/**
 * A steady-state CPU profile of the `chain` workload on the embedded backend: the roles start,
 * 20 executions warm up, then the V8 profiler samples every 100 µs while `--executions` more run
 * one after the other (start-up and module loading stay out of the profile, unlike
 * `node --cpu-prof`). Prints wall and CPU time per task and the top frames, and writes the
 * `.cpuprofile` for a closer look (Chrome DevTools, `bench/profile-summary.ts`).
 *
 * Usage: npx tsx bench/profile-chain.ts [--durability fsync|os] [--executions 60] [--out chain.cpuprofile]
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { newExecutionId } from "../api/execution-id.js";
import { silentLogger } from "../common/logger.js";
import { encodeCommand } from "../processors/executor/shell/records.js";
import { startRoles } from "../processors/runtime/roles.js";
import { avroRecordCodec } from "../processors/worker/record-codec.js";
import { parseFlowOrThrow } from "../schemas/flow-parser.js";
import { topicCatalogue } from "../topology/topics.js";
import { CHAIN_TASKS, chainFlowYaml } from "./chain.js";
import { preparePlace } from "./lib/backend.js";
import { ExecutionObserver, TERMINAL_STATES } from "./lib/observer.js";
import { summariseProfile, type CpuProfile } from "./lib/profile.js";

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const durability = arg("--durability", "fsync");
if (durability !== "fsync" && durability !== "os") throw new Error(`--durability: fsync or os, got ${durability}`);
const executions = Number(arg("--executions", "60"));
if (!Number.isInteger(executions) || executions < 1) throw new Error("--executions: a positive integer");
const out = arg("--out", "chain.cpuprofile");

const place = await preparePlace("embedded", [[["durability"], durability]]);
const roles = await startRoles(place.config, ["executor", "worker", "liveness"], { logger: silentLogger(), onFatal: (err) => { throw err; }, workerStopTimeoutMs: 1_000 });
const catalogue = topicCatalogue({ executionPartitions: place.config.partitions });
const observer = new ExecutionObserver(roles.log, avroRecordCodec, catalogue.name("executions"));
await observer.start();
const flow = { ...parseFlowOrThrow(chainFlowYaml()), revision: 1, tenantId: "main" };

async function runOne(): Promise<void> {
  const executionId = newExecutionId();
  await roles.log.append([{
    topic: catalogue.name("execution-commands"), key: executionId,
    value: encodeCommand(avroRecordCodec, { type: "CreateExecution", executionId, flow, inputs: {}, labels: [] }),
  }]);
  const ended = () => observer.events(executionId).some((s) => s.event.type === "ExecutionStateChanged" && TERMINAL_STATES.has(s.event.state));
  await observer.until(ended, 120_000, `execution ${executionId} to end`);
  observer.forget(executionId);
}

try {
  for (let i = 0; i < 20; i++) await runOne();
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await session.post("Profiler.start");
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < executions; i++) await runOne();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const { profile } = await session.post("Profiler.stop");
  session.disconnect();
  writeFileSync(out, JSON.stringify(profile));
  const tasks = executions * CHAIN_TASKS;
  process.stdout.write(`chain, embedded, durability ${durability}: ${(wallMs / tasks).toFixed(3)} ms/task wall, ${((cpu.user + cpu.system) / 1000 / tasks).toFixed(3)} ms/task CPU (${executions} executions × ${CHAIN_TASKS} tasks, profiler on)\n`);
  process.stdout.write(summariseProfile(profile as CpuProfile, 30));
  process.stdout.write(`profile written to ${out}\n`);
} finally {
  await observer.stop();
  await roles.stop();
  await place.dispose();
}
