/**
 * Retention in the runtime: `startRoles` purges the log periodically, and a worker's private
 * control group (ephemeral) never holds records back once the worker is gone.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../cli/config.js";
import { silentLogger } from "../../../common/logger.js";
import { startRoles } from "../../../processors/runtime/roles.js";
import { EmbeddedLog } from "../../../topology/embedded/embedded-log.js";
import type { Log } from "../../../topology/log.js";
import { waitFor } from "../../contracts/log.contract.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function offsetsLeft(log: Log, topic: string): Promise<bigint[]> {
  const out: bigint[] = [];
  for await (const r of log.readPartition(topic, 0, 0n)) out.push(r.offset);
  return out;
}

describe("periodic purge in the runtime", () => {
  it("purges old records on its interval, and a stopped worker's control group holds nothing back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lanner-purge-"));
    dirs.push(dir);
    const config = loadConfig({ env: {}, overrides: [[["dataDir"], join(dir, "data")], [["partitions"], 2]] });
    expect(config.retention.purgeIntervalMs).toBe(60_000);
    expect(config.retention.groupExpiryMs).toBe(24 * 3600_000);
    const roles = await startRoles(config, ["worker"], {
      logger: silentLogger(), onFatal: (err) => { throw err; }, workerId: "w1", workerStopTimeoutMs: 1_000, purgeIntervalMs: 50,
    });
    try {
      // Nobody reads dead letters in a worker process: old ones go at the next round.
      await roles.log.append([{ topic: "dead-letters", key: "k", value: new Uint8Array([1]), timestamp: 1 }]);
      expect(await offsetsLeft(roles.log, "dead-letters")).toEqual([0n]);
      await waitFor(async () => (await offsetsLeft(roles.log, "dead-letters")).length === 0, "the periodic purge drops the old record");
      expect(await roles.log.endOffset("dead-letters", 0)).toBe(1n);
    } finally {
      await roles.stop();
    }

    const log = await EmbeddedLog.open({ dataDir: config.dataDir });
    try {
      expect(log.partitionsOf("worker-control")).toBe(1);
      expect(await log.committed("worker-control-w1", "worker-control", 0)).toBe(0n);
      // A cancellation nobody live will read: the departed worker's group must not keep it.
      await log.append([{ topic: "worker-control", key: "x", value: new Uint8Array([2]), timestamp: 1 }]);
      await log.purge();
      expect(await offsetsLeft(log, "worker-control")).toEqual([]);
    } finally {
      await log.close();
    }
  });
});
