/**
 * Test helper: a fresh random schema (or database) on the local Postgres (127.0.0.1:5432,
 * trust auth, database `test`), dropped after the run. Override the server with
 * LANNER_TEST_POSTGRES_URL.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export const TEST_POSTGRES_URL = process.env.LANNER_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface TestSchema {
  url: string;
  schema: string;
  /** Drops the schema and everything in it. */
  drop(): Promise<void>;
}

export interface TestDatabase {
  /** Connection URL of the new database. */
  url: string;
  database: string;
  /** Drops the database (terminating leftover connections). */
  drop(): Promise<void>;
}

const randomName = (prefix: string) => `${prefix}_${randomBytes(6).toString("hex")}`;

async function withAdmin<T>(url: string, f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await f(c);
  } finally {
    await c.end();
  }
}

/** Creates an empty schema with a random name in the test database. */
export async function createTestSchema(prefix = "t"): Promise<TestSchema> {
  const schema = randomName(prefix);
  await withAdmin(TEST_POSTGRES_URL, (c) => c.query(`CREATE SCHEMA "${schema}"`));
  return {
    url: TEST_POSTGRES_URL,
    schema,
    drop: () => withAdmin(TEST_POSTGRES_URL, (c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)).then(() => undefined),
  };
}

/** Creates an empty database with a random name on the test server. */
export async function createTestDatabase(prefix = "t"): Promise<TestDatabase> {
  const database = randomName(prefix);
  await withAdmin(TEST_POSTGRES_URL, (c) => c.query(`CREATE DATABASE "${database}"`));
  const u = new URL(TEST_POSTGRES_URL);
  u.pathname = `/${database}`;
  return {
    url: u.toString(),
    database,
    drop: () =>
      withAdmin(TEST_POSTGRES_URL, async (c) => {
        await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [database]);
        await c.query(`DROP DATABASE IF EXISTS "${database}"`);
      }),
  };
}

/** Terminates every server connection whose application_name is `name` (an abrupt "kill -9" of a client). */
export async function terminateConnections(name: string): Promise<number> {
  return withAdmin(TEST_POSTGRES_URL, async (c) => {
    const r = await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [name]);
    return r.rowCount ?? 0;
  });
}
