import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PgliteSqlClient } from "../../projections/postgres/pglite-client.js";
import { SqlRepository } from "../../projections/postgres/sql-repository.js";
import { repositoryContract } from "./repository.contract.js";

const dir = mkdtempSync(join(tmpdir(), "lanner-pglite-"));

repositoryContract("pglite", {
  async open() {
    const repo = new SqlRepository({ client: await PgliteSqlClient.open(join(dir, "pglite")), schema: "lanner" });
    await repo.init();
    return repo;
  },
  async cleanup() {
    rmSync(dir, { recursive: true, force: true });
  },
});
