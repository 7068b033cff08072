/**
 * The execution-requests processor on the memory log with the real executor shell: JSON and Avro
 * (through a real registry) requests each create exactly one execution; invalid requests become
 * dead letters with the reason and a code, and the consumer keeps going.
 */
import { SchemaRegistry, SchemaType } from "@kafkajs/confluent-schema-registry";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { requestExecutionIdFor } from "./helpers.js";
import { MemoryLog } from "../../../topology/memory/memory-log.js";
import { DEAD_LETTER_HEADERS } from "../../../topology/dead-letter.js";
import { ensureSchemaRegistry } from "../../harness/schema-registry.js";
import { REQUESTS, deadLetters, startRequestSide } from "./fixture.js";

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

let registryUrl: string;
beforeAll(async () => {
  registryUrl = await ensureSchemaRegistry();
}, 600_000);

describe("execution requests", () => {
  it("creates one execution per request, idempotent by correlation id or record position", async () => {
    const log = new MemoryLog();
    stops.push(() => log.close());
    const side = await startRequestSide(log);
    stops.push(() => side.stop());

    const request = { namespace: "company.team", flowId: "greet", inputs: { name: "ada", times: "3" }, labels: { team: "data" }, correlationId: "order-1" };
    const appended = await log.append([
      { topic: REQUESTS, key: "order-1", value: json(request) },
      // the producer retried: same correlation id, same execution
      { topic: REQUESTS, key: "order-1", value: json(request) },
      { topic: REQUESTS, key: "k", value: json({ tenant: "acme", namespace: "company.team", flowId: "greet", inputs: { name: "bob" }, labels: [{ key: "src", value: "kafka" }] }) },
    ]);
    await side.handled(3);
    const byCorrelation = requestExecutionIdFor({ namespace: "company.team", flowId: "greet", correlationId: "order-1" }, "main", appended[0]);
    const byPosition = requestExecutionIdFor({ namespace: "company.team", flowId: "greet" }, "acme", appended[2]);
    expect(await side.observer.terminal(byCorrelation)).toBe("SUCCESS");
    expect(await side.observer.terminal(byPosition)).toBe("SUCCESS");
    expect(side.observer.of(byCorrelation, "ExecutionCreated")).toHaveLength(1);
    const first = side.observer.of(byCorrelation, "ExecutionCreated")[0].execution;
    expect(first.inputs).toEqual({ name: "ada", times: 3 });
    expect(first.labels).toEqual([{ key: "team", value: "data" }]);
    expect(first.trigger).toMatchObject({ topic: REQUESTS, correlationId: "order-1" });
    expect(side.observer.of(byCorrelation, "TaskRunOutputs").map((e) => e.outputs.value)).toEqual(["hello ada x3"]);
    const second = side.observer.of(byPosition, "ExecutionCreated")[0].execution;
    expect(second.tenantId).toBe("acme");
    expect(second.labels).toEqual([{ key: "src", value: "kafka" }]);
    // the created executions are exactly these two
    const createdIds = [...side.observer.events.keys()].filter((id) => side.observer.of(id, "ExecutionCreated").length > 0);
    expect(createdIds.sort()).toEqual([byCorrelation, byPosition].sort());
    expect(await deadLetters(log)).toEqual([]);
  });

  it("sends invalid requests to the dead-letter topic with the reason and keeps consuming", async () => {
    const log = new MemoryLog();
    stops.push(() => log.close());
    const side = await startRequestSide(log);
    stops.push(() => side.stop());

    await log.append([
      { topic: REQUESTS, key: "a", value: json({ namespace: "company.team", flowId: "nope", inputs: {} }) },
      { topic: REQUESTS, key: "a", value: json({ namespace: "company.team", flowId: "greet", inputs: { times: "x" } }) },
      { topic: REQUESTS, key: "a", value: new Uint8Array([0xff, 0xfe, 0x01]) },
      { topic: REQUESTS, key: "a", value: new TextEncoder().encode("{not json") },
      { topic: REQUESTS, key: "a", value: json({ namespace: "company.team" }) },
      { topic: REQUESTS, key: "a", value: new Uint8Array([0, 0, 0, 0, 7, 1, 2]), headers: { origin: "test" } },
      { topic: REQUESTS, key: "a", value: json({ namespace: "company.team", flowId: "greet", inputs: { name: "after" }, correlationId: "ok" }) },
    ]);
    await side.handled(7);
    const dls = await deadLetters(log);
    expect(dls.map((d) => d.code)).toEqual(["FLOW_NOT_FOUND", "INPUTS_INVALID", "REQUEST_UNDECODABLE", "REQUEST_UNDECODABLE", "REQUEST_INVALID", "REQUEST_UNDECODABLE"]);
    expect(dls[0].reason).toMatch(/company\.team\.nope is not deployed in tenant main/);
    expect(dls[1].reason).toMatch(/name/);
    expect(dls[1].reason).toMatch(/times/);
    expect(dls[3].reason).toMatch(/not valid JSON/);
    expect(dls[4].reason).toMatch(/\$\.flowId/);
    expect(dls[5].reason).toMatch(/no schema registry is configured/);
    // the dead letter keeps the bytes, the producer's headers and where the record came from
    expect([...dls[5].record.value]).toEqual([0, 0, 0, 0, 7, 1, 2]);
    expect(dls[5].record.headers).toMatchObject({ origin: "test", [DEAD_LETTER_HEADERS.topic]: REQUESTS, [DEAD_LETTER_HEADERS.offset]: "5" });
    // the valid request after them still ran
    expect(side.created).toHaveLength(1);
    expect(await side.observer.terminal(side.created[0])).toBe("SUCCESS");
  });

  it("reads Avro requests through the schema registry", async () => {
    const log = new MemoryLog();
    stops.push(() => log.close());
    const topic = `t-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}.execution-requests`;
    const side = await startRequestSide(log, { schemaRegistryUrl: registryUrl, requestsTopic: topic });
    stops.push(() => side.stop());

    // an outside producer: looks the schema up under <topic>-value, as Kafka's serializers do
    const producer = new SchemaRegistry({ host: registryUrl });
    const id = await producer.getLatestSchemaId(`${topic}-value`);
    const avro = await producer.encode(id, { tenant: null, namespace: "company.team", flowId: "greet", inputs: { name: "avro", times: "2" }, labels: { via: "avro" }, correlationId: "avro-1" });
    // a producer with its own (older, smaller) schema version, registered by itself: read by resolution
    const { id: ownId } = await producer.register({
      type: SchemaType.AVRO,
      schema: JSON.stringify({ type: "record", name: "ExecutionRequest", namespace: "io.lanner.requests", fields: [{ name: "namespace", type: "string" }, { name: "flowId", type: "string" }, { name: "inputs", type: { type: "map", values: "string" } }] }),
    }, { subject: `${topic}-other-value` });
    const own = await producer.encode(ownId, { namespace: "company.team", flowId: "greet", inputs: { name: "own" } });
    await log.append([{ topic, key: "x", value: avro }, { topic, key: "y", value: own }]);
    await side.handled(2);
    expect(await deadLetters(log)).toEqual([]);
    expect(side.created).toHaveLength(2);
    const [a, b] = side.created;
    expect(await side.observer.terminal(a)).toBe("SUCCESS");
    expect(await side.observer.terminal(b)).toBe("SUCCESS");
    expect(side.observer.of(a, "ExecutionCreated")[0].execution).toMatchObject({ inputs: { name: "avro", times: 2 }, labels: [{ key: "via", value: "avro" }] });
    expect(side.observer.of(b, "TaskRunOutputs").map((e) => e.outputs.value)).toEqual(["hello own x1"]);
  });
});
