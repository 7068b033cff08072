import pg from "pg";
import { LannerError } from "../../common/errors.js";
import { quoteIdent, type SqlClient, type SqlQueryable } from "./sql-client.js";

/** Options of `PgSqlClient`. */
export interface PgSqlClientOptions {
  /** Connection URL of the Postgres server (`postgres://user@host:port/db`). */
  url: string;
  /** Pool size; default 4. */
  max?: number;
  /** Shown in `pg_stat_activity`; default `lanner-repository`. */
  applicationName?: string;
  /** Hears errors of idle connections and of the listening session (logged by the caller). */
  onError?: (err: Error) => void;
}

function unreachable(err: unknown): LannerError {
  const why = err instanceof Error ? err.message : String(err);
  return new LannerError("REPOSITORY_UNAVAILABLE", `the repository database cannot be reached: ${why}`, { retriable: true, cause: err });
}

/** True for errors that mean the connection (not the statement) failed. */
function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") {
    // Class 08 = connection exception; 57P01..57P03 = admin shutdown / crash / cannot connect now.
    if (code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03") return true;
    if (["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EHOSTUNREACH"].includes(code)) return true;
  }
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(err.message);
}

/** Maps a driver error: connection failures become a retriable REPOSITORY_UNAVAILABLE. */
function mapError(err: unknown): unknown {
  return isConnectionError(err) ? unreachable(err) : err;
}

/** A `SqlClient` on a Postgres server through a `pg` pool, plus one session for LISTEN. */
export class PgSqlClient implements SqlClient {
  readonly engine = "postgres";
  private readonly pool: pg.Pool;
  private closed = false;
  private readonly listeners = new Set<ListenSession>();

  constructor(private readonly opts: PgSqlClientOptions) {
    this.pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.max ?? 4,
      application_name: opts.applicationName ?? "lanner-repository",
    });
    // An idle client that loses its connection emits here; without a listener the process would crash.
    this.pool.on("error", (err) => opts.onError?.(err));
  }

  async query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }> {
    try {
      const r = await this.pool.query(text, params);
      return { rows: r.rows as R[] };
    } catch (err) {
      throw mapError(err);
    }
  }

  async transaction<T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw unreachable(err);
    }
    let broken = false;
    try {
      await client.query("BEGIN");
      const tx: SqlQueryable = {
        query: async <R>(text: string, params?: unknown[]) => {
          const r = await client.query(text, params);
          return { rows: r.rows as R[] };
        },
      };
      const result = await fn(tx);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      broken = isConnectionError(err);
      if (!broken) await client.query("ROLLBACK").catch(() => undefined);
      throw mapError(err);
    } finally {
      // A broken connection must not go back to the pool.
      client.release(broken ? true : undefined);
    }
  }

  async listen(channel: string, onPayload: (payload: string) => void, onResync?: () => void): Promise<() => Promise<void>> {
    const session = new ListenSession(this.opts, channel, onPayload, onResync ?? (() => undefined));
    this.listeners.add(session);
    await session.start();
    return async () => {
      this.listeners.delete(session);
      await session.stop();
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.listeners].map((s) => s.stop()));
    this.listeners.clear();
    await this.pool.end();
  }
}

/**
 * One dedicated connection that LISTENs on a channel; when it drops it reconnects with a growing
 * back-off (100 ms … 5 s) and calls `onResync`, since notifications sent meanwhile are lost.
 */
class ListenSession {
  private client: pg.Client | undefined;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = 100;

  constructor(
    private readonly opts: PgSqlClientOptions,
    private readonly channel: string,
    private readonly onPayload: (payload: string) => void,
    private readonly onResync: () => void,
  ) {}

  /** Connects once; the first failure is thrown to the caller (later ones are retried). */
  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.url, application_name: `${this.opts.applicationName ?? "lanner-repository"}-listen` });
    client.on("notification", (n) => {
      if (n.channel === this.channel) this.onPayload(n.payload ?? "");
    });
    client.on("error", (err) => {
      this.opts.onError?.(err);
      this.lost(client);
    });
    client.on("end", () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdent(this.channel)}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw unreachable(err);
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.backoffMs = 100;
    this.onResync();
  }

  private lost(client: pg.Client): void {
    if (this.client !== client || this.stopped) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retryTimer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 5_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect().catch((err: unknown) => {
        this.opts.onError?.(err instanceof Error ? err : new Error(String(err)));
        this.scheduleReconnect();
      });
    }, delay);
    this.retryTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const c = this.client;
    this.client = undefined;
    if (c) await c.end().catch(() => undefined);
  }
}
