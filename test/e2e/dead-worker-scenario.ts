/**
 * The dead-worker scenario every backend's end-to-end test runs: a long shell task starts on one of
 * two worker processes, that worker is killed with SIGKILL, liveness declares it lost, the task's
 * next attempt starts on the other worker and the execution ends SUCCESS. A late result of the lost
 * attempt (injected on `worker-results` once attempt 2 runs, as a worker that was only cut off would
 * send it) is recorded as ResultIgnored and changes nothing: nothing runs twice to completion.
 */
import { expect } from "vitest";
import { encodeResult } from "../../processors/executor/shell/records.js";
import { avroRecordCodec } from "../../processors/worker/record-codec.js";
import type { Log } from "../../topology/log.js";
import type { LannerProcess } from "../harness/lanner-process.js";
import { ApiClient, checkHistory, readHistories, workerIdOf, type ProcessCluster } from "./helpers.js";

export const DEAD_WORKER_FLOW = `id: dead_worker
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

/**
 * A short liveness timeout (default 8 s) and heartbeat keep the test quick; the path is the normal
 * one: heartbeats stop, liveness sends WorkerLost, the executor resubmits.
 */
export const DEAD_WORKER_ENV = { LANNER_LIVENESS_TIMEOUT_MS: "1500", LANNER_HEARTBEAT_INTERVAL_MS: "300" };

/** Starts executor, liveness, indexer and two workers (logging at info, for their ids); returns the workers. */
export async function startDeadWorkerRoles(cluster: ProcessCluster): Promise<LannerProcess[]> {
  const started = await cluster.startAll([
    ["executor"],
    ["liveness"],
    ["indexer"],
    ["worker", [], { LANNER_LOG_LEVEL: "info" }],
    ["worker", [], { LANNER_LOG_LEVEL: "info" }],
  ]);
  return [started[3], started[4]];
}

/** Runs the scenario and checks the execution and its event history, read through `openLog`. */
export async function runDeadWorkerScenario(opts: {
  api: ApiClient;
  cluster: ProcessCluster;
  workers: LannerProcess[];
  openLog: () => Promise<Log>;
  waitMs: number;
}): Promise<void> {
  const { api, cluster, workers, waitMs } = opts;
  const ids = await Promise.all(workers.map((w) => workerIdOf(w)));
  expect(new Set(ids).size).toBe(2);
  await api.deployFlow(DEAD_WORKER_FLOW);
  const executionId = await api.execute("company.e2e", "dead_worker");

  const runningAttempt = (index: number) => async () => {
    const e = await api.getExecution(executionId);
    const a = e.taskRunList?.find((t) => t.taskId === "long")?.attempts?.[index];
    return a?.state.current === "RUNNING" && a.workerId ? a.workerId : undefined;
  };
  const first = await cluster.explain(ApiClient.until("attempt 1 running on a worker", runningAttempt(0), waitMs));
  const victim = ids.indexOf(first);
  expect(victim).toBeGreaterThanOrEqual(0);
  const survivor = ids[1 - victim];
  await workers[victim].crash();

  const second = await cluster.explain(ApiClient.until("attempt 2 running", runningAttempt(1), waitMs));
  expect(second).toBe(survivor);

  const log = await opts.openLog();
  try {
    const taskRunId = (await api.getExecution(executionId)).taskRunList?.find((t) => t.taskId === "long")?.id ?? "";
    await log.append([{
      topic: "worker-results",
      key: executionId,
      value: encodeResult(avroRecordCodec, {
        kind: "completed", executionId, taskRunId, attempt: 1, workerId: first, state: "FAILED", error: { message: "late result of a lost attempt" },
      }),
    }]);

    const ended = await cluster.explain(api.waitTerminal([executionId], waitMs));
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
}
