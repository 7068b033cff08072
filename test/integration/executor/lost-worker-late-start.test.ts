/**
 * The executor reads `execution-commands` and `worker-results` as two streams, so a WorkerLost
 * can be processed before a Started result that the lost worker committed before it died (after
 * a takeover both topics are drained in any order). The attempt must still be resubmitted: the
 * partition remembers when each worker was declared lost, also across a restart, and resubmits an
 * attempt whose Started was sent before that.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { WorkerJob } from "../../../processors/worker/protocol.js";
import { StaticFlowResolver } from "../../../processors/executor/shell/flow-resolver.js";
import { encodeResult, encodeWorkerLost } from "../../../processors/executor/shell/records.js";
import { parseFlowOrThrow } from "../../../schemas/flow-parser.js";
import type { Log } from "../../../topology/log.js";
import { EXECUTOR_GROUP, type Executor } from "../../../processors/executor/shell/executor.js";
import { Observer, ScriptedWorker, codec, defaultAnswer, openTestLog, send, startExecutor, tempDir } from "./scripted.js";

const FLOW = parseFlowOrThrow(`
id: late_start
namespace: shell.test
tasks:
  - id: a
    type: io.kestra.plugin.core.debug.Return
    format: "a"
  - id: b
    type: io.kestra.plugin.core.debug.Return
    format: "b"
`);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Resolves once the executor committed every record of `topic` (bounded poll: commits are not observable otherwise). */
async function drained(log: Log, topic: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    let behind = false;
    for (let p = 0; p < log.partitionsOf(topic); p++) {
      if ((await log.committed(EXECUTOR_GROUP, topic, p)) < (await log.endOffset(topic, p))) behind = true;
    }
    if (!behind) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`the executor did not commit ${topic} in time`);
}

describe("a Started result from a worker already declared lost", () => {
  for (const restart of [false, true]) {
    it(`resubmits the attempt${restart ? " after an executor restart" : ""}`, async () => {
      const { dir, cleanup } = tempDir();
      cleanups.push(cleanup);
      const open = async () => {
        const log = await openTestLog(dir);
        const executor: Executor = startExecutor(log, new StaticFlowResolver([FLOW]));
        await executor.start();
        return { log, executor };
      };
      let { log, executor } = await open();
      // b's first job is taken by a worker that goes silent before its Started reaches the executor
      let heldBack: WorkerJob | undefined;
      const worker = new ScriptedWorker(log, "w-live", (job) => {
        if (job.task.id === "b" && job.attempt === 1) {
          heldBack = job;
          return { kind: "ignore" };
        }
        return defaultAnswer(job);
      });
      await worker.start();
      let observer = new Observer(log);
      await observer.start();

      await send(log, { type: "CreateExecution", executionId: "exec-late", flow: FLOW, inputs: {} });
      for (let i = 0; i < 1000 && heldBack === undefined; i++) await new Promise((r) => setTimeout(r, 10));
      if (heldBack === undefined) throw new Error("b's first job never reached the worker");
      // w-dead sent its Started at `startedAt`, then went silent; liveness declared it lost later
      const startedAt = Date.now();
      const n = log.partitionsOf("execution-commands");
      await log.append(Array.from({ length: n }, (_, partition) => ({
        topic: "execution-commands", key: "w-dead", partition, value: encodeWorkerLost(codec, { workerId: "w-dead", at: startedAt + 5_000 }),
      })));
      await drained(log, "execution-commands");
      if (restart) {
        await observer.stop();
        await worker.stop();
        await executor.stop();
        await log.close();
        ({ log, executor } = await open());
        observer = new Observer(log);
        await observer.start();
        // the held-back job is delivered again (never committed): still nobody answers it
        const again = new ScriptedWorker(log, "w-live", (j) => (j.task.id === "b" && j.attempt === 1 ? { kind: "ignore" } : defaultAnswer(j)));
        await again.start();
        cleanups.push(() => again.stop());
      } else {
        cleanups.push(() => worker.stop());
      }
      cleanups.push(async () => {
        await observer.stop();
        await executor.stop();
        await log.close();
      });

      const job: WorkerJob = heldBack;
      await log.append([{
        topic: "worker-results", key: job.executionId, timestamp: startedAt,
        value: encodeResult(codec, { kind: "started", executionId: job.executionId, taskRunId: job.taskRunId, attempt: 1, workerId: "w-dead" }),
      }]);
      expect(await observer.terminal("exec-late")).toBe("SUCCESS");
      const ended = observer.of("exec-late", "AttemptEnded").filter((e) => e.taskRunId === job.taskRunId);
      expect(ended.map((e) => [e.attempt, e.state, e.reason])).toEqual([[1, "FAILED", "worker w-dead lost"], [2, "SUCCESS", "worker reported SUCCESS"]]);
    });
  }
});
