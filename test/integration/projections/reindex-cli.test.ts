/**
 * `lanner sys reindex` as a separate process beside running roles on the Postgres backend: the
 * rebuilt executions table is swapped in while the indexer keeps writing.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../cli/config.js";
import { silentLogger } from "../../../common/logger.js";
import { encodeCommand } from "../../../processors/executor/shell/records.js";
import { startRoles, type RolesHandle } from "../../../processors/runtime/roles.js";
import { avroRecordCodec as codec } from "../../../processors/worker/record-codec.js";
import { parseFlowOrThrow } from "../../../schemas/flow-parser.js";
import { runLanner } from "../../harness/lanner-process.js";
import { createTestSchema, type TestSchema } from "../../harness/postgres.js";

const FLOW = parseFlowOrThrow(`id: rx
namespace: company.team
tasks:
  - id: value
    type: io.kestra.plugin.core.debug.Return
    format: "done"
`);

describe("lanner sys reindex", () => {
  let schema: TestSchema;
  let dir: string;
  let handle: RolesHandle | undefined;

  beforeAll(async () => {
    schema = await createTestSchema("rx");
    dir = mkdtempSync(join(tmpdir(), "lanner-rx-"));
  });
  afterAll(async () => {
    await handle?.stop();
    await schema.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("rebuilds the executions beside running roles and swaps them in", async () => {
    const config = loadConfig({ env: {}, overrides: [[["backend"], "postgres"], [["postgres", "url"], schema.url], [["postgres", "schema"], schema.schema], [["dataDir"], dir], [["partitions"], 2]] });
    handle = await startRoles(config, ["executor", "worker", "indexer"], { logger: silentLogger() });
    const repo = handle.repository;
    if (!repo) throw new Error("no repository");
    const ids = Array.from({ length: 5 }, () => randomUUID());
    await handle.log.append(ids.map((executionId) => ({
      topic: "execution-commands", key: executionId,
      value: encodeCommand(codec, { type: "CreateExecution", executionId, flow: { ...FLOW, tenantId: "main", revision: 1 }, inputs: {} }),
    })));
    for (const id of ids) expect((await repo.waitForTerminal(id, 600_000))?.state.current).toBe("SUCCESS");
    expect(await repo.deleteExecution(ids[0])).toBe(true);

    const run = await runLanner(["sys", "reindex", "--type", "executions", "--backend", "postgres", "--postgres-url", schema.url, "--postgres-schema", schema.schema, "--data-dir", dir, "--partitions", "2"]);
    expect(run.stderr.split("\n").filter((l) => !l.startsWith("reindex ") && !l.startsWith("{")).join("\n")).toBe("");
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}")).toMatchObject({ reindexed: ["executions"], deadLetters: 0 });
    expect((await repo.getExecution(ids[0]))?.state.current).toBe("SUCCESS");
    expect((await repo.searchExecutions({ tenantId: "main" })).total).toBe(5);

    const bad = await runLanner(["sys", "reindex", "--type", "nothing"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--type|nothing/);
  }, 180_000);
});
