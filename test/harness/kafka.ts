/**
 * Test helper: a real Apache Kafka broker on 127.0.0.1. `ensureKafka()` returns the bootstrap
 * address of the broker that `scripts/kafka.sh` runs from its cache (starting it — and fetching
 * Kafka with Maven the first time — when it is not running). LANNER_TEST_KAFKA_BROKERS points
 * the tests at another broker instead. Every suite uses its own random topic prefix.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { ISocketFactory } from "kafkajs";

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL("../../scripts/kafka.sh", import.meta.url));

let brokers: Promise<string> | undefined;

/** The broker's bootstrap address (`127.0.0.1:PORT`), started once per test process. */
export function ensureKafka(): Promise<string> {
  const fromEnv = process.env.LANNER_TEST_KAFKA_BROKERS;
  if (fromEnv !== undefined && fromEnv !== "") return Promise.resolve(fromEnv);
  brokers ??= run("bash", [SCRIPT, "start"], { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 }).then(({ stdout }) => {
    const addr = stdout.trim().split("\n").pop() ?? "";
    if (!/^127\.0\.0\.1:\d+$/.test(addr)) throw new Error(`scripts/kafka.sh start printed no address: ${stdout}`);
    return addr;
  });
  return brokers;
}

/** A random topic prefix, so runs and suites never see each other's topics, groups or transactional ids. */
export function randomPrefix(name: string): string {
  return `t-${name}-${randomBytes(4).toString("hex")}.`;
}

/**
 * A socket factory whose connections can all be cut at once, with every later connection
 * refused: to a broker, the process looks dead (no LeaveGroup is ever sent) — `kill -9` in-process.
 */
export function severableSockets(): { socketFactory: ISocketFactory; sever(): void } {
  const sockets = new Set<Socket>();
  let severed = false;
  const socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
    const socket = new Socket();
    socket.setKeepAlive(true, 30_000);
    if (severed) {
      process.nextTick(() => socket.destroy(new Error("connection refused: the process was killed")));
      return socket;
    }
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.connect({ host, port }, onConnect);
    return socket;
  };
  return {
    socketFactory,
    sever() {
      severed = true;
      for (const s of sockets) s.destroy(new Error("connection reset: the process was killed"));
      sockets.clear();
    },
  };
}
