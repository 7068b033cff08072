/**
 * Kafka-native producers: `kcat` (a real outside Kafka client) publishes JSON execution requests
 * on the requests topic of a real broker; the processor, executor and worker run on the Kafka log,
 * and the executions appear and complete — one per request, duplicates by correlation id
 * collapsed — while a malformed request goes to the dead-letter topic.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KafkaLog } from "../../../topology/kafka/kafka-log.js";
import { ensureKafka, randomPrefix } from "../../harness/kafka.js";
import { REQUESTS, deadLetters, startRequestSide } from "./fixture.js";

/** Produces `lines` (`key:value`) with kcat; resolves when kcat has delivered them all. */
function kcat(brokers: string, topic: string, lines: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile("kcat", ["-P", "-b", brokers, "-t", topic, "-K", "\t", "-X", "acks=all"], { timeout: 60_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`kcat failed: ${stderr || err.message}`));
      else resolve();
    });
    child.stdin?.end(lines.map((l) => `${l}\n`).join(""));
  });
}

const prefix = randomPrefix("requests");
const dir = mkdtempSync(join(tmpdir(), "lanner-kcat-"));
let brokers: string;
let log: KafkaLog;
let side: Awaited<ReturnType<typeof startRequestSide>>;

beforeAll(async () => {
  brokers = await ensureKafka();
  log = await KafkaLog.open({ brokers: [brokers], topicPrefix: prefix, dataDir: dir, sessionTimeoutMs: 3_000, heartbeatIntervalMs: 300 });
  side = await startRequestSide(log);
}, 600_000);

afterAll(async () => {
  await side?.stop();
  await log?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("execution requests from kcat on Kafka", () => {
  it("creates and runs one execution per JSON request; a malformed one is dead-lettered", async () => {
    const request = (name: string, correlationId?: string) =>
      JSON.stringify({ namespace: "company.team", flowId: "greet", inputs: { name, times: 2 }, labels: { via: "kcat" }, ...(correlationId ? { correlationId } : {}) });
    await kcat(brokers, `${prefix}${REQUESTS}`, [
      `k1\t${request("one", "c-1")}`,
      `k2\t${request("two")}`,
      `k1\t${request("one", "c-1")}`, // a retry of the first
      `k3\t{"namespace": "company.team", "flowId": "greet"`, // truncated JSON
      `k4\t${request("four")}`,
    ]);
    await side.handled(5);
    // c-1 twice gives the same id: three distinct executions
    expect(new Set(side.created).size).toBe(3);
    for (const id of new Set(side.created)) {
      expect(await side.observer.terminal(id)).toBe("SUCCESS");
      expect(side.observer.of(id, "ExecutionCreated")).toHaveLength(1);
    }
    const outputs = [...new Set(side.created)].flatMap((id) => side.observer.of(id, "TaskRunOutputs").map((e) => e.outputs.value)).sort();
    expect(outputs).toEqual(["hello four x2", "hello one x2", "hello two x2"]);
    const created = side.observer.of([...new Set(side.created)][0], "ExecutionCreated")[0].execution;
    expect(created.labels).toEqual([{ key: "via", value: "kcat" }]);
    const dls = await deadLetters(log);
    expect(dls).toHaveLength(1);
    expect(dls[0].code).toBe("REQUEST_UNDECODABLE");
    expect(dls[0].record.key).toBe("k3");
  });
});
