import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedLog } from "../../topology/embedded/embedded-log.js";
import type { Log } from "../../topology/log.js";
import { logContract } from "./log.contract.js";

const dirs: string[] = [];
const dirOf = new Map<Log, string>();

logContract("embedded", {
  commitsInOrder: true,
  async open() {
    const dir = mkdtempSync(join(tmpdir(), "lanner-log-"));
    dirs.push(dir);
    const log = await EmbeddedLog.open({ dataDir: dir });
    dirOf.set(log, dir);
    return log;
  },
  async reopen(log) {
    const dir = dirOf.get(log);
    if (dir === undefined) throw new Error("unknown log");
    await log.close();
    const again = await EmbeddedLog.open({ dataDir: dir, durability: "fsync" });
    dirOf.set(again, dir);
    return again;
  },
  async cleanup() {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  },
});
