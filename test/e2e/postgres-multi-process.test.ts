/**
 * Every role as its own `lanner server` process on Postgres: two executors, two workers,
 * liveness, indexer and webserver. 200 executions are started over the API (ten requests at a
 * time); while they run, one executor and one worker that is running attempts are killed with
 * SIGKILL. All 200 end SUCCESS, and the `executions` topic, read back through the Log API, shows
 * for every execution a valid history where each task run was created once and ended once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LannerProcess } from "../harness/lanner-process.js";
import { createTestSchema, type TestSchema } from "../harness/postgres.js";
import { ApiClient, PostgresCluster, checkHistory, openPostgresLog, readHistories, workerIdOf } from "./helpers.js";

const FLOW = `id: many
namespace: company.e2e
inputs:
  - id: n
    type: INT
  - id: seconds
    type: INT
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.n }}"
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: "PT{{ inputs.seconds }}S"
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.first.value }} done"
`;

const COUNT = 200;
/** The first executions sleep long enough to be surely running on a worker when it is killed. */
const LONG = 24;
const WAIT_MS = 150_000;

/*
 * Liveness declares a killed worker lost after its timeout (default 8 s); a short one keeps the
 * test quick and exercises the same path. Info logs let the test read each worker's id and which
 * partitions the surviving executor restored.
 */
const ENV = { LANNER_LIVENESS_TIMEOUT_MS: "1500", LANNER_HEARTBEAT_INTERVAL_MS: "300" };
const INFO = { LANNER_LOG_LEVEL: "info" };

/**
 * Partitions an executor process held according to its log: each partition it gains is logged as
 * restored, each it loses as revoked (or moved to another instance, when a commit was fenced).
 */
function heldPartitions(output: string): number[] {
  const held = new Set<number>();
  for (const m of output.matchAll(/"partition":(\d+)[^\n]*"msg":"(executor partition (?:restored|revoked|moved[^"]*))"/g)) {
    if (m[2] === "executor partition restored") held.add(Number(m[1]));
    else held.delete(Number(m[1]));
  }
  return [...held].sort((a, b) => a - b);
}

describe("two executors and two workers as separate processes on Postgres", () => {
  let schema: TestSchema;
  let cluster: PostgresCluster;
  let api: ApiClient;
  let executors: LannerProcess[];
  let workers: LannerProcess[];

  beforeAll(async () => {
    schema = await createTestSchema("e2e_mp");
    cluster = new PostgresCluster(schema.url, schema.schema, ENV);
    // the first process creates the topics; the others start together
    const web = await cluster.start("webserver", ["--port", "0"]);
    api = new ApiClient(web.url ?? "");
    const started = await cluster.startAll([
      ["executor", [], INFO],
      ["executor", [], INFO],
      ["worker", ["--threads", "16"], INFO],
      ["worker", ["--threads", "16"], INFO],
      ["liveness"],
      ["indexer"],
    ]);
    executors = started.slice(0, 2);
    workers = started.slice(2, 4);
  });

  afterAll(async () => {
    await cluster?.crashAll();
    await schema?.drop();
  });

  it("completes 200 executions with one executor and one worker killed mid-run, nothing lost or duplicated", { timeout: 300_000 }, async () => {
    const workerIds = await Promise.all(workers.map((w) => workerIdOf(w)));
    await api.deployFlow(FLOW);
    const ids = await cluster.explain(api.executeMany("company.e2e", "many", COUNT, 10, (i) => ({ n: i, seconds: i < LONG ? 8 : 1 })));
    expect(new Set(ids).size).toBe(COUNT);

    // Kill a worker that the read side shows running a long Sleep, and one executor, together.
    const victim = await cluster.explain(ApiClient.until("a worker running a long Sleep", async () => {
      const running = await Promise.all(ids.slice(0, LONG).map((id) => api.getExecution(id)));
      for (const e of running) {
        const a = e.taskRunList?.find((t) => t.taskId === "nap")?.attempts?.[0];
        if (a?.state.current === "RUNNING" && a.workerId !== undefined && workerIds.includes(a.workerId)) return workerIds.indexOf(a.workerId);
      }
      return undefined;
    }, WAIT_MS, 200));
    const lostWorker = workerIds[victim];
    await Promise.all([executors[0].crash(), workers[victim].crash()]);
    const heldAtCrash = heldPartitions(executors[1].output());
    // the killed executor held a share of the partitions
    expect(heldAtCrash.length).toBeGreaterThan(0);
    expect(heldAtCrash.length).toBeLessThan(8);
    const doneAtCrash = await api.countInState("company.e2e", "many", "SUCCESS");
    expect(doneAtCrash).toBeLessThan(COUNT);

    const ended = await cluster.explain(api.waitTerminal(ids, WAIT_MS, 1_000));
    const states = new Map<string, number>();
    for (const e of ended.values()) states.set(e.state.current, (states.get(e.state.current) ?? 0) + 1);
    expect(Object.fromEntries(states)).toEqual({ SUCCESS: COUNT });

    // The surviving executor took over every partition of the killed one.
    expect(heldPartitions(executors[1].output())).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);

    const log = await openPostgresLog(schema.url, schema.schema);
    try {
      const histories = await readHistories(log);
      expect(histories.size).toBe(COUNT);
      let resubmitted = 0;
      for (const [i, id] of ids.entries()) {
        const events = histories.get(id) ?? [];
        const check = checkHistory(events);
        expect(check.problems, `history of ${id}`).toEqual([]);
        expect(check.state.execution.state.current, `execution ${id}`).toBe("SUCCESS");
        const runs = Object.values(check.state.taskRuns);
        expect(runs.map((t) => [t.taskId, t.state.current])).toEqual([["first", "SUCCESS"], ["nap", "SUCCESS"], ["last", "SUCCESS"]]);
        expect(runs[2].outputs).toEqual({ value: `${i} done` });
        resubmitted += events.filter((e) => e.type === "AttemptEnded" && e.reason === `worker ${lostWorker} lost`).length;
      }
      // the killed worker was running attempts: they were resubmitted, each once
      expect(resubmitted).toBeGreaterThan(0);
    } finally {
      await log.close();
    }
  });
});
