/**
 * A Lanner node for the embedded `recovery` workload, run as its own process (so it can be killed
 * with SIGKILL): executor, worker and liveness on `<dataDir>` with default settings. It prints
 * `lanner bench-node ready`, then one JSON line per AttemptStarted event of the `executions`
 * topic; with `--create` it first submits one execution of the Sleep flow it is given.
 * Usage: tsx bench/lib/embedded-node.ts <dataDir> [--create <flow.yml>]
 */
import { readFileSync } from "node:fs";
import { newExecutionId } from "../../api/execution-id.js";
import { loadConfig } from "../../cli/config.js";
import { silentLogger } from "../../common/logger.js";
import { encodeCommand } from "../../processors/executor/shell/records.js";
import { startRoles } from "../../processors/runtime/roles.js";
import { avroRecordCodec } from "../../processors/worker/record-codec.js";
import { parseFlowOrThrow } from "../../schemas/flow-parser.js";
import { topicCatalogue } from "../../topology/topics.js";
import { ExecutionObserver } from "./observer.js";

const [dataDir, flag, flowFile] = process.argv.slice(2);
if (!dataDir) {
  process.stderr.write("usage: embedded-node.ts <dataDir> [--create <flow.yml>]\n");
  process.exit(2);
}
const config = loadConfig({ overrides: [[["dataDir"], dataDir]] });
const roles = await startRoles(config, ["executor", "worker", "liveness"], { logger: silentLogger() });
const catalogue = topicCatalogue({ executionPartitions: config.partitions });
const observer = new ExecutionObserver(roles.log, avroRecordCodec, catalogue.name("executions"), "bench-node-observer");
const printed = new Set<string>();
await observer.start();
// Each AttemptStarted printed once (after a restart the observer reads the topic from the start).
const timer = setInterval(() => {
  for (const id of observer.executionIds()) {
    for (const { event } of observer.events(id)) {
      if (event.type !== "AttemptStarted") continue;
      const key = `${event.executionId}/${event.taskRunId}/${event.attempt}`;
      if (printed.has(key)) continue;
      printed.add(key);
      process.stdout.write(`${JSON.stringify({ type: event.type, executionId: event.executionId, attempt: event.attempt, at: event.at })}\n`);
    }
  }
}, 20);
timer.unref();
if (flag === "--create" && flowFile) {
  const flow = { ...parseFlowOrThrow(readFileSync(flowFile, "utf8")), revision: 1, tenantId: "main" };
  const executionId = newExecutionId();
  await roles.log.append([{ topic: catalogue.name("execution-commands"), key: executionId, value: encodeCommand(avroRecordCodec, { type: "CreateExecution", executionId, flow, inputs: {}, labels: [] }) }]);
}
process.stdout.write("lanner bench-node ready\n");
setInterval(() => undefined, 1 << 30);
