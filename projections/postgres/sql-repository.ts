import { LannerError } from "../../common/errors.js";
import { isTerminal, type Execution } from "../../processors/executor/model.js";
import type { Flow } from "../../schemas/flow-types.js";
import {
  levelRank,
  type DailyStat,
  type ExecutionQuery,
  type ExecutionUpsert,
  type FlowKey,
  type FlowRevision,
  type LogEntry,
  type LogLevel,
  type LogQuery,
  type LogSearch,
  type Page,
  type Repository,
  type SaveFlowResult,
  type StoredExecution,
  type StatsQuery,
  type StoredTrigger,
  type TriggerQuery,
  type TriggerUpsert,
} from "../repository.js";
import type { State } from "../../processors/executor/model.js";
import type { IndexedKind } from "../indexer.js";
import type { Reindexable, ReindexTarget } from "../reindex.js";
import { TerminalWaiters } from "../terminal-waiters.js";
import {
  dedupeUpserts,
  labelToken,
  nextExecutionCursor,
  nextLogCursor,
  nextTriggerCursor,
  resolveExecutionQuery,
  resolveLogSearch,
  resolveStatsQuery,
  resolveTriggerQuery,
  searchTextsOf,
  truncateMessage,
} from "../query.js";
import { repositoryDdl } from "./ddl.js";
import { quoteIdent, type SqlClient, type SqlQueryable } from "./sql-client.js";

/** Options of `SqlRepository`. */
export interface SqlRepositoryOptions {
  client: SqlClient;
  /** The schema holding the tables (created when missing); default `lanner`. */
  schema?: string;
  /** Closes `client` on `close()`; default true. */
  ownsClient?: boolean;
}

/** The columns a log entry is read from (not the stored `tsv`). */
const LOG_COLUMNS = "id, execution_id, tenant_id, namespace, flow_id, task_run_id, task_id, attempt, level, message, ts, worker_id";

// Keeps every statement well under Postgres's 65,535 bind parameters.
const ROWS_PER_STATEMENT = 400;

type Row = Record<string, unknown>;

function iso(v: unknown): string {
  if (v instanceof Date) return v.toISOString();
  if (typeof v === "string") return new Date(v).toISOString();
  throw new LannerError("REPOSITORY_CORRUPT", `expected a timestamp, got ${typeof v}`);
}

function json<T>(v: unknown): T {
  // pg and PGlite parse jsonb already; a text column would come as a string.
  return (typeof v === "string" ? JSON.parse(v) : v) as T;
}

function toFlowRevision(r: Row): FlowRevision {
  return {
    tenantId: String(r.tenant_id),
    namespace: String(r.namespace),
    id: String(r.id),
    revision: Number(r.revision),
    source: String(r.source),
    flow: json<Flow>(r.flow),
    deleted: Boolean(r.deleted),
    updated: iso(r.updated),
  };
}

function toLogEntry(r: Row): LogEntry {
  const e: LogEntry = {
    id: String(r.id),
    tenantId: String(r.tenant_id),
    namespace: String(r.namespace),
    flowId: String(r.flow_id),
    executionId: String(r.execution_id),
    level: String(r.level) as LogLevel,
    message: String(r.message),
    timestamp: iso(r.ts),
  };
  if (r.task_run_id !== null && r.task_run_id !== undefined) e.taskRunId = String(r.task_run_id);
  if (r.task_id !== null && r.task_id !== undefined) e.taskId = String(r.task_id);
  if (r.attempt !== null && r.attempt !== undefined) e.attemptNumber = Number(r.attempt);
  if (r.worker_id !== null && r.worker_id !== undefined) e.workerId = String(r.worker_id);
  return e;
}

function toTrigger(r: Row): StoredTrigger {
  return {
    key: String(r.key), tenantId: String(r.tenant_id), namespace: String(r.namespace), flowId: String(r.flow_id),
    triggerId: String(r.trigger_id), value: r.value === null || r.value === undefined ? null : json<unknown>(r.value),
    version: BigInt(String(r.version)), updated: iso(r.updated),
  };
}

/** Escapes LIKE wildcards so a namespace matches literally. */
function likePrefix(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Multi-row VALUES placeholders: `($1,$2),($3,$4)` for 2 rows of 2 columns, with optional casts. */
function placeholders(rows: number, casts: string[]): string {
  const out: string[] = [];
  let n = 1;
  for (let i = 0; i < rows; i++) out.push(`(${casts.map((c) => `$${n++}${c}`).join(",")})`);
  return out.join(",");
}

/**
 * JSON text for a jsonb column. Postgres refuses the NUL character in jsonb and text; a task output
 * holding one (binary read as text) would otherwise block the indexer for good, so NUL becomes U+FFFD.
 */
function toJsonb(v: unknown): string {
  const text = JSON.stringify(v);
  if (!text.includes("\\u0000")) return text;
  // An escape `\u0000` is one preceded by an even number of backslashes (keys and values alike).
  return text.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, "$1\\ufffd");
}

const noNul = (s: string) => (s.includes("\u0000") ? s.replaceAll("\u0000", "\uFFFD") : s);

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * The repository in SQL, one code path for a Postgres server (its own schema) and for PGlite.
 * Terminal executions are announced with NOTIFY on a channel named after the schema, so a webserver
 * in another process waiting for an execution wakes when the indexer writes it.
 */
/** The table of each projected kind. */
const TABLE_OF: Record<IndexedKind, string> = { executions: "repo_executions", logs: "repo_logs", flows: "repo_flows", triggers: "repo_triggers" };

export class SqlRepository implements Repository, Reindexable {
  private readonly client: SqlClient;
  private readonly s: string;
  private readonly channel: string;
  private readonly ownsClient: boolean;
  private readonly waiters = new TerminalWaiters();
  private listening: Promise<() => Promise<void>> | undefined;
  private closed = false;

  private readonly schemaName: string;

  constructor(opts: SqlRepositoryOptions) {
    const schema = opts.schema ?? "lanner";
    this.schemaName = schema;
    this.client = opts.client;
    this.s = quoteIdent(schema);
    this.channel = `${schema}_execution_ended`.slice(0, 63);
    this.ownsClient = opts.ownsClient ?? true;
  }

  async init(): Promise<void> {
    // Two processes starting at once would race on CREATE … IF NOT EXISTS; serialise them.
    await this.client.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`lanner-repository-ddl:${this.s}`]);
      for (const stmt of repositoryDdl(this.s)) await tx.query(stmt);
    });
  }

  // ---- flows -----------------------------------------------------------------------------------

  async saveFlow(key: FlowKey, source: string, flow: Flow): Promise<SaveFlowResult> {
    return this.client.transaction(async (tx) => {
      // Revision numbers are assigned under a per-flow lock, so two saves never pick the same one.
      await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`lanner-flow:${key.tenantId}/${key.namespace}/${key.id}`]);
      const latest = await this.latestRevision(tx, key);
      if (latest && !latest.deleted && latest.source === source) return { revision: latest, created: false };
      const revision = (latest?.revision ?? 0) + 1;
      const stored: Flow = { ...flow, revision };
      const r = await tx.query(
        `INSERT INTO ${this.s}.repo_flows (tenant_id, namespace, id, revision, source, flow, deleted, updated)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, false, now()) RETURNING *`,
        [key.tenantId, key.namespace, key.id, revision, source, toJsonb(stored)],
      );
      return { revision: toFlowRevision(r.rows[0]), created: true };
    });
  }

  private async latestRevision(q: SqlQueryable, key: FlowKey): Promise<FlowRevision | undefined> {
    const r = await q.query(
      `SELECT * FROM ${this.s}.repo_flows WHERE tenant_id = $1 AND namespace = $2 AND id = $3 ORDER BY revision DESC LIMIT 1`,
      [key.tenantId, key.namespace, key.id],
    );
    return r.rows[0] ? toFlowRevision(r.rows[0]) : undefined;
  }

  async getFlow(key: FlowKey, revision?: number): Promise<FlowRevision | undefined> {
    if (revision === undefined) {
      const latest = await this.latestRevision(this.client, key);
      return latest && !latest.deleted ? latest : undefined;
    }
    const r = await this.client.query(
      `SELECT * FROM ${this.s}.repo_flows WHERE tenant_id = $1 AND namespace = $2 AND id = $3 AND revision = $4`,
      [key.tenantId, key.namespace, key.id, revision],
    );
    return r.rows[0] ? toFlowRevision(r.rows[0]) : undefined;
  }

  async listFlows(tenantId: string, namespace?: string): Promise<FlowRevision[]> {
    const params: unknown[] = [tenantId];
    let where = "tenant_id = $1";
    if (namespace !== undefined) {
      params.push(namespace, `${likePrefix(namespace)}.%`);
      where += " AND (namespace = $2 OR namespace LIKE $3)";
    }
    const r = await this.client.query(
      `SELECT * FROM (
         SELECT DISTINCT ON (namespace, id) * FROM ${this.s}.repo_flows WHERE ${where}
         ORDER BY namespace, id, revision DESC
       ) latest WHERE NOT deleted ORDER BY namespace, id`,
      params,
    );
    return r.rows.map(toFlowRevision);
  }

  async listFlowRevisions(key: FlowKey): Promise<FlowRevision[]> {
    const r = await this.client.query(
      `SELECT * FROM ${this.s}.repo_flows WHERE tenant_id = $1 AND namespace = $2 AND id = $3 ORDER BY revision`,
      [key.tenantId, key.namespace, key.id],
    );
    return r.rows.map(toFlowRevision);
  }

  async deleteFlow(key: FlowKey): Promise<boolean> {
    return this.client.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`lanner-flow:${key.tenantId}/${key.namespace}/${key.id}`]);
      const latest = await this.latestRevision(tx, key);
      if (!latest || latest.deleted) return false;
      await tx.query(
        `INSERT INTO ${this.s}.repo_flows (tenant_id, namespace, id, revision, source, flow, deleted, updated)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, true, now())`,
        [key.tenantId, key.namespace, key.id, latest.revision + 1, latest.source, JSON.stringify({ ...latest.flow, revision: latest.revision + 1 })],
      );
      return true;
    });
  }

  // ---- executions ------------------------------------------------------------------------------

  async upsertExecutions(rows: ExecutionUpsert[]): Promise<void> {
    const unique = dedupeUpserts(rows);
    if (unique.length === 0) return;
    const ended = unique.filter((r) => isTerminal(r.execution.state.current)).map((r) => r.execution.id);
    await this.client.transaction(async (tx) => {
      for (const part of chunks(unique, ROWS_PER_STATEMENT)) {
        const params: unknown[] = [];
        for (const { execution: e, version, fold } of part) {
          params.push(e.id, e.tenantId, e.namespace, e.flowId, e.state.current, e.startDate, e.endDate ?? null,
            version.toString(), toJsonb(e), fold === undefined ? null : toJsonb(fold),
            (e.labels ?? []).map((l) => noNul(labelToken(l))), searchTextsOf(e).map(noNul));
        }
        await tx.query(
          `INSERT INTO ${this.s}.repo_executions AS x (id, tenant_id, namespace, flow_id, state, start_date, end_date, version, execution, fold, labels, search)
           VALUES ${placeholders(part.length, ["", "", "", "", "", "::timestamptz", "::timestamptz", "::bigint", "::jsonb", "::jsonb", "::text[]", "::text[]"])}
           ON CONFLICT (id) DO UPDATE SET tenant_id = EXCLUDED.tenant_id, namespace = EXCLUDED.namespace,
             flow_id = EXCLUDED.flow_id, state = EXCLUDED.state, start_date = EXCLUDED.start_date,
             end_date = EXCLUDED.end_date, version = EXCLUDED.version, execution = EXCLUDED.execution, fold = EXCLUDED.fold,
             labels = EXCLUDED.labels, search = EXCLUDED.search
           WHERE x.version < EXCLUDED.version`,
          params,
        );
      }
      // Delivered at commit, to webservers of other processes waiting for these executions.
      for (const id of ended) await tx.query("SELECT pg_notify($1, $2)", [this.channel, id]);
    });
    this.waiters.wake(ended);
  }

  async getExecution(id: string): Promise<Execution | undefined> {
    const r = await this.client.query(`SELECT execution FROM ${this.s}.repo_executions WHERE id = $1`, [id]);
    return r.rows[0] ? json<Execution>(r.rows[0].execution) : undefined;
  }

  async getStoredExecutions(ids: string[]): Promise<Map<string, StoredExecution>> {
    const out = new Map<string, StoredExecution>();
    const unique = [...new Set(ids)];
    for (const part of chunks(unique, 1000)) {
      const ph = part.map((_, i) => `$${i + 1}`).join(",");
      const r = await this.client.query(`SELECT id, version, execution, fold FROM ${this.s}.repo_executions WHERE id IN (${ph})`, part);
      for (const row of r.rows) {
        const stored: StoredExecution = { execution: json<Execution>(row.execution), version: BigInt(String(row.version)) };
        if (row.fold !== null && row.fold !== undefined) stored.fold = json<unknown>(row.fold);
        out.set(String(row.id), stored);
      }
    }
    return out;
  }

  async searchExecutions(q: ExecutionQuery): Promise<Page<Execution>> {
    const r = resolveExecutionQuery(q);
    const params: unknown[] = [];
    const where: string[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    if (r.tenantId !== undefined) where.push(`tenant_id = ${p(r.tenantId)}`);
    if (r.namespace !== undefined) where.push(`(namespace = ${p(r.namespace)} OR namespace LIKE ${p(`${likePrefix(r.namespace)}.%`)})`);
    if (r.flowId !== undefined) where.push(`flow_id = ${p(r.flowId)}`);
    if (r.states.length > 0) where.push(`state IN (${r.states.map((s) => p(s)).join(",")})`);
    if (r.from !== undefined) where.push(`start_date >= ${p(r.from)}::timestamptz`);
    if (r.to !== undefined) where.push(`start_date < ${p(r.to)}::timestamptz`);
    if (r.labels.length > 0) where.push(`labels @> ${p(r.labels.map(labelToken))}::text[]`);
    if (r.text !== undefined) where.push(`EXISTS (SELECT 1 FROM unnest(search) AS t(s) WHERE t.s LIKE ${p(`%${likePrefix(r.text)}%`)})`);
    const cond = where.length ? `WHERE ${where.join(" AND ")}` : "";
    const count = await this.client.query(`SELECT count(*) AS n FROM ${this.s}.repo_executions ${cond}`, [...params]);
    // Text sorts byte-wise (COLLATE "C"), as Elasticsearch keywords and the memory repository do.
    const col = r.sort.field === "startDate" ? "start_date" : r.sort.field === "namespace" ? `namespace COLLATE "C"` : `flow_id COLLATE "C"`;
    const dir = r.sort.order === "asc" ? "ASC" : "DESC";
    const pageWhere = [...where];
    if (r.after !== undefined) {
      const v = r.sort.field === "startDate" ? `${p(r.after.value)}::timestamptz` : p(r.after.value);
      pageWhere.push(`(${col} ${r.sort.order === "asc" ? ">" : "<"} ${v} OR (${col} = ${v} AND id COLLATE "C" > ${p(r.after.id)}))`);
    }
    const rows = await this.client.query(
      `SELECT execution FROM ${this.s}.repo_executions ${pageWhere.length ? `WHERE ${pageWhere.join(" AND ")}` : ""}
       ORDER BY ${col} ${dir}, id COLLATE "C" LIMIT ${r.size} OFFSET ${r.after === undefined ? r.offset : 0}`,
      params,
    );
    const results = rows.rows.map((row) => json<Execution>(row.execution));
    const page: Page<Execution> = { results, total: Number(count.rows[0]?.n ?? 0) };
    const next = nextExecutionCursor(r, results);
    if (next !== undefined) page.nextCursor = next;
    return page;
  }

  async dailyStats(q: StatsQuery): Promise<DailyStat[]> {
    const r = resolveStatsQuery(q);
    const params: unknown[] = [r.from];
    const where = ["start_date >= $1::timestamptz"];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    if (r.to !== undefined) where.push(`start_date < ${p(r.to)}::timestamptz`);
    if (r.tenantId !== undefined) where.push(`tenant_id = ${p(r.tenantId)}`);
    if (r.namespace !== undefined) where.push(`(namespace = ${p(r.namespace)} OR namespace LIKE ${p(`${likePrefix(r.namespace)}.%`)})`);
    if (r.flowId !== undefined) where.push(`flow_id = ${p(r.flowId)}`);
    const res = await this.client.query(
      `SELECT to_char(start_date AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, namespace, flow_id, state, count(*) AS n
       FROM ${this.s}.repo_executions WHERE ${where.join(" AND ")}
       GROUP BY 1, 2, 3, 4 ORDER BY day, namespace COLLATE "C", flow_id COLLATE "C", state COLLATE "C"`,
      params,
    );
    return res.rows.map((row) => ({
      date: String(row.day), namespace: String(row.namespace), flowId: String(row.flow_id), state: String(row.state) as State, count: Number(row.n),
    }));
  }

  async waitForTerminal(id: string, timeoutMs: number): Promise<Execution | undefined> {
    if (this.closed) return undefined;
    await this.ensureListening();
    return this.waiters.wait(id, timeoutMs, () => this.getExecution(id));
  }

  private async ensureListening(): Promise<void> {
    if (!this.listening) {
      this.listening = this.client.listen(this.channel, (id) => this.waiters.wake([id]), () => this.waiters.wakeAll());
      this.listening.catch(() => {
        // Let the next waiter try again; this one fails with the error.
        this.listening = undefined;
      });
    }
    await this.listening;
  }

  // ---- logs --------------------------------------------------------------------------------------

  async deleteExecution(id: string): Promise<boolean> {
    return this.client.transaction(async (tx) => {
      await tx.query(`DELETE FROM ${this.s}.repo_logs WHERE execution_id = $1`, [id]);
      const r = await tx.query(`DELETE FROM ${this.s}.repo_executions WHERE id = $1 RETURNING id`, [id]);
      return r.rows.length > 0;
    });
  }

  async appendLogs(entries: LogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.client.transaction(async (tx) => {
      for (const part of chunks(entries, ROWS_PER_STATEMENT)) {
        const params: unknown[] = [];
        for (const e of part) {
          params.push(e.id, e.executionId, e.tenantId, e.namespace, e.flowId, e.taskRunId ?? null, e.taskId ?? null,
            e.attemptNumber ?? null, e.level, levelRank(e.level), noNul(truncateMessage(e.message)), e.timestamp, e.workerId ?? null);
        }
        await tx.query(
          `INSERT INTO ${this.s}.repo_logs (id, execution_id, tenant_id, namespace, flow_id, task_run_id, task_id, attempt, level, level_rank, message, ts, worker_id)
           VALUES ${placeholders(part.length, ["", "", "", "", "", "", "", "::integer", "", "::smallint", "", "::timestamptz", ""])}
           ON CONFLICT (id) DO NOTHING`,
          params,
        );
      }
    });
  }

  async listLogs(executionId: string, q: LogQuery = {}): Promise<LogEntry[]> {
    const params: unknown[] = [executionId];
    let where = "execution_id = $1";
    if (q.taskRunId !== undefined) {
      params.push(q.taskRunId);
      where += ` AND task_run_id = $${params.length}`;
    }
    if (q.minLevel !== undefined) {
      params.push(levelRank(q.minLevel));
      where += ` AND level_rank >= $${params.length}`;
    }
    const r = await this.client.query(`SELECT ${LOG_COLUMNS} FROM ${this.s}.repo_logs WHERE ${where} ORDER BY ts, seq`, params);
    return r.rows.map(toLogEntry);
  }

  async searchLogs(q: LogSearch): Promise<Page<LogEntry>> {
    const r = resolveLogSearch(q);
    const params: unknown[] = [];
    const where: string[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    if (r.tenantId !== undefined) where.push(`tenant_id = ${p(r.tenantId)}`);
    if (r.namespace !== undefined) where.push(`(namespace = ${p(r.namespace)} OR namespace LIKE ${p(`${likePrefix(r.namespace)}.%`)})`);
    if (r.flowId !== undefined) where.push(`flow_id = ${p(r.flowId)}`);
    if (r.executionId !== undefined) where.push(`execution_id = ${p(r.executionId)}`);
    if (r.taskRunId !== undefined) where.push(`task_run_id = ${p(r.taskRunId)}`);
    if (r.minRank !== undefined) where.push(`level_rank >= ${p(r.minRank)}`);
    if (r.from !== undefined) where.push(`ts >= ${p(r.from)}::timestamptz`);
    if (r.to !== undefined) where.push(`ts < ${p(r.to)}::timestamptz`);
    // `tsv` is the stored to_tsvector('simple', message), GIN-indexed (repo_logs_tsv).
    if (r.text !== undefined) where.push(`tsv @@ plainto_tsquery('simple', ${p(r.text)})`);
    const cond = where.length ? `WHERE ${where.join(" AND ")}` : "";
    const count = await this.client.query(`SELECT count(*) AS n FROM ${this.s}.repo_logs ${cond}`, [...params]);
    const pageWhere = [...where];
    if (r.after !== undefined) {
      const v = `${p(r.after.value)}::timestamptz`;
      pageWhere.push(`(ts ${r.order === "asc" ? ">" : "<"} ${v} OR (ts = ${v} AND id COLLATE "C" ${r.order === "asc" ? ">" : "<"} ${p(r.after.id)}))`);
    }
    const dir = r.order === "asc" ? "ASC" : "DESC";
    const rows = await this.client.query(
      `SELECT ${LOG_COLUMNS} FROM ${this.s}.repo_logs ${pageWhere.length ? `WHERE ${pageWhere.join(" AND ")}` : ""}
       ORDER BY ts ${dir}, id COLLATE "C" ${dir} LIMIT ${r.size}`,
      params,
    );
    const results = rows.rows.map(toLogEntry);
    const page: Page<LogEntry> = { results, total: Number(count.rows[0]?.n ?? 0) };
    const next = nextLogCursor(r, results);
    if (next !== undefined) page.nextCursor = next;
    return page;
  }

  // ---- flows from the log, triggers ----------------------------------------------------------------

  async putFlowRevision(rev: FlowRevision): Promise<void> {
    await this.client.query(
      `INSERT INTO ${this.s}.repo_flows (tenant_id, namespace, id, revision, source, flow, deleted, updated)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8::timestamptz) ON CONFLICT DO NOTHING`,
      [rev.tenantId, rev.namespace, rev.id, rev.revision, noNul(rev.source), toJsonb(rev.flow), rev.deleted, rev.updated],
    );
  }

  async upsertTriggers(rows: TriggerUpsert[]): Promise<void> {
    const byKey = new Map<string, TriggerUpsert>();
    for (const r of rows) {
      const prev = byKey.get(r.key);
      if (!prev || prev.version < r.version) byKey.set(r.key, r);
    }
    if (byKey.size === 0) return;
    await this.client.transaction(async (tx) => {
      for (const part of chunks([...byKey.values()], ROWS_PER_STATEMENT)) {
        const params: unknown[] = [];
        for (const t of part) {
          params.push(t.key, t.tenantId, t.namespace, t.flowId, t.triggerId, t.value === null ? null : toJsonb(t.value), t.version.toString(), t.updated);
        }
        await tx.query(
          `INSERT INTO ${this.s}.repo_triggers AS x (key, tenant_id, namespace, flow_id, trigger_id, value, version, updated)
           VALUES ${placeholders(part.length, ["", "", "", "", "", "::jsonb", "::bigint", "::timestamptz"])}
           ON CONFLICT (key) DO UPDATE SET tenant_id = EXCLUDED.tenant_id, namespace = EXCLUDED.namespace, flow_id = EXCLUDED.flow_id,
             trigger_id = EXCLUDED.trigger_id, value = EXCLUDED.value, version = EXCLUDED.version, updated = EXCLUDED.updated
           WHERE x.version < EXCLUDED.version`,
          params,
        );
      }
    });
  }

  async getTrigger(key: string): Promise<StoredTrigger | undefined> {
    const r = await this.client.query(`SELECT * FROM ${this.s}.repo_triggers WHERE key = $1 AND value IS NOT NULL`, [key]);
    return r.rows[0] ? toTrigger(r.rows[0]) : undefined;
  }

  async searchTriggers(q: TriggerQuery): Promise<Page<StoredTrigger>> {
    const r = resolveTriggerQuery(q);
    const params: unknown[] = [];
    const where = ["value IS NOT NULL"];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    if (r.tenantId !== undefined) where.push(`tenant_id = ${p(r.tenantId)}`);
    if (r.namespace !== undefined) where.push(`(namespace = ${p(r.namespace)} OR namespace LIKE ${p(`${likePrefix(r.namespace)}.%`)})`);
    if (r.flowId !== undefined) where.push(`flow_id = ${p(r.flowId)}`);
    const count = await this.client.query(`SELECT count(*) AS n FROM ${this.s}.repo_triggers WHERE ${where.join(" AND ")}`, [...params]);
    if (r.afterKey !== undefined) where.push(`key COLLATE "C" > ${p(r.afterKey)}`);
    const rows = await this.client.query(
      `SELECT * FROM ${this.s}.repo_triggers WHERE ${where.join(" AND ")} ORDER BY key COLLATE "C" LIMIT ${r.size}`, params);
    const results = rows.rows.map(toTrigger);
    const page: Page<StoredTrigger> = { results, total: Number(count.rows[0]?.n ?? 0) };
    const next = nextTriggerCursor(r, results);
    if (next !== undefined) page.nextCursor = next;
    return page;
  }

  // ---- reindex -------------------------------------------------------------------------------------

  /**
   * Fresh tables in a staging schema beside this one; `swap` drops the live tables of `kinds` and
   * moves the fresh ones into this schema in one transaction (readers see the old tables or the
   * new ones, never neither), then drops the staging schema.
   */
  async stageReindex(kinds: readonly IndexedKind[]): Promise<ReindexTarget> {
    const staging = `${this.schemaName.slice(0, 40)}_rx_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    const repository = new SqlRepository({ client: this.client, schema: staging, ownsClient: false });
    await repository.init();
    const st = quoteIdent(staging);
    return {
      repository,
      swap: async () => {
        await this.client.transaction(async (tx) => {
          await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`lanner-repository-ddl:${this.s}`]);
          for (const kind of new Set(kinds)) {
            const table = TABLE_OF[kind];
            await tx.query(`DROP TABLE IF EXISTS ${this.s}.${table}`);
            await tx.query(`ALTER TABLE ${st}.${table} SET SCHEMA ${this.s}`);
          }
          await tx.query(`DROP SCHEMA ${st} CASCADE`);
        });
      },
      abort: async () => {
        await this.client.query(`DROP SCHEMA IF EXISTS ${st} CASCADE`);
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.waiters.closeAll();
    const l = this.listening;
    this.listening = undefined;
    if (l) await l.then((stop) => stop(), () => undefined);
    if (this.ownsClient) await this.client.close();
  }
}
