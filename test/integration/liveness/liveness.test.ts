import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../common/logger.js";
import { decodeCommand } from "../../../processors/executor/shell/records.js";
import type { Heartbeat } from "../../../processors/liveness/heartbeat.js";
import { Liveness } from "../../../processors/liveness/liveness.js";
import type { Log, Membership } from "../../../topology/log.js";
import { codec, openTestLog, tempDir } from "../executor/scripted.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A clock the test moves by hand: liveness decides by it, not by the wall clock. */
class ManualClock {
  t = 1_000_000;
  now = () => this.t;
}

/** Collects WorkerLost records of `execution-commands`, per worker, with their partitions. */
class LostCollector {
  readonly lost = new Map<string, number[]>();
  private waiters: Array<() => void> = [];
  private m: Membership | undefined;

  constructor(private readonly log: Log) {}

  async start(): Promise<void> {
    this.m = await this.log.join("test-lost", ["execution-commands"], {
      onAssign: async () => undefined,
      onRevoke: async () => undefined,
      onRecords: async (batch) => {
        for (const rec of batch) {
          const c = decodeCommand(codec, rec.value);
          if (c.kind !== "worker-lost") continue;
          this.lost.set(c.lost.workerId, [...(this.lost.get(c.lost.workerId) ?? []), rec.partition]);
        }
        for (const w of this.waiters.splice(0)) w();
      },
    });
  }

  async stop(): Promise<void> {
    await this.m?.leave();
  }

  /** Resolves when `workerId` was declared lost on `n` partitions. */
  async until(workerId: string, n: number): Promise<void> {
    while ((this.lost.get(workerId)?.length ?? 0) < n) await new Promise<void>((r) => this.waiters.push(r));
  }
}

async function setup(dir: string, clock: ManualClock, priorWorkersDead = false) {
  const log = await openTestLog(dir);
  const liveness = new Liveness({ log, logger: silentLogger(), codec, timeoutMs: 8_000, heartbeatIntervalMs: 100, clock: clock.now, priorWorkersDead });
  await liveness.start();
  const lost = new LostCollector(log);
  await lost.start();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await lost.stop();
    await liveness.stop();
    await log.close();
  };
  cleanups.push(close);
  return { log, liveness, lost, close };
}

function beat(log: Log, hb: Partial<Heartbeat> & { workerId: string }, at: number) {
  const full: Heartbeat = { group: "default", threads: 4, running: 1, status: "RUNNING", at, ...hb };
  return log.append([{ topic: "heartbeats", key: hb.workerId, value: codec.encode("Heartbeat", full) }]);
}

/** Waits until liveness has consumed every heartbeat appended so far. */
async function consumed(log: Log): Promise<void> {
  const end = await log.endOffset("heartbeats", 0);
  for (let i = 0; i < 10_000 && (await log.committed("liveness", "heartbeats", 0)) < end; i++) await new Promise((r) => setTimeout(r, 5));
  expect(await log.committed("liveness", "heartbeats", 0)).toBe(end);
}

describe("liveness", () => {
  it("declares a silent worker lost on every executor partition, once, and keeps the live one", async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const clock = new ManualClock();
    const { log, liveness, lost } = await setup(dir, clock);
    await beat(log, { workerId: "silent" }, clock.t);
    await beat(log, { workerId: "alive", group: "gpu" }, clock.t);
    await consumed(log);
    expect(liveness.liveWorkers()).toBe(1);
    expect(liveness.liveWorkers("gpu")).toBe(1);

    clock.t += 5_000;
    await beat(log, { workerId: "alive", group: "gpu" }, clock.t);
    await consumed(log);
    clock.t += 4_000; // silent: 9 s without a heartbeat; alive: 4 s
    const n = log.partitionsOf("execution-commands");
    await lost.until("silent", n);
    expect([...(lost.lost.get("silent") ?? [])].sort()).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(lost.lost.has("alive")).toBe(false);
    expect(liveness.liveWorkers()).toBe(0);
    expect(liveness.liveWorkers("gpu")).toBe(1);

    // the lost worker speaks again: ignored, not declared twice
    await beat(log, { workerId: "silent" }, clock.t);
    await consumed(log);
    clock.t += 20_000;
    await lost.until("alive", n);
    expect(lost.lost.get("silent")).toHaveLength(n);
    expect(liveness.declared).toBe(2);
  });

  it("declares a worker that stopped while holding attempts at once; a clean stop is not a loss", async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const clock = new ManualClock();
    const { log, liveness, lost } = await setup(dir, clock);
    await beat(log, { workerId: "handing-back", status: "STOPPED", running: 2 }, clock.t);
    await beat(log, { workerId: "clean", status: "RUNNING", running: 0 }, clock.t);
    await beat(log, { workerId: "clean", status: "STOPPED", running: 0 }, clock.t);
    const n = log.partitionsOf("execution-commands");
    await lost.until("handing-back", n);
    await beat(log, { workerId: "tick" }, clock.t);
    await consumed(log);
    clock.t += 9_000;
    // by the time the silent "tick" is declared, "clean" was past its timeout too
    await lost.until("tick", n);
    expect(lost.lost.has("clean")).toBe(false);
    expect(liveness.declared).toBe(2);
  });

  it("remembers lost workers and last-seen times across a restart", async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const clock = new ManualClock();
    let s = await setup(dir, clock);
    await beat(s.log, { workerId: "gone" }, clock.t);
    await beat(s.log, { workerId: "later" }, clock.t);
    await consumed(s.log);
    clock.t += 9_000;
    const n = s.log.partitionsOf("execution-commands");
    await s.lost.until("gone", n);
    await s.lost.until("later", n);
    await s.close();

    s = await setup(dir, clock);
    await beat(s.log, { workerId: "fresh" }, clock.t);
    await consumed(s.log);
    clock.t += 9_000;
    await s.lost.until("fresh", n);
    // the collector re-read the whole topic: the earlier declarations were not repeated
    expect(s.lost.lost.get("gone")).toHaveLength(n);
    expect(s.lost.lost.get("later")).toHaveLength(n);
    expect(s.liveness.declared).toBe(1);
  });

  it("with priorWorkersDead, declares the workers of an earlier run lost at start, without waiting for the timeout", async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const clock = new ManualClock();
    let s = await setup(dir, clock);
    await beat(s.log, { workerId: "old" }, clock.t);
    await beat(s.log, { workerId: "old-clean", running: 0 }, clock.t);
    await beat(s.log, { workerId: "old-stopped", status: "STOPPED", running: 0 }, clock.t);
    await consumed(s.log);
    const n = s.log.partitionsOf("execution-commands");
    await s.close();
    // sent by an earlier run but not consumed before it ended
    const log = await openTestLog(dir);
    await beat(log, { workerId: "unread" }, clock.t);
    await log.close();

    clock.t += 1_000; // well within the 8 s timeout
    s = await setup(dir, clock, true);
    await beat(s.log, { workerId: "fresh" }, clock.t);
    await s.lost.until("old", n);
    await s.lost.until("old-clean", n);
    await s.lost.until("unread", n);
    await consumed(s.log);
    expect(s.lost.lost.has("fresh")).toBe(false);
    expect(s.lost.lost.has("old-stopped")).toBe(false);
    expect(s.liveness.declared).toBe(3);
    expect(s.liveness.liveWorkers()).toBe(1);
  });

  it("without priorWorkersDead, gives the workers of an earlier run a fresh timeout", async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const clock = new ManualClock();
    let s = await setup(dir, clock);
    await beat(s.log, { workerId: "elsewhere" }, clock.t);
    await consumed(s.log);
    await s.close();
    clock.t += 7_000;
    s = await setup(dir, clock);
    await beat(s.log, { workerId: "tick" }, clock.t);
    await consumed(s.log);
    clock.t += 2_000; // 9 s after its heartbeat, 2 s after this instance started
    await beat(s.log, { workerId: "tick" }, clock.t);
    await consumed(s.log);
    expect(s.liveness.liveWorkers()).toBe(2);
    clock.t += 7_000;
    const n = s.log.partitionsOf("execution-commands");
    await s.lost.until("elsewhere", n);
  });
});
