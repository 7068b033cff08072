import { describe, expect, it } from "vitest";
import { asHeartbeat, type Heartbeat } from "../../../processors/liveness/heartbeat.js";
import { WorkerGroupWatch } from "../../../processors/liveness/worker-group-watch.js";
import { openLog } from "../../../topology/factory.js";
import { codec } from "../executor/scripted.js";

const hb = (workerId: string, group: string, status: Heartbeat["status"] = "RUNNING"): Heartbeat =>
  ({ workerId, group, threads: 2, running: 0, at: Date.now(), status });

describe("WorkerGroupWatch", () => {
  it("counts live workers per group from heartbeats, silence, STOPPED and lost declarations", () => {
    let now = 0;
    const w = new WorkerGroupWatch(1_000, () => now);
    expect(w.knows("gpu")).toBe(false);
    w.observe(hb("a", "gpu"));
    w.observe(hb("b", "gpu"));
    w.observe(hb("c", ""));
    expect(w.knows("gpu")).toBe(true);
    expect(w.liveWorkers("gpu")).toBe(2);
    expect(w.liveWorkers(undefined)).toBe(1);
    w.observe(hb("b", "gpu", "STOPPED"));
    w.markLost("c");
    expect(w.liveWorkers("gpu")).toBe(1);
    expect(w.liveWorkers("default")).toBe(0);
    now = 1_500;
    expect(w.liveWorkers("gpu")).toBe(0);
    expect(w.knows("cpu")).toBe(true);
    expect(Object.fromEntries(w.liveByGroup())).toEqual({ gpu: 0 });
  });

  it("follows the heartbeats topic of a log", async () => {
    const log = await openLog({ backend: "memory" });
    await log.ensureTopics([{ name: "heartbeats", partitions: 1 }]);
    await log.append([{ topic: "heartbeats", key: "a", value: codec.encode("Heartbeat", hb("a", "gpu")) }]);
    const w = new WorkerGroupWatch(60_000);
    w.follow(log, (bytes) => asHeartbeat(codec.decode(bytes).value), 20);
    for (let i = 0; i < 500 && w.liveWorkers("gpu") === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(w.liveWorkers("gpu")).toBe(1);
    await log.append([{ topic: "heartbeats", key: "b", value: codec.encode("Heartbeat", hb("b", "gpu")) }]);
    for (let i = 0; i < 500 && w.liveWorkers("gpu") < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(w.liveWorkers("gpu")).toBe(2);
    w.stop();
    await log.close();
  });
});
