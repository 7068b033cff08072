import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openLog } from "../../../topology/factory.js";
import { createTestSchema } from "../../harness/postgres.js";

describe("openLog", () => {
  it("opens each backend by name", async () => {
    const mem = await openLog({ backend: "memory" });
    expect(mem.backend).toBe("memory");
    await mem.close();

    const dir = mkdtempSync(join(tmpdir(), "lanner-factory-"));
    try {
      const emb = await openLog({ backend: "embedded", dataDir: dir, durability: "fsync" });
      expect(emb.backend).toBe("embedded");
      await emb.ensureTopics([{ name: "t", partitions: 1 }]);
      await emb.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const s = await createTestSchema("factory");
    try {
      const pg = await openLog({ backend: "postgres", postgresUrl: s.url, schema: s.schema });
      expect(pg.backend).toBe("postgres");
      await pg.ensureTopics([{ name: "t", partitions: 2 }]);
      expect(pg.partitionsOf("t")).toBe(2);
      await pg.close();
    } finally {
      await s.drop();
    }
  });

  it("explains a missing Postgres URL and an unknown backend", async () => {
    await expect(openLog({ backend: "postgres" })).rejects.toMatchObject({ code: "CONFIG_INVALID", message: expect.stringMatching(/--postgres-url/) });
    await expect(openLog({ backend: "kafkaa" as "memory" })).rejects.toMatchObject({ code: "CONFIG_INVALID" });
    await expect(openLog({ backend: "postgres", postgresUrl: "postgres://x@127.0.0.1:5432/test", schema: "Bad-Schema" })).rejects.toMatchObject({
      code: "SCHEMA_NAME_INVALID",
    });
  });
});
