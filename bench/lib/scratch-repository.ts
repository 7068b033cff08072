/**
 * A repository of its own for one benchmark run, dropped afterwards: a fresh schema on the local
 * Postgres (LANNER_BENCH_POSTGRES_URL), or fresh indices on Elasticsearch
 * (LANNER_BENCH_ELASTICSEARCH_URL, else the one `scripts/elasticsearch.sh` runs, started when needed).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { ElasticsearchRepository } from "../../projections/elasticsearch/elasticsearch-repository.js";
import { PgSqlClient } from "../../projections/postgres/pg-client.js";
import { SqlRepository } from "../../projections/postgres/sql-repository.js";
import type { Repository } from "../../projections/repository.js";

export const BENCH_POSTGRES_URL = process.env.LANNER_BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const SCRIPT = fileURLToPath(new URL("../../scripts/elasticsearch.sh", import.meta.url));

/** Opens (and initialises) a scratch repository; `drop` deletes its schema or indices. */
export async function openScratchRepository(kind: "postgres" | "elasticsearch"): Promise<{ repo: Repository; drop: () => Promise<void> }> {
  if (kind === "elasticsearch") {
    const url = process.env.LANNER_BENCH_ELASTICSEARCH_URL ?? execFileSync("bash", [SCRIPT, "start"], { encoding: "utf8" }).trim().split("\n").at(-1) ?? "";
    const prefix = `bench-${randomBytes(4).toString("hex")}-`;
    const repo = new ElasticsearchRepository({ url, prefix });
    await repo.init();
    return {
      repo,
      drop: async () => {
        await fetch(`${url}/${prefix}*?expand_wildcards=all`, { method: "DELETE" });
        await fetch(`${url}/_index_template/${prefix}*`, { method: "DELETE" });
      },
    };
  }
  const schema = `bench_${randomBytes(4).toString("hex")}`;
  const repo = new SqlRepository({ client: new PgSqlClient({ url: BENCH_POSTGRES_URL }), schema });
  await repo.init();
  return {
    repo,
    drop: async () => {
      const c = new pg.Client({ connectionString: BENCH_POSTGRES_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    },
  };
}
