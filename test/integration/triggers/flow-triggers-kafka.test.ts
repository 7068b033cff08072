/**
 * Flow triggers on the Kafka log with two executor instances (each an executor and a flow-trigger
 * processor on its own KafkaLog, so two group members per role): every upstream ending creates
 * exactly one downstream execution, also when one instance dies as a `kill -9` looks to the broker
 * (every connection cut, no LeaveGroup) and the other takes its partitions over.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../../common/logger.js";
import { Executor } from "../../../processors/executor/shell/executor.js";
import { StaticFlowResolver } from "../../../processors/executor/shell/flow-resolver.js";
import { FlowTriggerProcessor } from "../../../processors/triggers/flow-trigger-processor.js";
import { FlowTriggerRouter } from "../../../processors/triggers/flow-trigger-router.js";
import { triggerTopicSpecs, triggerTopics } from "../../../processors/triggers/trigger-topics.js";
import { parseFlowOrThrow } from "../../../schemas/flow-parser.js";
import { KafkaLog } from "../../../topology/kafka/kafka-log.js";
import type { Log } from "../../../topology/log.js";
import { topicCatalogue } from "../../../topology/topics.js";
import { ensureKafka, randomPrefix, severableSockets } from "../../harness/kafka.js";
import { Observer, ScriptedWorker, codec, send } from "../executor/scripted.js";

const UPSTREAM = parseFlowOrThrow(`
id: a
namespace: company.team
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: "from-a"
`);

const DOWNSTREAM = parseFlowOrThrow(`
id: downstream
namespace: company.team
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.executionId }}"
triggers:
  - id: after_a
    type: io.kestra.plugin.core.trigger.Flow
    states: [SUCCESS]
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: company.team
        flowId: a
`);

const T = triggerTopics();
const dirs: string[] = [];
const cleanups: Array<() => Promise<void> | void> = [];
// The first start may fetch Kafka with Maven: give it its own budget, outside the test's.
beforeAll(() => ensureKafka().then(() => undefined), 600_000);
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch {
      // a member whose connections were cut cannot leave its group or close cleanly
    }
  }
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function openMember(brokers: string, prefix: string): Promise<{ log: KafkaLog; sever(): void }> {
  const dir = mkdtempSync(join(tmpdir(), "lanner-ftrig-kafka-"));
  dirs.push(dir);
  const sockets = severableSockets();
  const log = await KafkaLog.open({
    brokers: [brokers], topicPrefix: prefix, dataDir: dir,
    sessionTimeoutMs: 3_000, heartbeatIntervalMs: 300, socketFactory: sockets.socketFactory,
  });
  cleanups.push(() => log.close());
  await log.ensureTopics([...topicCatalogue({ executionPartitions: 4 }).specs(), { name: "worker-control", partitions: 1 }, ...triggerTopicSpecs(4, undefined)]);
  return { log, sever: sockets.sever };
}

/** An executor that routes endings to flow triggers, and the flow-trigger processor beside it. */
async function startExecutorSide(log: Log, flows: StaticFlowResolver, name: string): Promise<{ executor: Executor; processor: FlowTriggerProcessor }> {
  const executor = new Executor({
    log, logger: silentLogger(), codec, flows, memberId: `executor-${name}`,
    flowTriggers: new FlowTriggerRouter(flows, codec, T.flowTriggerEvents),
  });
  const processor = new FlowTriggerProcessor({
    log, logger: silentLogger(), codec, flows, memberId: `flow-triggers-${name}`,
    topics: { events: T.flowTriggerEvents, commands: "execution-commands", deadLetters: "dead-letters" },
  });
  await executor.start();
  await processor.start();
  cleanups.push(() => processor.stop(), () => executor.stop());
  return { executor, processor };
}

/** Resolves once `cond()` holds; rejects after `tries` checks 10 ms apart (group rebalances are asynchronous). */
async function until(cond: () => boolean, what: string, tries = 3_000): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting until ${what}`);
}

/** Ids of the executions of `flowId` the observer saw created (with how many times each was created). */
function created(observer: Observer, flowId: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [id, events] of observer.events) {
    for (const e of events) if (e.type === "ExecutionCreated" && e.execution.flowId === flowId) out.set(id, (out.get(id) ?? 0) + 1);
  }
  return out;
}

describe("flow triggers on Kafka, two executor instances", () => {
  it("creates exactly one downstream execution per upstream ending while partitions move", async () => {
    const brokers = await ensureKafka();
    const prefix = randomPrefix("ftrig");
    const flows = new StaticFlowResolver([UPSTREAM, DOWNSTREAM]);
    const memberA = await openMember(brokers, prefix);
    const memberB = await openMember(brokers, prefix);
    const a = await startExecutorSide(memberA.log, flows, "a");
    const b = await startExecutorSide(memberB.log, flows, "b");
    // the worker and the observer live on B, the instance that survives
    const worker = new ScriptedWorker(memberB.log, "w1");
    await worker.start();
    cleanups.push(() => worker.stop());
    const observer = new Observer(memberB.log);
    await observer.start();
    cleanups.push(() => observer.stop());

    // both instances hold partitions of both roles before any upstream runs, so the endings are split between them
    await until(
      () => [a.executor, b.executor, a.processor, b.processor].every((r) => r.ownedPartitions().length === 2),
      "each instance owns two executor and two flow-trigger partitions",
    );

    const ids = Array.from({ length: 16 }, (_, i) => `a-${i}`);
    for (const id of ids.slice(0, 8)) await send(memberA.log, { type: "CreateExecution", executionId: id, flow: UPSTREAM, inputs: {} });
    await observer.until(() => created(observer, "downstream").size >= 2);

    // instance A dies without leaving; B takes over its executor and flow-trigger partitions
    memberA.sever();
    for (const id of ids.slice(8)) await send(memberB.log, { type: "CreateExecution", executionId: id, flow: UPSTREAM, inputs: {} });
    await observer.until(() => created(observer, "downstream").size === ids.length);
    const downstream = created(observer, "downstream");
    for (const id of downstream.keys()) expect(await observer.terminal(id)).toBe("SUCCESS");
    expect([...downstream.values()].every((n) => n === 1)).toBe(true);
    const by = [...downstream.keys()].map((id) => String(observer.of(id, "ExecutionCreated")[0].execution.trigger?.executionId)).sort();
    expect(by).toEqual([...ids].sort());
    expect(b.processor.ownedPartitions()).toEqual([0, 1, 2, 3]);
    expect(b.executor.ownedPartitions()).toEqual([0, 1, 2, 3]);
  }, 60_000);
});
