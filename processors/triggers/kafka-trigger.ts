/**
 * The realtime Kafka trigger (`io.kestra.plugin.kafka.RealtimeTrigger`): for every deployed,
 * enabled flow that declares one, a Kafka consumer (kafkajs) in the trigger's `groupId` reads its
 * topics from the trigger's own brokers, and each record becomes one execution whose expressions
 * see `trigger.key`, `trigger.value`, `trigger.headers`, `trigger.topic`, `trigger.partition`,
 * `trigger.offset` and `trigger.timestamp`.
 *
 * Delivery: the `CreateExecution` command is appended to the log before the record's offset is
 * committed (kafkajs commits after the handler resolves), and the execution id derives from
 * flow, trigger, topic, partition and offset — so a record delivered again after a crash creates
 * nothing new (the executor ignores a CreateExecution of an existing id). Several instances with
 * the same group share the topic's partitions, as members of a Kafka consumer group do.
 *
 * The set of consumers follows the deployed flows: every `refreshMs` the flow catalogue is read
 * and consumers are started for new triggers and stopped for removed, disabled or changed ones.
 */
import { SchemaRegistry } from "@kafkajs/confluent-schema-registry";
import { Kafka, logLevel, type Consumer, type KafkaMessage } from "kafkajs";
import { describeError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { Flow, Trigger } from "../../schemas/flow-types.js";
import { TRIGGER_TYPES } from "../../schemas/trigger-schema.js";
import type { Log } from "../../topology/log.js";
import { deterministicId } from "../executor/ids.js";
import type { FlowCatalog } from "../executor/shell/flow-resolver.js";
import { encodeCommand, type RecordCodec } from "../executor/shell/records.js";
import { triggeredExecution } from "./triggered-execution.js";

type Deserializer = "STRING" | "JSON" | "AVRO";

/** The fields of a Kafka realtime trigger the runner reads (validated by the flow parser). */
interface KafkaTriggerSpec {
  id: string;
  topic: string | string[];
  groupId: string;
  properties: Record<string, string>;
  keyDeserializer: Deserializer;
  valueDeserializer: Deserializer;
  serdeProperties?: Record<string, string>;
  disabled?: boolean;
}

export interface KafkaTriggerRunnerOptions {
  log: Log;
  logger: Logger;
  codec: RecordCodec;
  flows: FlowCatalog;
  topics: { commands: string };
  /** How often the deployed flows are checked for added or removed triggers (ms); default 2 s. */
  refreshMs?: number;
  clock?: () => number;
}

/** True for a trigger of the realtime Kafka type. */
export function isKafkaRealtimeTrigger(t: Trigger): boolean {
  return (TRIGGER_TYPES.kafkaRealtime as readonly string[]).includes(t.type);
}

/** The execution id of the record at topic/partition/offset for this flow's trigger. */
export function kafkaTriggerExecutionId(flow: Flow, triggerId: string, topic: string, partition: number, offset: string): string {
  return deterministicId(`kafka-trigger/${flow.tenantId ?? "main"}/${flow.namespace}/${flow.id}/${triggerId}/${topic}/${partition}/${offset}`);
}

interface Running {
  signature: string;
  consumer: Consumer;
}

/** Plain JSON-able data from what a deserializer produced (avsc records are class instances, longs may be bigints). */
function plain(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x))) as unknown;
}

export class KafkaTriggerRunner {
  private readonly running = new Map<string, Running>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly logger: Logger;
  private readonly clock: () => number;
  private readonly listeners = new Set<(executionId: string) => void>();

  constructor(private readonly opts: KafkaTriggerRunnerOptions) {
    this.logger = opts.logger.child({ role: "kafka-triggers" });
    this.clock = opts.clock ?? Date.now;
  }

  /** Starts consumers for the deployed triggers, then follows deployments. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => {
      this.refreshing = this.refreshing.then(() => this.refresh()).catch((err: unknown) => this.logger.error({ err: describeError(err) }, "Kafka triggers not refreshed"));
    }, this.opts.refreshMs ?? 2_000);
    this.timer.unref();
  }

  /** Stops following deployments and disconnects every consumer (their offsets are committed). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.refreshing.catch(() => undefined);
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(all.map((r) => r.consumer.disconnect().catch(() => undefined)));
  }

  /** Calls `listener` with each execution id appended (tests, inspection). */
  onExecution(listener: (executionId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Keys (`tenant/namespace/flow/trigger`) of the triggers whose consumers run. */
  active(): string[] {
    return [...this.running.keys()].sort();
  }

  private async refresh(): Promise<void> {
    if (this.stopped) return;
    const { flows } = await this.opts.flows.latestFlows();
    const wanted = new Map<string, { flow: Flow; trigger: Trigger; signature: string }>();
    for (const flow of flows) {
      if (flow.disabled) continue;
      for (const trigger of flow.triggers ?? []) {
        if (!isKafkaRealtimeTrigger(trigger) || trigger.disabled === true) continue;
        const key = `${flow.tenantId ?? "main"}/${flow.namespace}/${flow.id}/${trigger.id}`;
        wanted.set(key, { flow, trigger, signature: `${flow.revision ?? 1}:${JSON.stringify(trigger)}` });
      }
    }
    for (const [key, r] of [...this.running]) {
      if (wanted.get(key)?.signature === r.signature) continue;
      this.running.delete(key);
      await r.consumer.disconnect().catch((err: unknown) => this.logger.warn({ trigger: key, err: describeError(err) }, "Kafka trigger consumer did not disconnect cleanly"));
    }
    for (const [key, w] of wanted) {
      if (this.running.has(key) || this.stopped) continue;
      try {
        const consumer = await this.startConsumer(w.flow, w.trigger);
        this.running.set(key, { signature: w.signature, consumer });
      } catch (err) {
        // tried again at the next refresh
        this.logger.error({ trigger: key, err: describeError(err) }, "Kafka trigger consumer could not start");
      }
    }
  }

  private async startConsumer(flow: Flow, trigger: Trigger): Promise<Consumer> {
    const spec = trigger as unknown as KafkaTriggerSpec;
    const brokers = spec.properties["bootstrap.servers"].split(",").map((s) => s.trim()).filter((s) => s !== "");
    const kafka = new Kafka({ clientId: `lanner-trigger-${flow.id}-${spec.id}`, brokers, logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: spec.groupId });
    const registryUrl = spec.serdeProperties?.["schema.registry.url"];
    const registry = registryUrl === undefined ? undefined : new SchemaRegistry({ host: registryUrl.replace(/\/+$/, "") });
    const deserialize = async (bytes: Buffer | null, how: Deserializer): Promise<unknown> => {
      if (bytes === null) return null;
      if (how === "STRING") return bytes.toString("utf8");
      if (how === "JSON") return JSON.parse(bytes.toString("utf8")) as unknown;
      if (registry === undefined) throw new Error("AVRO needs serdeProperties.schema.registry.url");
      return plain(await registry.decode(bytes));
    };
    await consumer.connect();
    try {
      const topics = Array.isArray(spec.topic) ? spec.topic : [spec.topic];
      await consumer.subscribe({ topics, fromBeginning: spec.properties["auto.offset.reset"] === "earliest" });
      await consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          await this.onMessage(flow, trigger, spec, topic, partition, message, deserialize);
        },
      });
    } catch (err) {
      await consumer.disconnect().catch(() => undefined);
      throw err;
    }
    return consumer;
  }

  private async onMessage(
    flow: Flow, trigger: Trigger, spec: KafkaTriggerSpec, topic: string, partition: number, message: KafkaMessage,
    deserialize: (bytes: Buffer | null, how: Deserializer) => Promise<unknown>,
  ): Promise<void> {
    const where = { flow: `${flow.namespace}.${flow.id}`, trigger: spec.id, topic, partition, offset: message.offset };
    let key: unknown;
    let value: unknown;
    try {
      key = await deserialize(message.key, spec.keyDeserializer);
      value = await deserialize(message.value, spec.valueDeserializer);
    } catch (err) {
      // a record the trigger cannot read starts nothing; it is not retried (it would never read)
      this.logger.error({ ...where, err: describeError(err) }, "Kafka trigger record not deserializable; skipped");
      return;
    }
    const headers: Record<string, string> = {};
    for (const [name, h] of Object.entries(message.headers ?? {})) {
      const one = Array.isArray(h) ? h[h.length - 1] : h;
      if (one !== undefined) headers[name] = Buffer.isBuffer(one) ? one.toString("utf8") : String(one);
    }
    const variables = { key, value, headers, topic, partition, offset: Number(message.offset), timestamp: new Date(Number(message.timestamp)).toISOString() };
    const executionId = kafkaTriggerExecutionId(flow, spec.id, topic, partition, message.offset);
    const built = triggeredExecution(flow, trigger, executionId, variables, this.clock());
    if (!built.ok) {
      this.logger.error({ ...where, execution: executionId }, `Kafka trigger fired but no execution was created: ${built.message}`);
      return;
    }
    // throws (and kafkajs delivers the record again) when the log refuses the append
    await this.opts.log.append([{ topic: this.opts.topics.commands, key: executionId, value: encodeCommand(this.opts.codec, built.command) }]);
    for (const l of this.listeners) l(executionId);
  }
}
