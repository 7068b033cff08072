/**
 * Read-side benchmark, two parts.
 *
 * `plans` (default): loads 1M executions and 10M log lines straight into the SQL repository's
 * tables of a fresh Postgres schema (`INSERT … SELECT … FROM generate_series`, secondary indexes
 * dropped during the load and rebuilt from their own definitions after it), then runs each common
 * query once through `SqlRepository` — so the statements are exactly the ones the repository sends —
 * and `EXPLAIN (ANALYZE, BUFFERS)` of each of them: the plan, the indexes it uses, any sequential
 * scan of a large table, and the execution time. The schema is dropped after.
 *
 *   npx tsx bench/index.ts plans [--executions 1000000] [--logs-per 10]
 *
 * `throughput`: a log filled with the events of N executions (a 3-task flow run by the executor's
 * reducer) and 10 log lines each, then one Indexer projecting it into Postgres or Elasticsearch;
 * events/s and lines/s from start to lag 0.
 *
 *   npx tsx bench/index.ts throughput --sink postgres|elasticsearch [--n 20000]
 *
 * Postgres: LANNER_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
 * Elasticsearch: LANNER_BENCH_ELASTICSEARCH_URL or the node of scripts/elasticsearch.sh.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import pg from "pg";
import { silentLogger } from "../common/logger.js";
import type { ExecutionEvent } from "../processors/executor/events.js";
import { encodeEvent, KIND, type LogLine } from "../processors/executor/shell/records.js";
import { avroRecordCodec as codec } from "../processors/worker/record-codec.js";
import { Indexer } from "../projections/indexer.js";
import { PgSqlClient } from "../projections/postgres/pg-client.js";
import type { SqlClient, SqlQueryable } from "../projections/postgres/sql-client.js";
import { SqlRepository } from "../projections/postgres/sql-repository.js";
import { MemoryLog } from "../topology/memory/memory-log.js";
import type { ProduceRecord } from "../topology/log.js";
import { topicCatalogue } from "../topology/topics.js";
import { ExecutorHarness } from "../test/harness/executor-harness.js";
import { round, writeResult } from "./lib/report.js";
import { BENCH_POSTGRES_URL, openScratchRepository } from "./lib/scratch-repository.js";

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    executions: { type: "string", default: "1000000" },
    "logs-per": { type: "string", default: "10" },
    sink: { type: "string", default: "postgres" },
    n: { type: "string", default: "20000" },
  },
});
const PG_URL = BENCH_POSTGRES_URL;
const say = (s: string) => process.stderr.write(`${s}\n`);

// ---- plans ------------------------------------------------------------------------------------

/** A SqlClient that remembers every statement sent outside a transaction (the searches). */
class RecordingClient implements SqlClient {
  readonly engine: string;
  sent: Array<{ text: string; params: unknown[] }> = [];

  constructor(private readonly inner: SqlClient) {
    this.engine = inner.engine;
  }

  query<R = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<{ rows: R[] }> {
    this.sent.push({ text, params });
    return this.inner.query<R>(text, params);
  }

  transaction<T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    return this.inner.transaction(fn);
  }

  listen(channel: string, onPayload: (payload: string) => void, onResync?: () => void): Promise<() => Promise<void>> {
    return this.inner.listen(channel, onPayload, onResync);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

const WORDS = ["connecting", "warehouse", "loaded", "rows", "retrying", "timeout", "done", "started", "batch", "upload"];

/** 1M executions spread over 60 days (≈ half inside the default 30-day window), as bench/search.ts shapes them. */
function executionInsert(s: string, from: number, to: number): string {
  const iso = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  return `
    INSERT INTO ${s}.repo_executions (id, tenant_id, namespace, flow_id, state, start_date, end_date, version, execution, fold, labels, search)
    SELECT id, 'main', ns, flow, st, sd, ed, i,
      jsonb_build_object('id', id, 'tenantId', 'main', 'namespace', ns, 'flowId', flow, 'flowRevision', 1,
        'state', jsonb_build_object('current', st, 'histories', jsonb_build_array(jsonb_build_object('state', 'CREATED', 'date', ${iso("sd")}), jsonb_build_object('state', st, 'date', ${iso("sd")}))),
        'inputs', '{}'::jsonb, 'labels', jsonb_build_array(jsonb_build_object('key', 'team', 'value', team), jsonb_build_object('key', 'env', 'value', env)),
        'taskRunList', '[]'::jsonb, 'originalId', id, 'attemptNumber', 1, 'startDate', ${iso("sd")})
        || CASE WHEN ed IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('endDate', ${iso("ed")}) END,
      NULL,
      ARRAY['["team","' || team || '"]', '["env","' || env || '"]'],
      ARRAY[lower(id), lower(flow), 'team:' || team, 'env:' || env]
    FROM (
      SELECT i, id, ns, flow, st, team, env, sd, CASE WHEN st = 'RUNNING' THEN NULL ELSE sd + interval '5 seconds' END AS ed
      FROM (
        SELECT i, 'ex' || lpad(to_hex(i), 8, '0') AS id, 'company.team' || (i % 20) AS ns, 'flow' || (i % 200) AS flow,
          (ARRAY['SUCCESS','SUCCESS','SUCCESS','FAILED','RUNNING','KILLED'])[i % 6 + 1] AS st,
          't' || (i % 10) AS team, CASE WHEN i % 2 = 1 THEN 'prod' ELSE 'dev' END AS env,
          $1::timestamptz - i * interval '5184 milliseconds' AS sd
        FROM generate_series(${from}, ${to - 1}) AS i
      ) a
    ) b`;
}

/** `perExecution` lines per execution, 100 ms apart from its start; every 7th execution's last line is an ERROR. */
function logInsert(s: string, from: number, to: number, perExecution: number): string {
  const words = `(ARRAY[${WORDS.map((w) => `'${w}'`).join(",")}])`;
  return `
    INSERT INTO ${s}.repo_logs (id, execution_id, tenant_id, namespace, flow_id, task_run_id, task_id, attempt, level, level_rank, message, ts, worker_id)
    SELECT eid || ':' || k, eid, 'main', 'company.team' || (i % 20), 'flow' || (i % 200), eid || '-tr' || (k % 3), 't' || (k % 3), 1,
      CASE WHEN k = ${perExecution - 1} AND i % 7 = 0 THEN 'ERROR' ELSE 'INFO' END,
      CASE WHEN k = ${perExecution - 1} AND i % 7 = 0 THEN 4 ELSE 2 END,
      ${words}[(i + k) % 10 + 1] || ' ' || ${words}[(i * 3 + k) % 10 + 1] || ' item ' || i || '-' || k,
      $1::timestamptz - i * interval '5184 milliseconds' + k * interval '100 milliseconds', 'w1'
    FROM (SELECT j / ${perExecution} AS i, j % ${perExecution} AS k, 'ex' || lpad(to_hex(j / ${perExecution}), 8, '0') AS eid
          FROM generate_series(${from}::bigint * ${perExecution}, ${to}::bigint * ${perExecution} - 1) AS j) g`;
}

interface PlanReport {
  statement: string;
  params: unknown[];
  /** Indexes the plan reads (Index Scan, Index Only Scan, Bitmap Index Scan). */
  indexes: string[];
  /** Tables read by a sequential scan (none is the goal for the large tables). */
  seqScans: string[];
  executionMs: number;
  plan: string[];
}

async function explain(db: pg.Client, text: string, params: unknown[]): Promise<PlanReport> {
  const r = await db.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, params);
  const plan = r.rows.map((row) => row["QUERY PLAN"]);
  const indexes = [...new Set(plan.flatMap((l) => [...l.matchAll(/(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? (?:using |on )(\w+)/g)].map((m) => m[1])))];
  const seqScans = [...new Set(plan.flatMap((l) => [...l.matchAll(/Seq Scan on (?:[\w"]+\.)?(\w+)/g)].map((m) => m[1])))];
  const ms = Number(/Execution Time: ([\d.]+) ms/.exec(plan.join("\n"))?.[1] ?? Number.NaN);
  return { statement: text.replace(/\s+/g, " ").trim(), params, indexes, seqScans, executionMs: ms, plan };
}

async function runPlans(): Promise<void> {
  const n = Number(args.executions);
  const perExecution = Number(args["logs-per"]);
  const schema = `bench_${randomBytes(4).toString("hex")}`;
  const s = `"${schema}"`;
  const recorder = new RecordingClient(new PgSqlClient({ url: PG_URL }));
  const repo = new SqlRepository({ client: recorder, schema });
  const db = new pg.Client({ connectionString: PG_URL });
  await db.connect();
  const now = new Date();
  try {
    await repo.init();
    await db.query("SET synchronous_commit = off");
    await db.query("SET maintenance_work_mem = '512MB'");
    // Secondary indexes are rebuilt from their own definitions after the load (faster than row by row).
    const idx = await db.query<{ indexname: string; indexdef: string }>(
      `SELECT i.indexname, i.indexdef FROM pg_indexes i
       WHERE i.schemaname = $1 AND i.tablename IN ('repo_executions', 'repo_logs')
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname AND c.connamespace = $1::regnamespace)`, [schema]);
    for (const i of idx.rows) await db.query(`DROP INDEX ${s}."${i.indexname}"`);

    const CHUNK = 100_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i += CHUNK) await db.query(executionInsert(s, i, Math.min(n, i + CHUNK)), [now.toISOString()]);
    const executionsLoadS = (performance.now() - t0) / 1000;
    say(`loaded ${n} executions in ${round(executionsLoadS, 1)} s`);
    const t1 = performance.now();
    for (let i = 0; i < n; i += CHUNK) {
      await db.query(logInsert(s, i, Math.min(n, i + CHUNK), perExecution), [now.toISOString()]);
      if ((i / CHUNK) % 10 === 9) say(`  ${(i + CHUNK) * perExecution} log lines, ${round((performance.now() - t1) / 1000, 1)} s`);
    }
    const logsLoadS = (performance.now() - t1) / 1000;
    say(`loaded ${n * perExecution} log lines in ${round(logsLoadS, 1)} s`);
    const t2 = performance.now();
    for (const i of idx.rows) {
      const ti = performance.now();
      await db.query(i.indexdef);
      say(`  index ${i.indexname}: ${round((performance.now() - ti) / 1000, 1)} s`);
    }
    await db.query(`ANALYZE ${s}.repo_executions`);
    await db.query(`ANALYZE ${s}.repo_logs`);
    const indexS = (performance.now() - t2) / 1000;
    const sizes = await db.query<{ relname: string; mb: string }>(
      `SELECT c.relname, round(pg_total_relation_size(c.oid) / 1048576.0) AS mb FROM pg_class c
       WHERE c.relnamespace = $1::regnamespace AND c.relname IN ('repo_executions', 'repo_logs')`, [schema]);

    const day = 86_400_000;
    const anId = `ex${(12345 % n).toString(16).padStart(8, "0")}`;
    const firstPage = await repo.searchExecutions({ tenantId: "main", size: 25 });
    const cases: Array<[string, () => Promise<unknown>]> = [
      ["executions: latest page (default 30-day window)", () => repo.searchExecutions({ tenantId: "main" })],
      ["executions: next page by cursor", () => repo.searchExecutions({ tenantId: "main", cursor: firstPage.nextCursor })],
      ["executions: namespace prefix + state", () => repo.searchExecutions({ tenantId: "main", namespace: "company", states: ["FAILED"] })],
      ["executions: namespace + flow, last 7 days", () => repo.searchExecutions({ tenantId: "main", namespace: "company.team3", flowId: "flow3", startDate: new Date(now.getTime() - 7 * day).toISOString() })],
      ["executions: two labels", () => repo.searchExecutions({ tenantId: "main", labels: [{ key: "team", value: "t3" }, { key: "env", value: "prod" }] })],
      ["executions: free text", () => repo.searchExecutions({ tenantId: "main", query: "flow17" })],
      ["executions: by id", () => repo.getExecution(anId)],
      ["stats: daily counts, 30 days", () => repo.dailyStats({ tenantId: "main" })],
      ["logs: words (full text)", () => repo.searchLogs({ tenantId: "main", query: "warehouse timeout" })],
      ["logs: errors of a namespace", () => repo.searchLogs({ tenantId: "main", namespace: "company.team4", minLevel: "ERROR" })],
      ["logs: search within an execution", () => repo.searchLogs({ executionId: anId })],
      ["logs: all lines of an execution", () => repo.listLogs(anId)],
    ];
    const plans: Record<string, PlanReport[]> = {};
    for (const [name, run] of cases) {
      recorder.sent = [];
      await run();
      plans[name] = [];
      for (const { text, params } of recorder.sent) plans[name].push(await explain(db, text, params));
      const line = plans[name].map((p) => `${p.indexes.join("+") || "no index"}${p.seqScans.length ? ` SEQ SCAN ${p.seqScans.join(",")}` : ""} ${p.executionMs} ms`).join(" | ");
      say(`${name}: ${line}`);
    }
    const file = writeResult("index-plans", "postgres", {
      executions: n, logLines: n * perExecution,
      load: { executionsS: round(executionsLoadS, 1), logLinesS: round(logsLoadS, 1), indexesS: round(indexS, 1), sizesMB: Object.fromEntries(sizes.rows.map((r) => [r.relname, Number(r.mb)])) },
      plans,
    });
    say(`wrote ${file}`);
  } finally {
    await repo.close();
    await db.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await db.end();
  }
}

// ---- throughput ---------------------------------------------------------------------------------

const FLOW = `id: indexed
namespace: company.bench
labels:
  team: data
tasks:
  - id: a
    type: io.kestra.plugin.core.debug.Return
    format: "a"
  - id: b
    type: io.kestra.plugin.core.debug.Return
    format: "b"
  - id: c
    type: io.kestra.plugin.core.debug.Return
    format: "c"
`;

const openSink = () => openScratchRepository(args.sink === "elasticsearch" ? "elasticsearch" : "postgres");

async function runThroughput(): Promise<void> {
  const n = Number(args.n);
  const linesPer = 10;
  const log = new MemoryLog();
  await log.ensureTopics(topicCatalogue({}).specs());
  const harness = new ExecutorHarness();
  const flow = harness.addFlow(FLOW);
  let events = 0;
  let lines = 0;
  const BATCH = 500;
  for (let i = 0; i < n; i += BATCH) {
    const records: ProduceRecord[] = [];
    for (let k = i; k < Math.min(n, i + BATCH); k++) {
      const id = harness.start(flow);
      harness.runTimersUntil(() => harness.isDone(id));
      const evs: ExecutionEvent[] = harness.events(id);
      events += evs.length;
      for (const e of evs) records.push({ topic: "executions", key: id, value: encodeEvent(codec, e) });
      const start = evs[0].at;
      for (let l = 0; l < linesPer; l++) {
        const line: LogLine = {
          tenantId: "main", namespace: flow.namespace, flowId: flow.id, executionId: id, taskRunId: `${id}-tr`, taskId: "a", attempt: 1,
          level: l === linesPer - 1 && k % 7 === 0 ? "ERROR" : "INFO", message: `${WORDS[(k + l) % 10]} ${WORDS[(k * 3 + l) % 10]} item ${k}-${l}`,
          timestamp: start + l, workerId: "w1",
        };
        records.push({ topic: "logs", key: id, value: codec.encode(KIND.logLine, line) });
        lines++;
      }
    }
    await log.append(records);
  }
  say(`log filled: ${n} executions, ${events} events, ${lines} log lines`);
  const { repo, drop } = await openSink();
  const indexer = new Indexer({ log, repository: repo, logger: silentLogger(), codec, kinds: ["executions", "logs"] });
  try {
    const t0 = performance.now();
    await indexer.start();
    // Bounded: at the slowest rate seen (≈ 500 events/s) a 20,000-execution run takes minutes, not hours.
    for (let i = 0; i < 120_000; i++) {
      if ((await indexer.lag()) === 0n) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - t0) / 1000;
    const lagLeft = Number(await indexer.lag());
    const eventsPerSec = events / seconds;
    const linesPerSec = lines / seconds;
    say(`${args.sink}: ${round(seconds, 1)} s, ${Math.round(eventsPerSec)} events/s with ${Math.round(linesPerSec)} log lines/s (lag left ${lagLeft})`);
    const file = writeResult("index-throughput", args.sink ?? "postgres", {
      executions: n, events, logLines: lines, seconds: round(seconds, 2), eventsPerSec: Math.round(eventsPerSec), logLinesPerSec: Math.round(linesPerSec),
      recordsPerSec: Math.round((events + lines) / seconds), lagLeft, stats: indexer.stats,
    });
    say(`wrote ${file}`);
  } finally {
    await indexer.stop();
    await repo.close();
    await drop();
    await log.close();
  }
}

const part = positionals[0] ?? "plans";
if (part === "plans") await runPlans();
else if (part === "throughput") await runThroughput();
else {
  say(`usage: npx tsx bench/index.ts plans|throughput [--executions N] [--logs-per N] [--sink postgres|elasticsearch] [--n N]`);
  process.exit(2);
}
