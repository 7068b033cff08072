/**
 * Every role as its own `lanner server` process on Kafka: two executors, two workers, liveness,
 * indexer and webserver (read side on Elasticsearch). Both executors share the eight partitions
 * (the co-partition assignor); 500 executions started over the API all end SUCCESS, and the
 * `executions` topic read back through `KafkaLog.readPartition` shows for every execution a
 * valid history where each task run was created once and ended once. Then 500 more are started
 * and one executor is killed with SIGKILL mid-run: its partitions move to the other executor
 * once the group's session times out, which restores their state from the `executions` topic
 * (and may flush it before the partition is delivered to); every execution ends SUCCESS with
 * each task run created and ended once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LannerProcess } from "../harness/lanner-process.js";
import { ApiClient, checkHistory, readHistories } from "./helpers.js";
import { KafkaCluster } from "./kafka-cluster.js";

const FLOW = `id: many
namespace: company.e2e
inputs:
  - id: n
    type: INT
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.n }}"
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT1S
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.first.value }} done"
`;

const COUNT = 500;
const WAIT_MS = 240_000;
const INFO = { LANNER_LOG_LEVEL: "info" };

/** Partitions an executor process held according to its log (restored adds, revoked/moved removes). */
function heldPartitions(output: string): number[] {
  const held = new Set<number>();
  for (const m of output.matchAll(/"partition":(\d+)[^\n]*"msg":"(executor partition (?:restored|revoked|moved[^"]*))"/g)) {
    if (m[2] === "executor partition restored") held.add(Number(m[1]));
    else held.delete(Number(m[1]));
  }
  return [...held].sort((a, b) => a - b);
}

describe("two executors and two workers as separate processes on Kafka", () => {
  let cluster: KafkaCluster;
  let api: ApiClient;
  let executors: LannerProcess[];

  beforeAll(async () => {
    cluster = await KafkaCluster.create("e2e-scale");
    // the first process creates the topics; the others start together
    const web = await cluster.start("webserver", ["--port", "0"]);
    api = new ApiClient(web.url ?? "");
    const started = await cluster.startAll([
      ["executor", [], INFO],
      ["executor", [], INFO],
      ["worker", ["--threads", "16"]],
      ["worker", ["--threads", "16"]],
      ["liveness"],
      ["indexer"],
    ]);
    executors = started.slice(0, 2);
  }, 600_000);

  afterAll(async () => {
    await cluster?.dispose();
  });

  it("completes 500 executions spread over both executors, each task run once", { timeout: 420_000 }, async () => {
    // both executors share the partitions before any work is sent
    const held = await cluster.explain(ApiClient.until("both executors holding partitions", async () => {
      const h = executors.map((e) => heldPartitions(e.output()));
      return h.every((x) => x.length > 0) && h[0].length + h[1].length === 8 ? h : undefined;
    }, 120_000, 200));
    expect([...held[0], ...held[1]].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    await api.deployFlow(FLOW);
    const ids = await cluster.explain(api.executeMany("company.e2e", "many", COUNT, 10, (i) => ({ n: i })));
    expect(new Set(ids).size).toBe(COUNT);
    const ended = await cluster.explain(api.waitTerminal(ids, WAIT_MS, 1_000));
    const states = new Map<string, number>();
    for (const e of ended.values()) states.set(e.state.current, (states.get(e.state.current) ?? 0) + 1);
    expect(Object.fromEntries(states)).toEqual({ SUCCESS: COUNT });

    const log = await cluster.openLog();
    try {
      const histories = await readHistories(log);
      expect(histories.size).toBe(COUNT);
      for (const [i, id] of ids.entries()) {
        const check = checkHistory(histories.get(id) ?? []);
        expect(check.problems, `history of ${id}`).toEqual([]);
        expect(check.state.execution.state.current, `execution ${id}`).toBe("SUCCESS");
        const runs = Object.values(check.state.taskRuns);
        expect(runs.map((t) => [t.taskId, t.state.current])).toEqual([["first", "SUCCESS"], ["nap", "SUCCESS"], ["last", "SUCCESS"]]);
        expect(runs[2].outputs).toEqual({ value: `${i} done` });
      }
    } finally {
      await log.close();
    }
  });

  it("finishes 500 more with one executor killed mid-run: its partitions move, state restores, nothing runs twice", { timeout: 420_000 }, async () => {
    const before = await api.countInState("company.e2e", "many", "SUCCESS");
    const submitting = api.executeMany("company.e2e", "many", COUNT, 10, (i) => ({ n: COUNT + i }));
    // kill an executor once work of this round is flowing
    await cluster.explain(ApiClient.until("the first executions of the round done", async () => {
      const n = await api.countInState("company.e2e", "many", "SUCCESS");
      return n >= before + 20 ? n : undefined;
    }, WAIT_MS, 200));
    const heldByVictim = heldPartitions(executors[0].output());
    await executors[0].crash();
    const doneAtCrash = await api.countInState("company.e2e", "many", "SUCCESS");
    expect(heldByVictim.length).toBeGreaterThan(0);
    expect(doneAtCrash).toBeLessThan(before + COUNT);

    const ids = await cluster.explain(submitting);
    expect(new Set(ids).size).toBe(COUNT);
    const ended = await cluster.explain(api.waitTerminal(ids, WAIT_MS, 1_000));
    const states = new Map<string, number>();
    for (const e of ended.values()) states.set(e.state.current, (states.get(e.state.current) ?? 0) + 1);
    expect(Object.fromEntries(states)).toEqual({ SUCCESS: COUNT });
    // the surviving executor holds every partition, none of them given up on a fence
    expect(heldPartitions(executors[1].output())).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);

    const log = await cluster.openLog();
    try {
      const histories = await readHistories(log);
      for (const [i, id] of ids.entries()) {
        const check = checkHistory(histories.get(id) ?? []);
        expect(check.problems, `history of ${id}`).toEqual([]);
        const runs = Object.values(check.state.taskRuns);
        expect(runs.map((t) => [t.taskId, t.state.current])).toEqual([["first", "SUCCESS"], ["nap", "SUCCESS"], ["last", "SUCCESS"]]);
        expect(runs[2].outputs).toEqual({ value: `${COUNT + i} done` });
      }
    } finally {
      await log.close();
    }
  });
});
