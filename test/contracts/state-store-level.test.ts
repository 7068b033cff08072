import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedLog } from "../../topology/embedded/embedded-log.js";
import { stateStoreContract } from "./state-store.contract.js";

const dir = mkdtempSync(join(tmpdir(), "lanner-state-"));
const log = EmbeddedLog.open({ dataDir: dir });

// The classic-level store lives inside the embedded log's database.
stateStoreContract("classic-level", {
  create: async (name, partition) => (await log).stateStore(name, partition),
  async cleanup() {
    await (await log).close();
    rmSync(dir, { recursive: true, force: true });
  },
});
