/**
 * The Postgres log's tables and its `commit_unit` function, created in the configured schema.
 * One unit of work is ONE call of `commit_unit` (a single statement, so a single transaction and
 * one round trip): it checks the fencing epochs of the group's partition leases under row locks,
 * assigns dense offsets under the partition row lock, inserts the records, upserts the group's
 * offsets and the state, and NOTIFYs `topic:partition` for every partition appended to.
 */

/** Schema names are identifiers we splice into SQL: keep them plain. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,39}$/;

/**
 * Adds a column to a table of an older layout. Checked first: ALTER TABLE locks the table even
 * when the column exists, and would stall running processes' commits at every start.
 */
function addColumn(s: string, table: string, column: string, type: string): string {
  return `DO $add$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = '${s}' AND table_name = '${table}' AND column_name = '${column}') THEN
    ALTER TABLE "${s}".${table} ADD COLUMN ${column} ${type};
  END IF;
END $add$;`;
}

export function schemaSql(s: string): string {
  return `
CREATE SCHEMA IF NOT EXISTS "${s}";
CREATE TABLE IF NOT EXISTS "${s}".topics (
  name text PRIMARY KEY,
  partitions int NOT NULL CHECK (partitions > 0),
  retention_ms bigint
);
CREATE TABLE IF NOT EXISTS "${s}".partitions (
  topic text NOT NULL REFERENCES "${s}".topics(name),
  partition int NOT NULL,
  next bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS "${s}".records (
  topic text NOT NULL,
  partition int NOT NULL,
  "offset" bigint NOT NULL,
  key text NOT NULL,
  value bytea NOT NULL,
  headers jsonb NOT NULL,
  ts bigint NOT NULL,
  PRIMARY KEY (topic, partition, "offset")
);
CREATE TABLE IF NOT EXISTS "${s}".group_offsets (
  grp text NOT NULL,
  topic text NOT NULL,
  partition int NOT NULL,
  next bigint NOT NULL,
  PRIMARY KEY (grp, topic, partition)
);
-- When the offset was last committed: a group idle longer than the expiry is forgotten.
${addColumn(s, "group_offsets", "committed_at", "timestamptz NOT NULL DEFAULT now()")}
CREATE TABLE IF NOT EXISTS "${s}".group_topics (
  grp text NOT NULL,
  topic text NOT NULL,
  PRIMARY KEY (grp, topic)
);
-- Ephemeral groups never hold back retention; joined_at counts as activity for expiry.
${addColumn(s, "group_topics", "ephemeral", "boolean NOT NULL DEFAULT false")}
${addColumn(s, "group_topics", "joined_at", "timestamptz NOT NULL DEFAULT now()")}
CREATE TABLE IF NOT EXISTS "${s}".group_members (
  grp text NOT NULL,
  member text NOT NULL,
  topics text[] NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (grp, member)
);
-- One lease per (group, partition number) covers partition p of every topic the group reads, so
-- co-partitioned topics (execution-commands and worker-results) always move together.
CREATE TABLE IF NOT EXISTS "${s}".group_leases (
  grp text NOT NULL,
  partition int NOT NULL,
  owner text,
  epoch bigint NOT NULL DEFAULT 0,
  expires_at timestamptz,
  PRIMARY KEY (grp, partition)
);
-- Earlier layouts leased each topic-partition on its own.
DROP FUNCTION IF EXISTS "${s}".commit_unit(text, text, text, text[], int[], bigint[], text[], int[], text[], bytea[], text[], bigint[], text[], int[], bigint[], text[], int[], text[], bytea[], text[], int[], text[], text[], int[], bigint[], text[]);
DROP TABLE IF EXISTS "${s}".leases;
CREATE TABLE IF NOT EXISTS "${s}".state (
  store text NOT NULL,
  partition int NOT NULL,
  key text COLLATE "C" NOT NULL,
  value bytea NOT NULL,
  PRIMARY KEY (store, partition, key)
);
CREATE TABLE IF NOT EXISTS "${s}".state_checkpoints (
  store text NOT NULL,
  partition int NOT NULL,
  next bigint NOT NULL,
  PRIMARY KEY (store, partition)
);
CREATE OR REPLACE FUNCTION "${s}".commit_unit(
  p_group text, p_member text, p_channel text,
  f_partition int[], f_epoch bigint[],
  r_topic text[], r_partition int[], r_key text[], r_value bytea[], r_headers text[], r_ts bigint[],
  o_topic text[], o_partition int[], o_next bigint[],
  sp_store text[], sp_partition int[], sp_key text[], sp_value bytea[],
  sd_store text[], sd_partition int[], sd_key text[],
  sc_store text[], sc_partition int[], sc_next bigint[], sc_changelog text[]
) RETURNS TABLE (out_topic text, out_partition int, out_base bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  got int;
  tp record;
  b bigint;
BEGIN
  IF cardinality(f_partition) > 0 THEN
    -- Lock the leases (in a fixed order) so a takeover waits for this commit, and check the epochs.
    SELECT count(*) INTO got FROM (
      SELECT 1 FROM "${s}".group_leases l
      JOIN unnest(f_partition, f_epoch) AS f(part, epoch)
        ON l.partition = f.part AND l.epoch = f.epoch
      WHERE l.grp = p_group AND l.owner = p_member
      ORDER BY l.partition
      FOR UPDATE OF l) x;
    IF got <> cardinality(f_partition) THEN
      RAISE EXCEPTION 'member % of group % no longer owns a partition it commits', p_member, p_group USING ERRCODE = 'LNF01';
    END IF;
  END IF;
  FOR tp IN SELECT u.t, u.p, count(*)::bigint AS c FROM unnest(r_topic, r_partition) AS u(t, p) GROUP BY u.t, u.p ORDER BY u.t, u.p LOOP
    UPDATE "${s}".partitions SET next = next + tp.c WHERE topic = tp.t AND partition = tp.p RETURNING next - tp.c INTO b;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'partition %[%] does not exist', tp.t, tp.p USING ERRCODE = 'LNP01';
    END IF;
    INSERT INTO "${s}".records (topic, partition, "offset", key, value, headers, ts)
      SELECT u.t, u.p, b + row_number() OVER (ORDER BY u.ord) - 1, u.k, u.v, u.h::jsonb, u.ts
      FROM unnest(r_topic, r_partition, r_key, r_value, r_headers, r_ts) WITH ORDINALITY AS u(t, p, k, v, h, ts, ord)
      WHERE u.t = tp.t AND u.p = tp.p;
    PERFORM pg_notify(p_channel, tp.t || ':' || tp.p);
    out_topic := tp.t;
    out_partition := tp.p;
    out_base := b;
    RETURN NEXT;
  END LOOP;
  IF cardinality(o_topic) > 0 THEN
    INSERT INTO "${s}".group_offsets (grp, topic, partition, next)
      SELECT p_group, u.t, u.p, u.n FROM unnest(o_topic, o_partition, o_next) AS u(t, p, n)
      ON CONFLICT (grp, topic, partition) DO UPDATE SET next = EXCLUDED.next, committed_at = now();
  END IF;
  IF cardinality(sp_store) > 0 THEN
    INSERT INTO "${s}".state (store, partition, key, value)
      SELECT * FROM unnest(sp_store, sp_partition, sp_key, sp_value)
      ON CONFLICT (store, partition, key) DO UPDATE SET value = EXCLUDED.value;
  END IF;
  IF cardinality(sd_store) > 0 THEN
    DELETE FROM "${s}".state st USING unnest(sd_store, sd_partition, sd_key) AS u(s, p, k)
      WHERE st.store = u.s AND st.partition = u.p AND st.key = u.k;
  END IF;
  IF cardinality(sc_store) > 0 THEN
    INSERT INTO "${s}".state_checkpoints (store, partition, next)
      SELECT u.s, u.p, COALESCE(u.n, (SELECT pt.next FROM "${s}".partitions pt WHERE pt.topic = u.cl AND pt.partition = u.p))
      FROM unnest(sc_store, sc_partition, sc_next, sc_changelog) AS u(s, p, n, cl)
      ON CONFLICT (store, partition) DO UPDATE SET next = EXCLUDED.next;
  END IF;
END
$fn$;
`;
}
