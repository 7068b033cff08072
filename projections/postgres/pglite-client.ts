import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { LannerError } from "../../common/errors.js";
import type { SqlClient, SqlQueryable } from "./sql-client.js";

/**
 * A `SqlClient` on PGlite: Postgres compiled to WebAssembly, running in this process on a data
 * directory (the embedded backend's `<dataDir>/pglite`). One session, so statements run one at a time.
 */
export class PgliteSqlClient implements SqlClient {
  readonly engine = "pglite";

  private constructor(private readonly db: PGlite) {}

  /** Opens (creating when missing) the database in `dataDir`; in memory when `dataDir` is undefined. */
  static async open(dataDir?: string): Promise<PgliteSqlClient> {
    try {
      if (dataDir !== undefined) await mkdir(dataDir, { recursive: true });
      const db = dataDir === undefined ? await PGlite.create() : await PGlite.create(dataDir);
      return new PgliteSqlClient(db);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new LannerError("REPOSITORY_UNAVAILABLE", `cannot open the embedded read database${dataDir ? ` in ${dataDir}` : ""}: ${why}`, { cause: err });
    }
  }

  async query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }> {
    const r = await this.db.query<R>(text, params);
    return { rows: r.rows };
  }

  async transaction<T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) =>
      fn({
        query: async <R>(text: string, params?: unknown[]) => {
          const r = await tx.query<R>(text, params);
          return { rows: r.rows };
        },
      }),
    );
  }

  async listen(channel: string, onPayload: (payload: string) => void, onResync?: () => void): Promise<() => Promise<void>> {
    const unlisten = await this.db.listen(channel, onPayload);
    // In-process: nothing can be missed before this point except what the caller re-checks anyway.
    onResync?.();
    return async () => {
      await unlisten();
    };
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
  }
}
