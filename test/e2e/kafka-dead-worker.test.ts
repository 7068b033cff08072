/**
 * Liveness on Kafka, every role its own `lanner server` process: the scenario of
 * `dead-worker-scenario.ts` (a worker killed mid-task, its heartbeats on the `heartbeats` topic
 * stop, the attempt resubmitted on the other worker, the lost attempt's late result ignored:
 * nothing runs twice to completion).
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import type { LannerProcess } from "../harness/lanner-process.js";
import { DEAD_WORKER_ENV, runDeadWorkerScenario, startDeadWorkerRoles } from "./dead-worker-scenario.js";
import { ApiClient } from "./helpers.js";
import { KafkaCluster } from "./kafka-cluster.js";

const WAIT_MS = 120_000;

describe("dead worker (Kafka, separate processes)", () => {
  let cluster: KafkaCluster;
  let api: ApiClient;
  let workers: LannerProcess[] = [];

  beforeAll(async () => {
    cluster = await KafkaCluster.create("e2e-dw", DEAD_WORKER_ENV);
    const web = await cluster.start("webserver", ["--port", "0"]);
    api = new ApiClient(web.url ?? "");
    workers = await startDeadWorkerRoles(cluster);
  }, 600_000);

  afterAll(async () => {
    await cluster?.dispose();
  });

  it("resubmits the lost attempt on the other worker and ignores the late result of the lost one", { timeout: 300_000 }, async () => {
    await runDeadWorkerScenario({ api, cluster, workers, waitMs: WAIT_MS, openLog: () => cluster.openLog() });
  });
});
