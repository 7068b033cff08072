import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll } from "vitest";
import { KafkaLog } from "../../topology/kafka/kafka-log.js";
import type { Log } from "../../topology/log.js";
import { ensureKafka, randomPrefix, severableSockets } from "../harness/kafka.js";
import { logContract } from "./log.contract.js";

const prefix = randomPrefix("log");
// The first start may fetch Kafka with Maven: give it its own budget, outside any test's.
beforeAll(() => ensureKafka().then(() => undefined), 600_000);
const dirs: string[] = [];
const severs = new Map<Log, () => void>();

logContract("kafka", {
  commitsInOrder: false,
  async open() {
    const brokers = await ensureKafka();
    const dir = mkdtempSync(join(tmpdir(), "lanner-kafka-"));
    dirs.push(dir);
    const sockets = severableSockets();
    const log = await KafkaLog.open({
      brokers: [brokers],
      topicPrefix: prefix,
      dataDir: dir,
      sessionTimeoutMs: 3_000,
      heartbeatIntervalMs: 300,
      socketFactory: sockets.socketFactory,
    });
    severs.set(log, sockets.sever);
    return log;
  },
  peers: true,
  commitMarkers: true,
  async crash(log: Log) {
    // kill -9 as the broker sees it: every connection drops, nothing is said on the way out
    const sever = severs.get(log);
    if (sever === undefined) throw new Error("not a Kafka log of this suite");
    sever();
  },
  async cleanup() {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  },
});
