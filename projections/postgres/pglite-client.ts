import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { LannerError } from "../../common/errors.js";
import { PgliteThread } from "./pglite-thread.js";
import type { SqlClient, SqlQueryable } from "./sql-client.js";

/**
 * Settings of the embedded database. Postgres' default 128 MB of shared buffers would all become
 * resident in this process's wasm heap as the read side works; 16 MB holds the hot pages of a
 * single node's projections.
 */
const POSTGRESQL_CONF = ["shared_buffers = 16MB"];

/**
 * Creates a database in an empty `dataDir` in a short-lived child process. PGlite's initdb leaves
 * ≈ 500 MB resident in the process that ran it (its own wasm instance and buffers, not returned
 * to the system after it ends), so the serving process only ever opens a directory already made.
 */
async function initialiseInChildProcess(dataDir: string): Promise<void> {
  const script = `const { PGlite } = await import(${JSON.stringify(import.meta.resolve("@electric-sql/pglite"))});
const db = await PGlite.create(process.argv[1], { postgresqlconf: ${JSON.stringify(POSTGRESQL_CONF)} });
await db.close();`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script, dataDir], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-2_000);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (c) => resolve(c));
  });
  if (code !== 0) throw new Error(`initialising the database failed (exit ${code}): ${stderr.trim()}`);
}

/**
 * A `SqlClient` on PGlite: Postgres compiled to WebAssembly, on a data directory (the embedded
 * backend's `<dataDir>/pglite`), running on a worker thread of this process (`pglite-thread.ts`)
 * so its wasm does not share the executor's thread. One session, so statements run one at a time.
 */
export class PgliteSqlClient implements SqlClient {
  readonly engine = "pglite";

  private constructor(private readonly thread: PgliteThread) {}

  /** Opens (creating when missing) the database in `dataDir`; in memory when `dataDir` is undefined. */
  static async open(dataDir?: string): Promise<PgliteSqlClient> {
    try {
      if (dataDir !== undefined) {
        await mkdir(dataDir, { recursive: true });
        if (!existsSync(join(dataDir, "PG_VERSION"))) await initialiseInChildProcess(dataDir);
      }
      return new PgliteSqlClient(await PgliteThread.start(dataDir, POSTGRESQL_CONF));
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new LannerError("REPOSITORY_UNAVAILABLE", `cannot open the embedded read database${dataDir ? ` in ${dataDir}` : ""}: ${why}`, { cause: err });
    }
  }

  async query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }> {
    const r = await this.thread.request({ op: "query", sql: text, params });
    return { rows: (r.rows ?? []) as R[] };
  }

  async transaction<T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    const begun = await this.thread.request({ op: "begin" });
    const tx = begun.tx as number;
    let result: T;
    try {
      result = await fn({
        query: async <R>(text: string, params?: unknown[]) => {
          const r = await this.thread.request({ op: "txquery", tx, sql: text, params });
          return { rows: (r.rows ?? []) as R[] };
        },
      });
    } catch (err) {
      await this.thread.request({ op: "end", tx, commit: false }).catch(() => undefined);
      throw err;
    }
    await this.thread.request({ op: "end", tx, commit: true });
    return result;
  }

  async listen(channel: string, onPayload: (payload: string) => void, onResync?: () => void): Promise<() => Promise<void>> {
    const r = await this.thread.request({ op: "listen", channel });
    const listener = r.listener as number;
    this.thread.onNotify(listener, onPayload);
    // In-process: nothing can be missed before this point except what the caller re-checks anyway.
    onResync?.();
    return async () => {
      this.thread.onNotify(listener, undefined);
      await this.thread.request({ op: "unlisten", listener });
    };
  }

  async close(): Promise<void> {
    await this.thread.close();
  }
}
