/**
 * A dead worker, with every role its own `lanner server` process on Postgres: the scenario of
 * `dead-worker-scenario.ts` (a worker killed mid-task, the attempt resubmitted on the other one,
 * the lost attempt's late result ignored).
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import type { LannerProcess } from "../harness/lanner-process.js";
import { createTestSchema, type TestSchema } from "../harness/postgres.js";
import { DEAD_WORKER_ENV, runDeadWorkerScenario, startDeadWorkerRoles } from "./dead-worker-scenario.js";
import { ApiClient, PostgresCluster, openPostgresLog } from "./helpers.js";

const WAIT_MS = 90_000;

describe("dead worker (Postgres, separate processes)", () => {
  let schema: TestSchema;
  let cluster: PostgresCluster;
  let api: ApiClient;
  let workers: LannerProcess[] = [];

  beforeAll(async () => {
    schema = await createTestSchema("e2e_dw");
    cluster = new PostgresCluster(schema.url, schema.schema, DEAD_WORKER_ENV);
    // the first process creates the topics; the others start together
    const web = await cluster.start("webserver", ["--port", "0"]);
    api = new ApiClient(web.url ?? "");
    workers = await startDeadWorkerRoles(cluster);
  });

  afterAll(async () => {
    await cluster?.crashAll();
    await schema?.drop();
  });

  it("resubmits the lost attempt on the other worker and ignores the late result of the lost one", { timeout: 180_000 }, async () => {
    await runDeadWorkerScenario({ api, cluster, workers, waitMs: WAIT_MS, openLog: () => openPostgresLog(schema.url, schema.schema) });
  });
});
