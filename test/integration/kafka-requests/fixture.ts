/**
 * What the execution-requests tests share: a flow with typed inputs, the executor side (executor,
 * scripted worker, observer of `executions`) and the requests processor on a given log, and a
 * waiter for the processor's committed batches.
 */
import { silentLogger } from "../../../common/logger.js";
import { StaticFlowResolver } from "../../../processors/executor/shell/flow-resolver.js";
import { ExecutionRequestsProcessor } from "../../../processors/requests/execution-requests-processor.js";
import { parseFlowOrThrow } from "../../../schemas/flow-parser.js";
import { DEAD_LETTER_HEADERS } from "../../../topology/dead-letter.js";
import type { Log, LogRecord } from "../../../topology/log.js";
import { topicCatalogue } from "../../../topology/topics.js";
import { Observer, ScriptedWorker, codec, startExecutor } from "../executor/scripted.js";

export const GREET = parseFlowOrThrow(`
id: greet
namespace: company.team
inputs:
  - id: name
    type: STRING
  - id: times
    type: INT
    defaults: 1
tasks:
  - id: hello
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ inputs.name }} x{{ inputs.times }}"
`);

export const REQUESTS = "execution-requests";

/** Starts everything on `log` (topics created); returns the parts and a stop function. */
export async function startRequestSide(log: Log, opts: { schemaRegistryUrl?: string; requestsTopic?: string } = {}) {
  const requestsTopic = opts.requestsTopic ?? REQUESTS;
  await log.ensureTopics([...topicCatalogue({ executionPartitions: 2 }).specs(), { name: requestsTopic, partitions: 2 }]);
  const flows = new StaticFlowResolver([{ ...GREET, tenantId: "main" }, { ...GREET, tenantId: "acme" }]);
  const executor = startExecutor(log, flows);
  await executor.start();
  const worker = new ScriptedWorker(log, "w1");
  await worker.start();
  const observer = new Observer(log);
  await observer.start();
  const processor = new ExecutionRequestsProcessor({
    log, logger: silentLogger(), codec, flows,
    ...(opts.schemaRegistryUrl === undefined ? {} : { schemaRegistryUrl: opts.schemaRegistryUrl }),
    topics: { requests: requestsTopic, commands: "execution-commands", deadLetters: "dead-letters" },
  });
  let handled = 0;
  const created: string[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  processor.onCommitted((r) => {
    handled += r.created.length + r.refused;
    created.push(...r.created);
    for (const w of waiters.splice(0)) {
      if (handled >= w.n) w.resolve();
      else waiters.push(w);
    }
  });
  await processor.start();
  return {
    flows, executor, worker, observer, processor, created,
    /** Resolves once the processor has committed `n` requests in all (created or refused). */
    handled: (n: number) => (handled >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }))),
    async stop() {
      await processor.stop();
      await observer.stop();
      await worker.stop();
      await executor.stop();
    },
  };
}

/** The dead letters on `dead-letters` partition 0 (reason and code per record). */
export async function deadLetters(log: Log): Promise<Array<{ code: string; reason: string; record: LogRecord }>> {
  const out: Array<{ code: string; reason: string; record: LogRecord }> = [];
  for await (const record of log.readPartition("dead-letters", 0, 0n)) {
    out.push({ code: record.headers["lanner.dlq.code"] ?? "", reason: record.headers[DEAD_LETTER_HEADERS.reason] ?? "", record });
  }
  return out;
}
