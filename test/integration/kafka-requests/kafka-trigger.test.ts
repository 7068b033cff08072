/**
 * The realtime Kafka trigger against a real broker (and a real registry for AVRO): an outside
 * producer writes records on a plain Kafka topic; each becomes one execution whose inputs come
 * from `trigger.value`, `trigger.key`, `trigger.headers`, `trigger.offset`… Lanner's own log here
 * is the memory log: the trigger reads Kafka whatever backend Lanner runs on.
 */
import { SchemaRegistry, SchemaType } from "@kafkajs/confluent-schema-registry";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../../common/logger.js";
import { StaticFlowResolver } from "../../../processors/executor/shell/flow-resolver.js";
import { KafkaTriggerRunner } from "../../../processors/triggers/kafka-trigger.js";
import { parseFlow, parseFlowOrThrow } from "../../../schemas/flow-parser.js";
import { MemoryLog } from "../../../topology/memory/memory-log.js";
import { topicCatalogue } from "../../../topology/topics.js";
import { ensureKafka, randomPrefix } from "../../harness/kafka.js";
import { ensureSchemaRegistry } from "../../harness/schema-registry.js";
import { Observer, ScriptedWorker, codec, startExecutor } from "../executor/scripted.js";

const prefix = randomPrefix("ktrigger");
const stops: Array<() => Promise<void>> = [];
let brokers: string;
let registryUrl: string;

function flowYaml(topic: string, valueDeserializer: string, extra = ""): string {
  return `
id: on-${valueDeserializer.toLowerCase()}
namespace: company.team
inputs:
  - id: name
    type: STRING
  - id: meta
    type: STRING
tasks:
  - id: hello
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.name }} {{ inputs.meta }}"
triggers:
  - id: records
    type: io.kestra.plugin.kafka.RealtimeTrigger
    topic: ${topic}
    groupId: ${prefix}group-${valueDeserializer}
    properties:
      bootstrap.servers: ${brokers}
      auto.offset.reset: earliest
    keyDeserializer: STRING
    valueDeserializer: ${valueDeserializer}
${extra}
    inputs:
      name: "{{ trigger.value.name }}"
      meta: "{{ trigger.key }}/{{ trigger.headers.source }}/{{ trigger.topic }}/{{ trigger.partition }}/{{ trigger.offset }}"
`;
}

beforeAll(async () => {
  [brokers, registryUrl] = await Promise.all([ensureKafka(), ensureSchemaRegistry()]);
}, 600_000);

afterAll(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

describe("realtime Kafka trigger", () => {
  it("refuses a trigger without bootstrap.servers or an AVRO one without a registry", () => {
    const messages = (yaml: string) => {
      const r = parseFlow(yaml);
      return r.ok ? "" : r.errors.map((i) => `${i.line}:${i.column} ${i.message}`).join("\n");
    };
    expect(messages(flowYaml("x", "JSON").replace(/bootstrap\.servers: .*/, "client.id: x"))).toMatch(/^1[0-9]:\d+ .*bootstrap\.servers/m);
    expect(messages(flowYaml("x", "AVRO"))).toMatch(/schema\.registry\.url/);
    expect(messages(flowYaml("x", "XML"))).toMatch(/expected a value deserializer \(STRING, JSON, AVRO\), got .*XML/);
    expect(messages(flowYaml("x", "JSON"))).toBe("");
  });

  it("starts one execution per record with trigger.value, key, headers, topic, partition and offset (JSON and AVRO)", async () => {
    const jsonTopic = `${prefix}people-json`;
    const avroTopic = `${prefix}people-avro`;
    const kafka = new Kafka({ clientId: "test-producer", brokers: [brokers], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: jsonTopic, numPartitions: 1 }, { topic: avroTopic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();

    const log = new MemoryLog();
    stops.push(() => log.close());
    await log.ensureTopics(topicCatalogue({ executionPartitions: 2 }).specs());
    const jsonFlow = { ...parseFlowOrThrow(flowYaml(jsonTopic, "JSON")), tenantId: "main", revision: 1 };
    const avroFlow = { ...parseFlowOrThrow(flowYaml(avroTopic, "AVRO", `    serdeProperties:\n      schema.registry.url: ${registryUrl}`)), tenantId: "main", revision: 1 };
    const flows = new StaticFlowResolver([jsonFlow, avroFlow]);
    const executor = startExecutor(log, flows);
    await executor.start();
    stops.push(() => executor.stop());
    const worker = new ScriptedWorker(log, "w1");
    await worker.start();
    stops.push(() => worker.stop());
    const observer = new Observer(log);
    await observer.start();
    stops.push(() => observer.stop());
    const runner = new KafkaTriggerRunner({ log, logger: silentLogger(), codec, flows, topics: { commands: "execution-commands" }, refreshMs: 60_000 });
    const fired: string[] = [];
    runner.onExecution((id) => fired.push(id));
    await runner.start();
    stops.push(() => runner.stop());
    expect(runner.active()).toEqual(["main/company.team/on-avro/records", "main/company.team/on-json/records"]);

    const registry = new SchemaRegistry({ host: registryUrl });
    const { id } = await registry.register({
      type: SchemaType.AVRO,
      schema: JSON.stringify({ type: "record", name: "Person", namespace: "test", fields: [{ name: "name", type: "string" }] }),
    }, { subject: `${avroTopic}-value` });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: jsonTopic, messages: [
      { key: "k1", value: JSON.stringify({ name: "ada" }), headers: { source: "crm" } },
      { key: "k2", value: JSON.stringify({ name: "bob" }), headers: { source: "web" } },
    ] });
    await producer.send({ topic: avroTopic, messages: [{ key: "k3", value: await registry.encode(id, { name: "cy" }), headers: { source: "erp" } }] });
    await producer.disconnect();

    await observer.until(() => fired.length === 3 && fired.every((f) => {
      const s = observer.state(f);
      return s === "SUCCESS" || s === "FAILED";
    }));
    const outputs = fired.map((f) => observer.of(f, "TaskRunOutputs").map((e) => e.outputs.value)[0]).sort();
    expect(outputs).toEqual([
      `ada k1/crm/${jsonTopic}/0/0`,
      `bob k2/web/${jsonTopic}/0/1`,
      `cy k3/erp/${avroTopic}/0/0`,
    ]);
    for (const f of fired) expect(observer.state(f)).toBe("SUCCESS");
    const trig = observer.of(fired[0], "ExecutionCreated")[0].execution.trigger;
    expect(trig).toMatchObject({ topic: expect.any(String), partition: 0, headers: { source: expect.any(String) } });
  });
});
