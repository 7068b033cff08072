/**
 * The few things the SQL repository needs from a database, so the same SQL runs on a Postgres server
 * (`pg`) and on PGlite (`@electric-sql/pglite`, in-process, in the embedded data directory).
 */

/** Something that runs one parameterised statement. */
export interface SqlQueryable {
  /** Runs `text` with `$1…` parameters; resolves with the rows (objects keyed by column name). */
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

export interface SqlClient extends SqlQueryable {
  /** Which engine: `postgres` or `pglite` (for messages only). */
  readonly engine: string;
  /**
   * Runs `fn` in one transaction on one connection: committed when `fn` resolves, rolled back
   * (and the error rethrown) when it rejects.
   */
  transaction<T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<T>;
  /**
   * Listens to NOTIFY on `channel`, calling `onPayload` for each notification. `onResync` is called
   * after every (re)connection of the listening session: notifications sent while it was down are
   * lost, so listeners re-check what they wait for. Resolves with a function that stops listening.
   */
  listen(channel: string, onPayload: (payload: string) => void, onResync?: () => void): Promise<() => Promise<void>>;
  /** Closes the connections this client owns. */
  close(): Promise<void>;
}

/** Quotes an SQL identifier (schema, channel) after checking it is a plain lower-case name. */
export function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new Error(`invalid SQL identifier ${JSON.stringify(name)}: expected lower-case letters, digits and _`);
  }
  return `"${name}"`;
}
