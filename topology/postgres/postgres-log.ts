/**
 * The Postgres Log (through `pg`): records, offsets, leases and state in tables of one schema.
 * A unit of work is one `commit_unit` call (one statement: one transaction, one round trip).
 *
 * Groups across processes: each member registers in `group_members` and heartbeats its member
 * row and its partition leases every `heartbeatMs`; a lease lapses after `leaseMs`. A lease is
 * per (group, partition number) and covers partition p of every topic the group reads, so
 * co-partitioned topics move together (Kafka's range assignor on co-partitioned topics). Every
 * member computes the same range assignment of partition numbers over the live members (sorted
 * by id), releases what is no longer its share and claims its share when free or expired
 * (epoch + 1). Commits are fenced by the lease epoch under a row lock, so a member that lost a
 * partition (expired, taken over) cannot commit it. Consumers wake on LISTEN/NOTIFY (one dedicated connection per Log); group
 * changes are announced the same way so a join or leave rebalances without waiting a heartbeat.
 *
 * A lost connection is fatal: the Log stops all delivery and tells its `onFatal` listeners (the
 * process exits and a supervisor restarts it); its leases then lapse and others take over.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { LannerError } from "../../common/errors.js";
import { PostgresStateStore } from "../../stores/postgres-state-store.js";
import type { StateBatch, StateStore } from "../../stores/state-store.js";
import { validateStoreName } from "../../stores/state-store.js";
import { newDelivery, rangeAssign, startDelivery, stopDelivery, tpKey, Wakeups, type Delivery, type DeliverySource } from "../delivery.js";
import {
  closedError,
  fencedError,
  groupPartitionsMismatchError,
  partitionsMismatchError,
  unknownTopicError,
  validateTopicName,
} from "../errors.js";
import type {
  AppendResult,
  AssignedPartition,
  Commit,
  FatalListener,
  GroupMember,
  JoinOptions,
  Log,
  LogRecord,
  Membership,
  ProduceRecord,
  TopicPartition,
  TopicSpec,
} from "../log.js";
import { DEFAULT_GROUP_EXPIRY_MS } from "../log.js";
import { checkOffset, checkPartition, resolvePartition, stateList } from "../produce.js";
import { LocalTail } from "./local-tail.js";
import { SCHEMA_NAME, schemaSql } from "./schema-sql.js";

export interface PostgresLogOptions {
  /** Connection string, e.g. postgres://user@127.0.0.1:5432/db. */
  url: string;
  /** Schema holding the log's tables (default `lanner`). */
  schema?: string;
  /** A lease lapses this long after its last heartbeat (default 5000 ms). */
  leaseMs?: number;
  /** Heartbeat period of leases and member rows (default 1000 ms). */
  heartbeatMs?: number;
  /** `application_name` of every connection (default `lanner-<random>`). */
  applicationName?: string;
  /** Pool size for reads and commits (default 8). */
  poolSize?: number;
  /** A group with no live member and no join or commit for this long is forgotten by `purge` (default one day). */
  groupExpiryMs?: number;
}

const DEFAULT_MAX_BATCH = 256;

/** Errors that mean the connection (not the statement) failed. */
function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") {
    if (code.startsWith("08") || code.startsWith("57P") || code === "53300") return true;
    if (["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "ENOTFOUND"].includes(code)) return true;
  }
  return /Connection terminated|connection ended|Client has encountered a connection error|Client was closed/i.test(err.message);
}

/** The `application_name` of a connection URL, if it sets one (it wins over pg's option). */
function applicationNameOf(url: string): string | undefined {
  try {
    return new URL(url).searchParams.get("application_name") ?? undefined;
  } catch {
    return undefined;
  }
}

/** The server process id of a connected client (pg sets it; its typings omit it). */
function backendPid(c: unknown): number | undefined {
  const pid = typeof c === "object" && c !== null ? (c as { processID?: unknown }).processID : undefined;
  return typeof pid === "number" ? pid : undefined;
}

function codeOf(err: unknown): string | undefined {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : undefined;
}

interface Row {
  [k: string]: unknown;
}

export class PostgresLog implements Log {
  readonly backend = "postgres";
  /** Units travel over pooled connections and commit in whatever order they finish. */
  readonly commitsInOrder = false;
  readonly schema: string;
  readonly applicationName: string;
  private readonly pool: pg.Pool;
  private readonly listener: pg.Client;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly groupExpiryMs: number;
  private readonly topics = new Map<string, TopicSpec>();
  private readonly members = new Set<PgMember>();
  private readonly stores = new Map<string, PostgresStateStore>();
  private readonly fatalListeners = new Set<FatalListener>();
  readonly wakeups = new Wakeups();
  /** Records this process committed and the partitions' ends as far as known: reads it can answer skip the table. */
  private readonly tail = new LocalTail();
  /** Backend pids of the pool's connections: their NOTIFYs are this process's own commits, already handled. */
  private readonly ownPids = new Set<number>();
  private closed = false;
  private dead: Error | undefined;
  readonly recordsChannel: string;
  readonly groupsChannel: string;

  private constructor(options: PostgresLogOptions, schema: string) {
    this.schema = schema;
    this.applicationName = options.applicationName ?? applicationNameOf(options.url) ?? `lanner-${randomUUID().slice(0, 8)}`;
    this.leaseMs = options.leaseMs ?? 5_000;
    this.heartbeatMs = options.heartbeatMs ?? 1_000;
    this.groupExpiryMs = options.groupExpiryMs ?? DEFAULT_GROUP_EXPIRY_MS;
    this.recordsChannel = `${schema}_records`;
    this.groupsChannel = `${schema}_groups`;
    this.pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 8, application_name: this.applicationName });
    this.listener = new pg.Client({ connectionString: options.url, application_name: this.applicationName });
    // An idle pooled connection that dies is as fatal as a failing query.
    this.pool.on("error", (err) => this.fail(err));
    this.pool.on("connect", (c) => {
      const pid = backendPid(c);
      if (pid !== undefined) this.ownPids.add(pid);
    });
    this.pool.on("remove", (c) => {
      const pid = backendPid(c);
      if (pid !== undefined) this.ownPids.delete(pid);
    });
    this.listener.on("error", (err) => this.fail(err));
    this.listener.on("end", () => {
      if (!this.closed) this.fail(new Error("the notification connection ended"));
    });
    this.listener.on("notification", (n) => this.onNotification(n.channel, n.payload ?? "", n.processId));
  }

  /** Connects, creates the schema's tables if needed and starts listening. */
  static async open(options: PostgresLogOptions): Promise<PostgresLog> {
    const schema = options.schema ?? "lanner";
    if (!SCHEMA_NAME.test(schema)) {
      throw new LannerError("SCHEMA_NAME_INVALID", `Postgres schema name ${JSON.stringify(schema)} is invalid: use lower-case letters, digits and "_" (at most 40).`);
    }
    const log = new PostgresLog(options, schema);
    try {
      await log.listener.connect();
      const c = await log.pool.connect();
      try {
        await c.query("BEGIN");
        // Concurrent first starts must not race on CREATE … IF NOT EXISTS.
        await c.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`lanner-schema:${schema}`]);
        await c.query(schemaSql(schema));
        await c.query("COMMIT");
      } catch (err) {
        await c.query("ROLLBACK").catch(() => undefined);
        throw err;
      } finally {
        c.release();
      }
      await log.listener.query(`LISTEN "${log.recordsChannel}"`);
      await log.listener.query(`LISTEN "${log.groupsChannel}"`);
      await log.loadTopics();
    } catch (err) {
      log.closed = true;
      await log.listener.end().catch(() => undefined);
      await log.pool.end().catch(() => undefined);
      throw new LannerError("POSTGRES_UNAVAILABLE", `Cannot open the Postgres log (schema ${schema}): ${err instanceof Error ? err.message : String(err)}`, {
        retriable: true,
        cause: err,
      });
    }
    return log;
  }

  // ---- failure handling ---------------------------------------------------------------------

  /** True once closed or dead: delivery and heartbeats stop. */
  halted(): boolean {
    return this.closed || this.dead !== undefined;
  }

  private fail(err: unknown): void {
    if (this.closed || this.dead !== undefined) return;
    const fatal = new LannerError(
      "POSTGRES_CONNECTION_LOST",
      `Lost the connection to Postgres (schema ${this.schema}): ${err instanceof Error ? err.message : String(err)}. The process must restart.`,
      { retriable: true, cause: err },
    );
    this.dead = fatal;
    for (const m of this.members) m.halt();
    for (const l of this.fatalListeners) l(fatal);
  }

  /** Runs a query; a connection failure makes the log fatal and rejects with the fatal error. */
  async query<R extends Row = Row>(config: pg.QueryConfig | string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    if (this.closed) throw closedError(this.backend);
    if (this.dead !== undefined) throw this.dead;
    try {
      return typeof config === "string" ? await this.pool.query<R>(config, values) : await this.pool.query<R>(config);
    } catch (err) {
      if (isConnectionError(err)) {
        this.fail(err);
        throw this.dead ?? err;
      }
      throw err;
    }
  }

  private onNotification(channel: string, payload: string, pid: number): void {
    if (channel === this.recordsChannel) {
      // This process's own commits updated the tail and woke its consumers when commit_unit returned.
      if (this.ownPids.has(pid)) return;
      const i = payload.lastIndexOf(":");
      if (i <= 0) return;
      const topic = payload.slice(0, i);
      const partition = Number(payload.slice(i + 1));
      this.tail.grew(topic, partition);
      this.wakeups.notify(topic, partition);
    } else if (channel === this.groupsChannel) {
      for (const m of this.members) if (m.group === payload) m.schedule();
    }
  }

  /** Tells every process that `group` changed, so its members rebalance now. */
  async announce(group: string): Promise<void> {
    await this.query("SELECT pg_notify($1, $2)", [this.groupsChannel, group]);
  }

  // ---- topics -------------------------------------------------------------------------------

  private async loadTopics(): Promise<void> {
    const r = await this.query<{ name: string; partitions: number; retention_ms: string | null }>(
      `SELECT name, partitions, retention_ms FROM "${this.schema}".topics`,
    );
    for (const row of r.rows) {
      this.topics.set(row.name, {
        name: row.name,
        partitions: row.partitions,
        ...(row.retention_ms === null ? {} : { retentionMs: Number(row.retention_ms) }),
      });
    }
  }

  async ensureTopics(specs: TopicSpec[]): Promise<void> {
    if (this.halted()) throw this.dead ?? closedError(this.backend);
    for (const s of specs) {
      validateTopicName(s.name);
      if (!Number.isInteger(s.partitions) || s.partitions <= 0) throw partitionsMismatchError(s.name, 0, s.partitions);
    }
    const c = await this.pool.connect();
    try {
      await c.query("BEGIN");
      await c.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`lanner-topics:${this.schema}`]);
      const existing = await c.query<{ name: string; partitions: number }>(`SELECT name, partitions FROM "${this.schema}".topics WHERE name = ANY($1)`, [
        specs.map((s) => s.name),
      ]);
      const known = new Map(existing.rows.map((r) => [r.name, r.partitions]));
      for (const s of specs) {
        const n = known.get(s.name);
        if (n !== undefined && n !== s.partitions) throw partitionsMismatchError(s.name, n, s.partitions);
      }
      for (const s of specs) {
        if (known.has(s.name)) continue;
        known.set(s.name, s.partitions);
        await c.query(`INSERT INTO "${this.schema}".topics (name, partitions, retention_ms) VALUES ($1, $2, $3)`, [s.name, s.partitions, s.retentionMs ?? null]);
        await c.query(`INSERT INTO "${this.schema}".partitions (topic, partition) SELECT $1, generate_series(0, $2 - 1)`, [s.name, s.partitions]);
      }
      await c.query("COMMIT");
    } catch (err) {
      await c.query("ROLLBACK").catch(() => undefined);
      if (isConnectionError(err)) this.fail(err);
      throw err;
    } finally {
      c.release();
    }
    await this.loadTopics();
  }

  partitionsOf(topic: string): number {
    const t = this.topics.get(topic);
    if (t === undefined) throw unknownTopicError(topic);
    return t.partitions;
  }

  private check(topic: string, partition: number): void {
    checkPartition({ topic, partition }, this.partitionsOf(topic));
  }

  // ---- appends and commits ------------------------------------------------------------------

  append(records: ProduceRecord[]): Promise<AppendResult[]> {
    return this.commitUnit(undefined, { produce: records, offsets: [] }, [], []);
  }

  /**
   * One unit of work through `commit_unit`; `fence` lists the group's partition leases (with
   * epochs) it requires; `member.topic` names the partition in a FENCED error.
   */
  async commitUnit(
    member: { group: string; id: string; topic: string } | undefined,
    c: Commit,
    states: StateBatch[],
    fence: Array<{ partition: number; epoch: bigint }>,
  ): Promise<AppendResult[]> {
    if (this.halted()) throw this.dead ?? closedError(this.backend);
    const placed = c.produce.map((r) => ({ r, partition: resolvePartition(r, this.partitionsOf(r.topic)) }));
    for (const o of c.offsets) {
      this.check(o.topic, o.partition);
      checkOffset(o.next);
    }
    for (const s of states) {
      validateStoreName(s.store);
      if (s.changelogTopic !== undefined) this.check(s.changelogTopic, s.partition);
    }
    const now = Date.now();
    // Puts deduplicated per key (last wins) so one upsert never touches a row twice.
    const puts = new Map<string, [string, number, string, Buffer]>();
    const dels = new Map<string, [string, number, string]>();
    const cps = new Map<string, [string, number, string | null, string | null]>();
    for (const s of states) {
      for (const [k, v] of s.puts) puts.set(`${s.store}\0${s.partition}\0${k}`, [s.store, s.partition, k, Buffer.from(v)]);
      for (const k of s.deletes) dels.set(`${s.store}\0${s.partition}\0${k}`, [s.store, s.partition, k]);
      if (s.changelogTopic !== undefined || s.offset !== undefined) {
        cps.set(`${s.store}\0${s.partition}`, [s.store, s.partition, s.changelogTopic === undefined ? String(s.offset) : null, s.changelogTopic ?? null]);
      }
    }
    for (const k of dels.keys()) puts.delete(k);
    const col = <T, U>(rows: T[], f: (x: T) => U): U[] => rows.map(f);
    const f = fence;
    const p = [...puts.values()];
    const d = [...dels.values()];
    const cp = [...cps.values()];
    const values: unknown[] = [
      member?.group ?? "",
      member?.id ?? "",
      this.recordsChannel,
      col(f, (x) => x.partition),
      col(f, (x) => x.epoch.toString()),
      col(placed, (x) => x.r.topic),
      col(placed, (x) => x.partition),
      col(placed, (x) => x.r.key),
      col(placed, (x) => Buffer.from(x.r.value)),
      col(placed, (x) => JSON.stringify(x.r.headers ?? {})),
      col(placed, (x) => x.r.timestamp ?? now),
      col(c.offsets, (x) => x.topic),
      col(c.offsets, (x) => x.partition),
      col(c.offsets, (x) => x.next.toString()),
      col(p, (x) => x[0]),
      col(p, (x) => x[1]),
      col(p, (x) => x[2]),
      col(p, (x) => x[3]),
      col(d, (x) => x[0]),
      col(d, (x) => x[1]),
      col(d, (x) => x[2]),
      col(cp, (x) => x[0]),
      col(cp, (x) => x[1]),
      col(cp, (x) => x[2]),
      col(cp, (x) => x[3]),
    ];
    let rows: Array<{ out_topic: string; out_partition: number; out_base: string }>;
    try {
      const r = await this.query<{ out_topic: string; out_partition: number; out_base: string }>({
        name: `${this.schema}.commit_unit`,
        text: `SELECT * FROM "${this.schema}".commit_unit($1, $2, $3, $4::int[], $5::bigint[], $6::text[], $7::int[], $8::text[], $9::bytea[], $10::text[], $11::bigint[], $12::text[], $13::int[], $14::bigint[], $15::text[], $16::int[], $17::text[], $18::bytea[], $19::text[], $20::int[], $21::text[], $22::text[], $23::int[], $24::bigint[], $25::text[])`,
        values,
      });
      rows = r.rows;
    } catch (err) {
      if (codeOf(err) === "LNF01" && member !== undefined) {
        throw fencedError(member.group, member.topic, f[0]?.partition ?? -1, member.id);
      }
      throw err;
    }
    const bases = new Map(rows.map((r) => [tpKey(r.out_topic, r.out_partition), BigInt(r.out_base)]));
    const results = placed.map(({ r, partition }) => {
      const key = tpKey(r.topic, partition);
      const offset = bases.get(key) ?? 0n;
      bases.set(key, offset + 1n);
      this.tail.committed({ topic: r.topic, partition, offset, key: r.key, value: r.value, headers: { ...r.headers }, timestamp: r.timestamp ?? now });
      return { topic: r.topic, partition, offset };
    });
    // Local consumers need not wait for the NOTIFY round trip (they ignore its echo).
    for (const row of rows) this.wakeups.notify(row.out_topic, row.out_partition);
    return results;
  }

  // ---- reads --------------------------------------------------------------------------------

  async readBatch(topic: string, partition: number, from: bigint, max: number): Promise<LogRecord[]> {
    this.check(topic, partition);
    const served = this.tail.serve(topic, partition, from, max);
    if (served !== undefined) return served;
    const epoch = this.tail.readStarts(topic, partition);
    const r = await this.query<{ offset: string; key: string; value: Buffer; headers: Record<string, string>; ts: string }>({
      name: `${this.schema}.read`,
      text: `SELECT "offset", key, value, headers, ts FROM "${this.schema}".records WHERE topic = $1 AND partition = $2 AND "offset" >= $3 ORDER BY "offset" LIMIT $4`,
      values: [topic, partition, from.toString(), max],
    });
    const got = r.rows.map((row) => ({
      topic,
      partition,
      offset: BigInt(row.offset),
      key: row.key,
      value: new Uint8Array(row.value),
      headers: row.headers,
      timestamp: Number(row.ts),
    }));
    this.tail.read(topic, partition, from, got, max, epoch);
    return got;
  }

  async *readPartition(topic: string, partition: number, from: bigint): AsyncIterable<LogRecord> {
    let pos = from;
    for (;;) {
      const batch = await this.readBatch(topic, partition, pos, 512);
      if (batch.length === 0) return;
      for (const r of batch) yield r;
      pos = batch[batch.length - 1].offset + 1n;
    }
  }

  async endOffset(topic: string, partition: number): Promise<bigint> {
    this.check(topic, partition);
    const r = await this.query<{ next: string }>(`SELECT next FROM "${this.schema}".partitions WHERE topic = $1 AND partition = $2`, [topic, partition]);
    return r.rows.length === 0 ? 0n : BigInt(r.rows[0].next);
  }

  async committed(group: string, topic: string, partition: number): Promise<bigint> {
    this.check(topic, partition);
    const r = await this.query<{ next: string }>({
      name: `${this.schema}.committed`,
      text: `SELECT next FROM "${this.schema}".group_offsets WHERE grp = $1 AND topic = $2 AND partition = $3`,
      values: [group, topic, partition],
    });
    return r.rows.length === 0 ? 0n : BigInt(r.rows[0].next);
  }

  // ---- groups -------------------------------------------------------------------------------

  async join(group: string, topics: string[], member: GroupMember, options: JoinOptions = {}): Promise<Membership> {
    if (this.halted()) throw this.dead ?? closedError(this.backend);
    if (group.length === 0) throw new LannerError("GROUP_NAME_INVALID", "Consumer group name must be non-empty.");
    const unique = [...new Set(topics)];
    const counts: Record<string, number> = {};
    for (const t of unique) counts[t] = this.partitionsOf(t);
    // Co-partitioning: the topics of this member and of the group's live members share one count.
    const others = await this.query<{ topic: string; partitions: number }>(
      `SELECT DISTINCT u.topic, t.partitions FROM "${this.schema}".group_members m, unnest(m.topics) AS u(topic)
       JOIN "${this.schema}".topics t ON t.name = u.topic WHERE m.grp = $1 AND m.expires_at > now()`,
      [group],
    );
    for (const r of others.rows) counts[r.topic] ??= r.partitions;
    if (new Set(Object.values(counts)).size > 1) throw groupPartitionsMismatchError(group, counts);
    const partitions = unique.length === 0 ? 0 : counts[unique[0]];
    const m = new PgMember(
      this, group, unique, partitions, member, options.memberId ?? randomUUID(), options.maxBatch ?? DEFAULT_MAX_BATCH, this.leaseMs, options.ephemeral === true,
    );
    this.members.add(m);
    await m.start(this.heartbeatMs);
    return {
      memberId: m.id,
      assignment: () => m.assignment(),
      commit: (c, state) => m.commit(c, state),
      leave: async () => {
        await m.leave();
        this.members.delete(m);
      },
    };
  }

  // ---- retention ----------------------------------------------------------------------------

  /**
   * Forgets `groups` that have no live member: their offsets, subscriptions, leases and member
   * rows. Resolves with the groups actually forgotten.
   */
  async forgetGroups(groups: string[]): Promise<string[]> {
    if (groups.length === 0) return [];
    const r = await this.query<{ grp: string }>(
      `WITH g AS (
         SELECT unnest($1::text[]) AS grp
         EXCEPT SELECT grp FROM "${this.schema}".group_members WHERE expires_at > now()
       ), o AS (DELETE FROM "${this.schema}".group_offsets x USING g WHERE x.grp = g.grp),
       t AS (DELETE FROM "${this.schema}".group_topics x USING g WHERE x.grp = g.grp),
       l AS (DELETE FROM "${this.schema}".group_leases x USING g WHERE x.grp = g.grp),
       m AS (DELETE FROM "${this.schema}".group_members x USING g WHERE x.grp = g.grp)
       SELECT grp FROM g`,
      [groups],
    );
    return r.rows.map((row) => row.grp);
  }

  /** Groups with no live member whose last join, commit or heartbeat is older than `before` (epoch ms). */
  private async idleGroups(before: number): Promise<string[]> {
    const r = await this.query<{ grp: string }>(
      `SELECT grp FROM (
         SELECT grp, joined_at AS at FROM "${this.schema}".group_topics
         UNION ALL SELECT grp, committed_at FROM "${this.schema}".group_offsets
         UNION ALL SELECT grp, expires_at FROM "${this.schema}".group_members
       ) a GROUP BY grp HAVING max(at) < to_timestamp($1::double precision / 1000)`,
      [before],
    );
    return r.rows.map((row) => row.grp);
  }

  async purge(now: number = Date.now()): Promise<number> {
    if (this.halted()) throw this.dead ?? closedError(this.backend);
    // One purger per schema at a time: the others skip this round.
    let c: pg.PoolClient;
    try {
      c = await this.pool.connect();
    } catch (err) {
      if (isConnectionError(err)) this.fail(err);
      throw this.dead ?? err;
    }
    const lock = `lanner-purge:${this.schema}`;
    try {
      const got = await c.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtext($1)) AS ok", [lock]);
      if (got.rows[0]?.ok !== true) return 0;
      try {
        await this.forgetGroups(await this.idleGroups(now - this.groupExpiryMs));
        return await this.purgeRecords(now);
      } finally {
        await c.query("SELECT pg_advisory_unlock(hashtext($1))", [lock]);
      }
    } catch (err) {
      if (isConnectionError(err)) this.fail(err);
      throw this.dead ?? err;
    } finally {
      c.release();
    }
  }

  private async purgeRecords(now: number): Promise<number> {
    await this.loadTopics();
    let purged = 0;
    for (const t of this.topics.values()) {
      if (t.retentionMs === undefined) continue;
      const cutoff = now - t.retentionMs;
      for (let p = 0; p < t.partitions; p++) {
        // Below every durable reading group's committed offset, oldest first while old enough.
        const r = await this.query(
          `WITH bound AS (
             SELECT LEAST(
               (SELECT next FROM "${this.schema}".partitions WHERE topic = $1 AND partition = $2),
               COALESCE((SELECT min(COALESCE(o.next, 0)) FROM "${this.schema}".group_topics gt
                         LEFT JOIN "${this.schema}".group_offsets o ON o.grp = gt.grp AND o.topic = gt.topic AND o.partition = $2
                         WHERE gt.topic = $1 AND NOT gt.ephemeral), 9223372036854775807)) AS b
           ), young AS (
             SELECT min("offset") AS y FROM "${this.schema}".records, bound
             WHERE topic = $1 AND partition = $2 AND "offset" < bound.b AND ts >= $3
           )
           DELETE FROM "${this.schema}".records r USING bound, young
           WHERE r.topic = $1 AND r.partition = $2 AND r."offset" < LEAST(bound.b, COALESCE(young.y, bound.b))`,
          [t.name, p, cutoff],
        );
        purged += r.rowCount ?? 0;
        if ((r.rowCount ?? 0) > 0) this.tail.purged(t.name, p);
      }
    }
    return purged;
  }

  // ---- state --------------------------------------------------------------------------------

  stateStore(name: string, partition: number): StateStore {
    validateStoreName(name);
    const key = `${name}/${partition}`;
    let s = this.stores.get(key);
    if (s === undefined) {
      s = new PostgresStateStore(this.pool, this.schema, (batch) => this.commitUnit(undefined, { produce: [], offsets: [] }, [batch], []).then(() => undefined), name, partition);
      this.stores.set(key, s);
    }
    return s;
  }

  onFatal(listener: FatalListener): () => void {
    this.fatalListeners.add(listener);
    return () => this.fatalListeners.delete(listener);
  }

  /** Stops delivery and heartbeats, frees this process's leases (best effort) and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    const alive = this.dead === undefined;
    for (const m of this.members) m.halt();
    await Promise.allSettled([...this.members].map((m) => m.stopped()));
    if (alive) {
      for (const m of this.members) await m.release().catch(() => undefined);
    }
    this.closed = true;
    this.members.clear();
    await this.listener.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }

  /** Members' access to the pool under the fatal-error policy. */
  source(group: string): DeliverySource {
    return {
      wakeups: this.wakeups,
      read: (t, p, from, max) => this.readBatch(t, p, from, max),
      committed: (t, p) => this.committed(group, t, p),
      halted: () => this.halted(),
    };
  }
}


/** A partition number this member holds: the lease epoch and one delivery per topic it reads. */
interface OwnedPartition {
  epoch: bigint;
  deliveries: Delivery[];
}

/**
 * One member of a group in this process: heartbeats, rebalancing, fenced commits. It leases
 * partition NUMBERS of its group (one lease covers partition p of every topic it reads), so the
 * co-partitioned topics of a group always change owner together.
 */
class PgMember {
  private readonly owned = new Map<number, OwnedPartition>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly topicSet: Set<string>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private rerun = false;
  private active = true;
  private renewing = false;
  private readonly s: string;
  private readonly src: DeliverySource;

  constructor(
    private readonly log: PostgresLog,
    readonly group: string,
    private readonly topics: string[],
    /** Partition count shared by every topic of the group. */
    private readonly partitions: number,
    private readonly impl: GroupMember,
    readonly id: string,
    private readonly maxBatch: number,
    private readonly leaseMs: number,
    readonly ephemeral: boolean,
  ) {
    this.s = log.schema;
    this.src = log.source(group);
    this.topicSet = new Set(topics);
  }

  async start(heartbeatMs: number): Promise<void> {
    // The member row first: while it lives, group expiry never forgets the group being joined.
    await this.log.query(
      `INSERT INTO "${this.s}".group_members (grp, member, topics, expires_at) VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')
       ON CONFLICT (grp, member) DO UPDATE SET topics = EXCLUDED.topics, expires_at = EXCLUDED.expires_at`,
      [this.group, this.id, this.topics, this.leaseMs],
    );
    await this.log.query(
      `INSERT INTO "${this.s}".group_topics (grp, topic, ephemeral, joined_at) SELECT $1, unnest($2::text[]), $3, now()
       ON CONFLICT (grp, topic) DO UPDATE SET ephemeral = EXCLUDED.ephemeral, joined_at = EXCLUDED.joined_at`,
      [this.group, this.topics, this.ephemeral],
    );
    await this.log.announce(this.group);
    // Renewal runs on its own so a slow onAssign (restoring state) never lets the leases lapse.
    this.timer = setInterval(() => {
      void this.renew();
      void this.schedule();
    }, heartbeatMs);
    await this.schedule();
  }

  /** Extends the member row and this member's leases; a failure is handled like any query failure. */
  private async renew(): Promise<void> {
    if (this.renewing || !this.active || this.log.halted()) return;
    this.renewing = true;
    try {
      await this.log.query(
        `UPDATE "${this.s}".group_members SET expires_at = now() + $3 * interval '1 millisecond' WHERE grp = $1 AND member = $2`,
        [this.group, this.id, this.leaseMs],
      );
      await this.extendLeases();
    } catch (err) {
      if (!this.log.halted()) this.impl.onError?.(err, { topic: this.topics[0] ?? "", partition: -1 });
    } finally {
      this.renewing = false;
    }
  }

  /**
   * Extends every lease this member holds; resolves with their epochs. Rows are locked in
   * partition order (as `commit_unit` does), so concurrent statements wait instead of deadlocking.
   */
  private async extendLeases(): Promise<Map<number, bigint>> {
    const r = await this.log.query<{ partition: number; epoch: string }>(
      `UPDATE "${this.s}".group_leases l SET expires_at = now() + $3 * interval '1 millisecond'
       FROM (SELECT partition FROM "${this.s}".group_leases WHERE grp = $1 AND owner = $2 ORDER BY partition FOR UPDATE) k
       WHERE l.grp = $1 AND l.partition = k.partition
       RETURNING l.partition, l.epoch`,
      [this.group, this.id, this.leaseMs],
    );
    return new Map(r.rows.map((row) => [row.partition, BigInt(row.epoch)]));
  }

  /** Frees the given leases (partition, epoch) if this member still holds them, in partition order. */
  private async freeLeases(leases: Array<[number, bigint]>): Promise<void> {
    await this.log.query(
      `UPDATE "${this.s}".group_leases l SET owner = NULL, expires_at = NULL
       FROM (SELECT partition FROM "${this.s}".group_leases
             WHERE grp = $1 AND owner = $2 AND (partition, epoch) IN (SELECT * FROM unnest($3::int[], $4::bigint[]))
             ORDER BY partition FOR UPDATE) k
       WHERE l.grp = $1 AND l.partition = k.partition`,
      [this.group, this.id, leases.map(([p]) => p), leases.map(([, e]) => e.toString())],
    );
  }

  assignment(): TopicPartition[] {
    return [...this.owned.values()].flatMap((o) => o.deliveries.map((d) => ({ ...d.tp })));
  }

  /** Runs a reconcile now, or once more after the running one. */
  schedule(): Promise<void> {
    if (!this.active || this.log.halted()) return Promise.resolve();
    if (this.running !== undefined) {
      this.rerun = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.rerun = false;
        try {
          await this.reconcile();
        } catch (err) {
          // Connection failures already made the log fatal; anything else is reported and retried next heartbeat.
          if (!this.log.halted()) this.impl.onError?.(err, { topic: this.topics[0] ?? "", partition: -1 });
        }
      } while (this.rerun && this.active && !this.log.halted());
      this.running = undefined;
    })();
    return this.running;
  }

  private async reconcile(): Promise<void> {
    const s = this.s;
    const interval = this.leaseMs;
    // 1. Heartbeat: the member row and every lease still ours; anything else we held is lost.
    await this.log.query(
      `INSERT INTO "${s}".group_members (grp, member, topics, expires_at) VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')
       ON CONFLICT (grp, member) DO UPDATE SET expires_at = EXCLUDED.expires_at`,
      [this.group, this.id, this.topics, interval],
    );
    const held = await this.extendLeases();
    const lost = [...this.owned.entries()].filter(([p, o]) => held.get(p) !== o.epoch);
    if (lost.length > 0) await this.revoke(lost, false);
    if (!this.active || this.log.halted()) return;

    // 2. The live members, and this member's range of partition numbers.
    const live = await this.log.query<{ member: string }>(
      `SELECT member FROM "${s}".group_members WHERE grp = $1 AND expires_at > now() ORDER BY member`,
      [this.group],
    );
    const members = live.rows.map((r) => r.member);
    const i = members.indexOf(this.id);
    const target = new Set(i < 0 ? [] : rangeAssign(this.partitions, members.length)[i]);

    // 3. Release what is no longer ours, so its new owner can claim it — and leases this member
    // holds without knowing (a release that failed half-way), which nobody else could claim.
    const extra = [...this.owned.entries()].filter(([p]) => !target.has(p));
    const stray = [...held.keys()].filter((p) => !this.owned.has(p) && !target.has(p));
    if (stray.length > 0) await this.freeLeases(stray.map((p) => [p, held.get(p) ?? 0n]));
    if (extra.length > 0) await this.revoke(extra, true);
    if (extra.length > 0 || stray.length > 0) await this.log.announce(this.group);
    if (!this.active || this.log.halted()) return;

    // 4. Claim our share where the lease is free, expired or already ours.
    // Ascending, like every statement that locks several leases, so they never deadlock.
    const wanted = [...target].filter((p) => !this.owned.has(p)).sort((a, b) => a - b);
    if (wanted.length === 0) return;
    const claimed = await this.log.query<{ partition: number; epoch: string }>(
      `INSERT INTO "${s}".group_leases AS l (grp, partition, owner, epoch, expires_at)
         SELECT $1, u.p, $2, 1, now() + $4 * interval '1 millisecond' FROM unnest($3::int[]) AS u(p)
       ON CONFLICT (grp, partition) DO UPDATE SET owner = EXCLUDED.owner, epoch = l.epoch + 1, expires_at = EXCLUDED.expires_at
         WHERE l.owner IS NULL OR l.expires_at IS NULL OR l.expires_at < now() OR l.owner = EXCLUDED.owner
       RETURNING partition, epoch`,
      [this.group, this.id, wanted, interval],
    );
    if (claimed.rows.length === 0) return;
    const offsets = await this.log.query<{ topic: string; partition: number; next: string }>(
      `SELECT topic, partition, next FROM "${s}".group_offsets WHERE grp = $1 AND topic = ANY($2::text[]) AND partition = ANY($3::int[])`,
      [this.group, this.topics, claimed.rows.map((r) => r.partition)],
    );
    const next = new Map(offsets.rows.map((r) => [tpKey(r.topic, r.partition), BigInt(r.next)]));
    const added: AssignedPartition[] = [];
    const deliveries: Delivery[] = [];
    for (const r of [...claimed.rows].sort((a, b) => a.partition - b.partition)) {
      const own: OwnedPartition = { epoch: BigInt(r.epoch), deliveries: [] };
      for (const topic of this.topics) {
        const d = newDelivery({ topic, partition: r.partition }, next.get(tpKey(topic, r.partition)) ?? 0n);
        own.deliveries.push(d);
        deliveries.push(d);
        added.push({ topic, partition: r.partition, next: d.position });
      }
      this.owned.set(r.partition, own);
    }
    await this.impl.onAssign(added);
    for (const d of deliveries) if (!d.stopped && !this.log.halted()) startDelivery(d, this.impl, this.maxBatch, this.src);
  }

  /**
   * Stops delivery of `entries`, waits for their commits, tells the member, then (optionally)
   * frees the leases — in that order, so nobody else owns a partition before this member heard
   * it lost it.
   */
  private async revoke(entries: Array<[number, OwnedPartition]>, free: boolean): Promise<void> {
    await Promise.all(entries.flatMap(([, o]) => o.deliveries.map((d) => stopDelivery(d))));
    await Promise.allSettled([...this.pending]);
    for (const [p] of entries) this.owned.delete(p);
    try {
      await this.impl.onRevoke(entries.flatMap(([, o]) => o.deliveries.map((d) => ({ ...d.tp }))));
    } finally {
      if (free) await this.freeLeases(entries.map(([p, o]) => [p, o.epoch]));
    }
  }

  commit(c: Commit, state?: StateBatch | StateBatch[]): Promise<AppendResult[]> {
    const fence: Array<{ partition: number; epoch: bigint }> = [];
    const seen = new Set<number>();
    for (const tp of [...c.offsets, ...(c.fence ?? [])]) {
      const o = this.owned.get(tp.partition);
      if (!this.active || o === undefined || !this.topicSet.has(tp.topic)) {
        return Promise.reject(fencedError(this.group, tp.topic, tp.partition, this.id));
      }
      if (!seen.has(tp.partition)) fence.push({ partition: tp.partition, epoch: o.epoch });
      seen.add(tp.partition);
    }
    const first = [...c.offsets, ...(c.fence ?? [])][0];
    const p = this.log.commitUnit({ group: this.group, id: this.id, topic: first?.topic ?? "?" }, c, stateList(state), fence);
    this.pending.add(p);
    const forget = () => this.pending.delete(p);
    p.then(forget, (err: unknown) => {
      forget();
      // A fenced commit means a lease moved: find out now rather than at the next heartbeat.
      if (err instanceof LannerError && err.code === "FENCED") void this.schedule();
    });
    return p;
  }

  async leave(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.running;
    const all = [...this.owned.entries()];
    if (this.log.halted()) {
      await Promise.allSettled(all.flatMap(([, o]) => o.deliveries.map((d) => stopDelivery(d))));
      return;
    }
    await this.revoke(all, true);
    await this.log.query(`DELETE FROM "${this.s}".group_members WHERE grp = $1 AND member = $2`, [this.group, this.id]);
    if (this.ephemeral) await this.log.forgetGroups([this.group]);
    await this.log.announce(this.group);
  }

  /** Stops heartbeats and delivery without calling the member back (close, fatal error). */
  halt(): void {
    this.active = false;
    if (this.timer !== undefined) clearInterval(this.timer);
    for (const o of this.owned.values()) {
      for (const d of o.deliveries) {
        d.stopped = true;
        d.interrupt?.();
      }
    }
  }

  /** Settles when delivery loops and the running reconcile ended. */
  async stopped(): Promise<void> {
    await Promise.allSettled([this.running, ...[...this.owned.values()].flatMap((o) => o.deliveries.map((d) => d.done))]);
  }

  /** Frees this member's leases and member row (on close), without callbacks. */
  async release(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    await this.log.query(
      `UPDATE "${this.s}".group_leases l SET owner = NULL, expires_at = NULL
       FROM (SELECT partition FROM "${this.s}".group_leases WHERE grp = $1 AND owner = $2 ORDER BY partition FOR UPDATE) k
       WHERE l.grp = $1 AND l.partition = k.partition`,
      [this.group, this.id],
    );
    await this.log.query(`DELETE FROM "${this.s}".group_members WHERE grp = $1 AND member = $2`, [this.group, this.id]);
    if (this.ephemeral) await this.log.forgetGroups([this.group]);
    await this.log.announce(this.group);
  }
}
