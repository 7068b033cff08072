import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../common/logger.js";
import { parseFlowOrThrow } from "../../../schemas/flow-parser.js";
import type { Flow } from "../../../schemas/flow-types.js";
import { Executor } from "../../../processors/executor/shell/executor.js";
import { StaticFlowResolver } from "../../../processors/executor/shell/flow-resolver.js";
import { FlowTriggerProcessor } from "../../../processors/triggers/flow-trigger-processor.js";
import { FlowTriggerRouter } from "../../../processors/triggers/flow-trigger-router.js";
import { triggerTopicSpecs, triggerTopics } from "../../../processors/triggers/trigger-topics.js";
import { openLog } from "../../../topology/factory.js";
import type { Log } from "../../../topology/log.js";
import { topicCatalogue } from "../../../topology/topics.js";
import { createTestSchema } from "../../harness/postgres.js";
import { Observer, ScriptedWorker, codec, send, tempDir } from "../executor/scripted.js";

const upstream = (id: string) => parseFlowOrThrow(`
id: ${id}
namespace: company.team
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: "from-${id}"
outputs:
  - id: value
    type: STRING
    value: "{{ outputs.r.value }}"
`);

const DOWNSTREAM = parseFlowOrThrow(`
id: downstream
namespace: company.team
inputs:
  - id: upstream
    type: STRING
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.upstream }} {{ trigger.flowId }} {{ trigger.state }}"
triggers:
  - id: after_a
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      upstream: "{{ trigger.outputs.value }}"
    preconditions:
      id: a_done
      flows:
        - namespace: company.team
          flowId: a
  - id: after_a_and_b
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      upstream: "{{ trigger.executionId }}"
    preconditions:
      id: both
      flows:
        - namespace: company.team
          flowId: a
        - namespace: company.team
          flowId: b
      timeWindow:
        type: SLIDING_WINDOW
        window: PT1H
`);

const T = triggerTopics();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch {
      // a log closed abruptly by the test rejects its own close again
    }
  }
});

async function prepare(log: Log): Promise<Log> {
  await log.ensureTopics([...topicCatalogue({ executionPartitions: 4 }).specs(), { name: "worker-control", partitions: 1 }, ...triggerTopicSpecs(4, undefined)]);
  return log;
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

/** Ids of the executions of `flowId` the observer saw created (with how many times each was created). */
function created(observer: Observer, flowId: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [id, events] of observer.events) {
    for (const e of events) if (e.type === "ExecutionCreated" && e.execution.flowId === flowId) out.set(id, (out.get(id) ?? 0) + 1);
  }
  return out;
}

function createdEvent(observer: Observer, id: string) {
  return observer.of(id, "ExecutionCreated")[0];
}

describe("flow triggers on the embedded log", () => {
  it("starts the downstream flow when upstream executions end, with trigger variables and outputs", async () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.cleanup());
    const log = await prepare(await openLog({ backend: "embedded", dataDir: tmp.dir, durability: "os" }));
    cleanups.push(() => log.close());
    const flows = new StaticFlowResolver([upstream("a"), upstream("b"), DOWNSTREAM]);
    await startExecutorSide(log, flows, "one");
    const worker = new ScriptedWorker(log, "w1");
    await worker.start();
    cleanups.push(() => worker.stop());
    const observer = new Observer(log);
    await observer.start();
    cleanups.push(() => observer.stop());

    await send(log, { type: "CreateExecution", executionId: "a-1", flow: upstream("a"), inputs: {} });
    expect(await observer.terminal("a-1")).toBe("SUCCESS");
    await observer.until(() => created(observer, "downstream").size === 1);
    const [first] = [...created(observer, "downstream").keys()];
    expect(await observer.terminal(first)).toBe("SUCCESS");
    const c1 = createdEvent(observer, first);
    expect(c1.execution.inputs).toEqual({ upstream: "from-a" });
    expect(c1.execution.trigger).toMatchObject({ executionId: "a-1", namespace: "company.team", flowId: "a", state: "SUCCESS", outputs: { value: "from-a" } });
    expect(observer.of(first, "TaskRunOutputs").map((e) => e.outputs.value)).toEqual(["from-a a SUCCESS"]);

    // b completes the pair: the sliding-window trigger fires, with b as the trigger
    await send(log, { type: "CreateExecution", executionId: "b-1", flow: upstream("b"), inputs: {} });
    await observer.until(() => created(observer, "downstream").size === 2);
    const second = [...created(observer, "downstream").keys()].find((id) => id !== first) ?? "";
    expect(createdEvent(observer, second).execution.inputs).toEqual({ upstream: "b-1" });
    expect(await observer.terminal(second)).toBe("SUCCESS");

    // a b alone again does not fire the pair (reset on success); an a fires both triggers
    await send(log, { type: "CreateExecution", executionId: "b-2", flow: upstream("b"), inputs: {} });
    expect(await observer.terminal("b-2")).toBe("SUCCESS");
    await send(log, { type: "CreateExecution", executionId: "a-2", flow: upstream("a"), inputs: {} });
    await observer.until(() => created(observer, "downstream").size === 4);
    const triggeredBy = [...created(observer, "downstream").keys()].map((id) => createdEvent(observer, id).execution.trigger?.executionId).sort();
    expect(triggeredBy).toEqual(["a-1", "a-2", "a-2", "b-1"]);
    for (const n of created(observer, "downstream").values()) expect(n).toBe(1);
  }, 60_000);
});

describe("flow triggers on Postgres, two executor instances", () => {
  it("creates exactly one downstream execution per upstream ending while partitions move", async () => {
    const schema = await createTestSchema("ftrig");
    cleanups.push(() => schema.drop());
    const open = async (): Promise<Log> => {
      const log = await openLog({ backend: "postgres", postgresUrl: schema.url, schema: schema.schema, leaseMs: 1_500, heartbeatMs: 300 });
      cleanups.push(() => log.close());
      return prepare(log);
    };
    const only: Flow = parseFlowOrThrow(`
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
    const flows = new StaticFlowResolver([upstream("a"), only]);
    const logA = await open();
    const logB = await open();
    const a = await startExecutorSide(logA, flows, "a");
    const b = await startExecutorSide(logB, flows, "b");
    // the worker and the observer share B's connections (the test server's connections are shared by every run)
    const worker = new ScriptedWorker(logB, "w1");
    await worker.start();
    cleanups.push(() => worker.stop());
    const observer = new Observer(logB);
    await observer.start();
    cleanups.push(() => observer.stop());

    const ids = Array.from({ length: 16 }, (_, i) => `a-${i}`);
    for (const id of ids.slice(0, 8)) await send(logA, { type: "CreateExecution", executionId: id, flow: upstream("a"), inputs: {} });
    await observer.until(() => created(observer, "downstream").size >= 2);
    expect(a.processor.ownedPartitions().length + b.processor.ownedPartitions().length).toBe(4);

    // instance A dies without leaving; B takes over its executor and flow-trigger partitions
    await logA.close();
    for (const id of ids.slice(8)) await send(logB, { type: "CreateExecution", executionId: id, flow: upstream("a"), inputs: {} });
    await observer.until(() => created(observer, "downstream").size === ids.length);
    const downstream = created(observer, "downstream");
    for (const id of downstream.keys()) expect(await observer.terminal(id)).toBe("SUCCESS");
    expect([...downstream.values()].every((n) => n === 1)).toBe(true);
    const by = [...downstream.keys()].map((id) => String(createdEvent(observer, id).execution.trigger?.executionId)).sort();
    expect(by).toEqual([...ids].sort());
    expect(b.processor.ownedPartitions()).toEqual([0, 1, 2, 3]);
  }, 90_000);
});
