import { join } from "node:path";
import type { Config } from "../cli/config.js";
import { ElasticsearchRepository } from "./elasticsearch/elasticsearch-repository.js";
import { PgSqlClient } from "./postgres/pg-client.js";
import { PgliteSqlClient } from "./postgres/pglite-client.js";
import { SqlRepository } from "./postgres/sql-repository.js";
import type { Repository } from "./repository.js";

/**
 * Opens the read side named by the configuration and creates its tables: `repository:
 * elasticsearch` → the Elasticsearch at `elasticsearch.url` (indices `elasticsearch.prefix*`);
 * otherwise SQL: `embedded` → PGlite in `<dataDir>/pglite`; `postgres` → the Postgres server at
 * `postgres.url`, schema `postgres.schema`.
 * `onError` hears connection errors that happen outside any call (idle connections, LISTEN session).
 */
export async function openRepository(
  config: Pick<Config, "backend" | "dataDir" | "postgres"> & Partial<Pick<Config, "repository" | "elasticsearch">>,
  opts: { onError?: (err: Error) => void } = {},
): Promise<Repository> {
  const repository = config.repository === "elasticsearch" && config.elasticsearch
    ? new ElasticsearchRepository({ url: config.elasticsearch.url, prefix: config.elasticsearch.prefix })
    : config.backend === "postgres"
    ? new SqlRepository({ client: new PgSqlClient({ url: config.postgres.url, onError: opts.onError }), schema: config.postgres.schema })
    : new SqlRepository({ client: await PgliteSqlClient.open(join(config.dataDir, "pglite")), schema: "lanner" });
  try {
    await repository.init();
  } catch (err) {
    await repository.close().catch(() => undefined);
    throw err;
  }
  return repository;
}
