/**
 * The Postgres StateStore: rows of `<schema>.state` (store, partition, key, value) and the
 * checkpoint in `<schema>.state_checkpoints`. The Postgres log's `Membership.commit(c, state)`
 * writes them in the same statement as the records and offsets; `write` alone uses the same path.
 */
import type pg from "pg";
import { assertBatchFor, validateStoreName, type StateBatch, type StateStore } from "./state-store.js";

export class PostgresStateStore implements StateStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
    /** Writes a batch atomically (the log's commit path, without records or offsets). */
    private readonly writeBatch: (batch: StateBatch) => Promise<void>,
    readonly name: string,
    readonly partition: number,
  ) {
    validateStoreName(name);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const r = await this.pool.query<{ value: Buffer }>({
      name: `${this.schema}.state.get`,
      text: `SELECT value FROM "${this.schema}".state WHERE store = $1 AND partition = $2 AND key = $3`,
      values: [this.name, this.partition, key],
    });
    return r.rows.length === 0 ? undefined : new Uint8Array(r.rows[0].value);
  }

  async write(batch: StateBatch): Promise<void> {
    assertBatchFor(this, batch);
    await this.writeBatch(batch);
  }

  async checkpoint(): Promise<bigint | undefined> {
    const r = await this.pool.query<{ next: string }>(
      `SELECT next FROM "${this.schema}".state_checkpoints WHERE store = $1 AND partition = $2`,
      [this.name, this.partition],
    );
    return r.rows.length === 0 ? undefined : BigInt(r.rows[0].next);
  }

  async *entries(): AsyncIterable<[string, Uint8Array]> {
    let after: string | undefined;
    // Keyset pages in byte order of the keys (collation "C").
    for (;;) {
      const r = await this.pool.query<{ key: string; value: Buffer }>(
        `SELECT key, value FROM "${this.schema}".state WHERE store = $1 AND partition = $2 AND ($3::text IS NULL OR key > $3) ORDER BY key LIMIT 512`,
        [this.name, this.partition, after ?? null],
      );
      if (r.rows.length === 0) return;
      for (const row of r.rows) yield [row.key, new Uint8Array(row.value)];
      after = r.rows[r.rows.length - 1].key;
    }
  }

  async clear(): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query("BEGIN");
      await c.query(`DELETE FROM "${this.schema}".state WHERE store = $1 AND partition = $2`, [this.name, this.partition]);
      await c.query(`DELETE FROM "${this.schema}".state_checkpoints WHERE store = $1 AND partition = $2`, [this.name, this.partition]);
      await c.query("COMMIT");
    } catch (err) {
      await c.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }
}
