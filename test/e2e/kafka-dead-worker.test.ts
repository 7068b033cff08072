/**
 * Liveness on Kafka, every role its own `lanner server` process: a long shell task starts on one
 * of two workers, that worker is killed with SIGKILL, its heartbeats on the `heartbeats` topic
 * stop, liveness declares it lost, the task's next attempt starts on the other worker and the
 * execution ends SUCCESS. A late result of the lost attempt (injected on `worker-results` once
 * attempt 2 runs, as a worker that was only cut off would send it) is recorded as ResultIgnored
 * and changes nothing: nothing runs twice to completion.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeResult } from "../../processors/executor/shell/records.js";
import { avroRecordCodec } from "../../processors/worker/record-codec.js";
import type { LannerProcess } from "../harness/lanner-process.js";
import { ApiClient, checkHistory, readHistories, workerIdOf } from "./helpers.js";
import { KafkaCluster } from "./kafka-cluster.js";

const FLOW = `id: dead_worker
namespace: company.e2e
tasks:
  - id: long
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - sleep 5
      - echo "slept"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "after {{ outputs.long.exitCode }}"
`;

const WAIT_MS = 120_000;

/* A short liveness timeout and heartbeat keep the test quick; the path is the normal one. */
const ENV = { LANNER_LIVENESS_TIMEOUT_MS: "1500", LANNER_HEARTBEAT_INTERVAL_MS: "300" };

describe("dead worker (Kafka, separate processes)", () => {
  let cluster: KafkaCluster;
  let api: ApiClient;
  const workers: LannerProcess[] = [];

  beforeAll(async () => {
    cluster = await KafkaCluster.create("e2e-dw", ENV);
    const web = await cluster.start("webserver", ["--port", "0"]);
    api = new ApiClient(web.url ?? "");
    const started = await cluster.startAll([
      ["executor"],
      ["liveness"],
      ["indexer"],
      ["worker", [], { LANNER_LOG_LEVEL: "info" }],
      ["worker", [], { LANNER_LOG_LEVEL: "info" }],
    ]);
    workers.push(started[3], started[4]);
  }, 600_000);

  afterAll(async () => {
    await cluster?.dispose();
  });

  it("resubmits the lost attempt on the other worker and ignores the late result of the lost one", { timeout: 300_000 }, async () => {
    const ids = await Promise.all(workers.map((w) => workerIdOf(w)));
    expect(new Set(ids).size).toBe(2);
    await api.deployFlow(FLOW);
    const executionId = await api.execute("company.e2e", "dead_worker");

    const first = await cluster.explain(ApiClient.until("attempt 1 running on a worker", async () => {
      const e = await api.getExecution(executionId);
      const a = e.taskRunList?.find((t) => t.taskId === "long")?.attempts?.[0];
      return a?.state.current === "RUNNING" && a.workerId ? a.workerId : undefined;
    }, WAIT_MS));
    const victim = ids.indexOf(first);
    expect(victim).toBeGreaterThanOrEqual(0);
    const survivor = ids[1 - victim];
    await workers[victim].crash();

    const second = await cluster.explain(ApiClient.until("attempt 2 running", async () => {
      const e = await api.getExecution(executionId);
      const a = e.taskRunList?.find((t) => t.taskId === "long")?.attempts?.[1];
      return a?.state.current === "RUNNING" && a.workerId ? a.workerId : undefined;
    }, WAIT_MS));
    expect(second).toBe(survivor);

    const log = await cluster.openLog();
    try {
      const taskRunId = (await api.getExecution(executionId)).taskRunList?.find((t) => t.taskId === "long")?.id ?? "";
      await log.append([{
        topic: "worker-results",
        key: executionId,
        value: encodeResult(avroRecordCodec, {
          kind: "completed", executionId, taskRunId, attempt: 1, workerId: first, state: "FAILED", error: { message: "late result of a lost attempt" },
        }),
      }]);

      const ended = await cluster.explain(api.waitTerminal([executionId], WAIT_MS));
      expect(ended.get(executionId)?.state.current).toBe("SUCCESS");
      expect(ended.get(executionId)?.taskRunList?.find((t) => t.taskId === "after")?.outputs).toEqual({ value: "after 0" });

      const events = (await readHistories(log)).get(executionId) ?? [];
      const check = checkHistory(events);
      expect(check.problems).toEqual([]);
      expect(check.started.get(taskRunId)).toEqual([{ attempt: 1, workerId: first }, { attempt: 2, workerId: survivor }]);
      expect(events).toContainEqual(expect.objectContaining({ type: "AttemptEnded", taskRunId, attempt: 1, state: "FAILED", reason: `worker ${first} lost` }));
      expect(check.ignored).toEqual([{ taskRunId, attempt: 1, reason: "completed result for attempt 1, current is 2" }]);
      const long = check.state.taskRuns[taskRunId];
      expect(long.attempts.map((a) => [a.number, a.state.current, a.workerId])).toEqual([[1, "FAILED", first], [2, "SUCCESS", survivor]]);
      expect(long.state.current).toBe("SUCCESS");
    } finally {
      await log.close();
    }
  });
});
