import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../common/logger.js";
import { parseFlowOrThrow } from "../../../schemas/flow-parser.js";
import { StaticFlowResolver } from "../../../processors/executor/shell/flow-resolver.js";
import { decodeCommand } from "../../../processors/executor/shell/records.js";
import type { CreateExecutionCommand } from "../../../processors/executor/inputs.js";
import type { PollingResultRecord } from "../../../processors/triggers/polling.js";
import { PollingScheduler } from "../../../processors/triggers/polling-scheduler.js";
import { TriggerWorker } from "../../../processors/triggers/trigger-worker.js";
import { TRIGGER_KIND, triggerTopicSpecs, triggerTopics } from "../../../processors/triggers/trigger-topics.js";
import { openLog } from "../../../topology/factory.js";
import type { Log } from "../../../topology/log.js";
import { topicCatalogue } from "../../../topology/topics.js";
import { codec, tempDir } from "../executor/scripted.js";

const T = triggerTopics();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function pollerFlow(uri: string, extra = "") {
  return parseFlowOrThrow(`
id: poller
namespace: company.team
inputs:
  - id: answer
    type: STRING
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.body.answer }}"
triggers:
  - id: http
    type: io.kestra.plugin.core.http.Trigger
    uri: "${uri}"
    responseCondition: "{{ response.body.ready == true }}"
    interval: PT30S
    inputs:
      answer: "{{ trigger.body.answer }}"
${extra}
`);
}

interface Setup {
  log: Log;
  scheduler: PollingScheduler;
  clock: { now: number };
  /** Resolves once `check` holds for the trigger's state (checked after every committed change). */
  until(check: (s: ReturnType<PollingScheduler["triggerStates"]>[number]) => boolean): Promise<ReturnType<PollingScheduler["triggerStates"]>[number]>;
}

async function setup(flowYaml: ReturnType<typeof pollerFlow>, withWorker: boolean): Promise<Setup> {
  const tmp = tempDir();
  cleanups.push(() => tmp.cleanup());
  const log = await openLog({ backend: "embedded", dataDir: tmp.dir, durability: "os" });
  cleanups.push(() => log.close());
  await log.ensureTopics([...topicCatalogue({ executionPartitions: 2 }).specs(), ...triggerTopicSpecs(2, undefined)]);
  const clock = { now: Date.parse("2025-06-01T12:00:00Z") };
  const scheduler = new PollingScheduler({
    log, logger: silentLogger(), codec, flows: new StaticFlowResolver([flowYaml]), clock: () => clock.now, tickMs: 0, graceMs: 1000,
    topics: { evaluations: T.evaluations, results: T.results, commands: "execution-commands" },
  });
  await scheduler.start();
  cleanups.push(() => scheduler.stop());
  if (withWorker) {
    const worker = new TriggerWorker({ log, logger: silentLogger(), codec, topics: { evaluations: T.evaluations, results: T.results }, workerId: "tw-1" });
    await worker.start();
    cleanups.push(() => worker.stop());
  }
  const until: Setup["until"] = (check) => new Promise((resolve) => {
    const test = () => {
      const s = scheduler.triggerStates()[0];
      if (s && check(s)) {
        off();
        resolve(s);
        return true;
      }
      return false;
    };
    const off = scheduler.onChange(() => void test());
    test();
  });
  return { log, scheduler, clock, until };
}

async function createCommands(log: Log): Promise<CreateExecutionCommand[]> {
  const out: CreateExecutionCommand[] = [];
  for (let p = 0; p < log.partitionsOf("execution-commands"); p++) {
    for await (const rec of log.readPartition("execution-commands", p, 0n)) {
      const c = decodeCommand(codec, rec.value);
      if (c.kind === "execution" && c.input.type === "CreateExecution") out.push(c.input);
    }
  }
  return out;
}

describe("polling triggers", () => {
  it("an HTTP trigger fires when its response condition holds, once per evaluation", async () => {
    let ready = false;
    const { url } = await serve((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ ready, answer: 42 }));
    });
    const { log, scheduler, clock, until } = await setup(pollerFlow(`${url}/status`), true);

    await scheduler.tick();
    const first = await until((s) => s.last?.outcome === "not-met");
    expect(first.lock).toBeUndefined();
    expect(first.health).toBe("IDLE");
    await scheduler.tick(); // not due again before its interval
    expect(scheduler.triggerStates()[0].evaluations).toBe(1);

    ready = true;
    clock.now += 30_000;
    await scheduler.tick();
    const fired = await until((s) => s.last?.outcome === "fired");
    expect(fired.fired).toBe(1);
    const creates = await createCommands(log);
    expect(creates.map((c) => c.executionId)).toEqual([fired.last?.executionId]);
    expect(creates[0].flow.id).toBe("poller");
    expect(creates[0].inputs).toEqual({ answer: "42" });
    expect(creates[0].trigger).toMatchObject({ code: 200, body: { ready: true, answer: 42 }, uri: `${url}/status` });
  }, 30_000);

  it("a hung poll is cancelled at its time-box, reported, and leaves the trigger unlocked", async () => {
    let closed!: () => void;
    const requestClosed = new Promise<void>((resolve) => (closed = resolve));
    const { url } = await serve((req) => {
      req.on("close", () => closed()); // never answers
    });
    const { scheduler, clock, until } = await setup(pollerFlow(`${url}/hang`, "    timeout: PT0.3S"), true);
    await scheduler.tick();
    expect(scheduler.triggerStates()[0].health).toBe("EVALUATING");
    const s = await until((st) => st.last?.outcome === "timed-out");
    expect(s.lock).toBeUndefined();
    expect(s.last?.error).toContain("time-box");
    await requestClosed; // the request was aborted, not left hanging
    // the next evaluation goes out at the next interval
    clock.now += 30_000;
    await scheduler.tick();
    expect(scheduler.triggerStates()[0].evaluations).toBe(2);
  }, 30_000);

  it("the watchdog shows a lock held past its time-box and unlocks it; an overdue trigger is shown and dispatched", async () => {
    const { log, scheduler, clock, until } = await setup(pollerFlow("http://127.0.0.1:9/never", "    timeout: PT5S"), false);
    await scheduler.tick();
    const locked = scheduler.triggerStates()[0];
    expect(locked.health).toBe("EVALUATING");
    const firstEvaluation = locked.lock?.evaluationId ?? "";

    clock.now += 5_001; // past the time-box: shown as such
    expect(scheduler.triggerStates()[0].health).toBe("LOCKED_TOO_LONG");
    await scheduler.tick(); // still inside the grace: kept
    expect(scheduler.triggerStates()[0].lock?.evaluationId).toBe(firstEvaluation);

    clock.now += 1_000;
    await scheduler.tick();
    const unlocked = scheduler.triggerStates()[0];
    expect(unlocked.watchdog?.count).toBe(1);
    expect(unlocked.last).toMatchObject({ evaluationId: firstEvaluation, outcome: "lock-expired" });
    // unlocked and dispatched again at once: one evaluation in flight, never two
    expect(unlocked.lock?.evaluationId).not.toBe(firstEvaluation);
    expect(unlocked.evaluations).toBe(2);

    // a late result of the abandoned evaluation does not unlock the new one
    const late: PollingResultRecord = { evaluationId: firstEvaluation, triggerKey: unlocked.triggerKey, outcome: "fired", variables: {}, workerId: "slow", durationMs: 9_000 };
    await log.append([{ topic: T.results, key: unlocked.triggerKey, value: codec.encode(TRIGGER_KIND.result, late) }]);
    const secondEvaluation = unlocked.lock?.evaluationId ?? "";
    const answered: PollingResultRecord = { evaluationId: secondEvaluation, triggerKey: unlocked.triggerKey, outcome: "not-met", workerId: "w", durationMs: 1 };
    await log.append([{ topic: T.results, key: unlocked.triggerKey, value: codec.encode(TRIGGER_KIND.result, answered) }]);
    const after = await until((s) => s.last?.evaluationId === secondEvaluation);
    expect(after.fired).toBe(0);
    expect(after.lock).toBeUndefined();
    expect(await createCommands(log)).toEqual([]);

    // nobody ticked for three intervals: overdue, then dispatched with the lateness recorded
    clock.now += 90_000;
    expect(scheduler.triggerStates()[0].health).toBe("OVERDUE");
    await scheduler.tick();
    const overdue = scheduler.triggerStates()[0];
    expect(overdue.overdue?.count).toBe(1);
    expect(overdue.health).toBe("EVALUATING");
  }, 30_000);
});
