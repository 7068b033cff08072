/**
 * Read-side benchmark: bulk-index N synthetic executions (and 10 log lines each) into a
 * repository — Postgres or Elasticsearch — reporting rows per second, then time the common
 * searches (median/p99 over repeated runs).
 *
 *   npx tsx bench/search.ts --backend postgres|elasticsearch [--n 1000000] [--runs 50]
 *
 * Postgres: LANNER_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test), a fresh
 * schema dropped afterwards. Elasticsearch: LANNER_BENCH_ELASTICSEARCH_URL or the node of
 * scripts/elasticsearch.sh (started when needed), fresh indices dropped afterwards.
 */
import { parseArgs } from "node:util";
import type { Execution, State } from "../processors/executor/model.js";
import { ElasticsearchRepository } from "../projections/elasticsearch/elasticsearch-repository.js";
import type { ExecutionQuery, LogEntry, LogSearch } from "../projections/repository.js";
import { summarize, writeResult } from "./lib/report.js";
import { openScratchRepository } from "./lib/scratch-repository.js";

const { values: args } = parseArgs({ options: { backend: { type: "string", default: "postgres" }, n: { type: "string", default: "100000" }, runs: { type: "string", default: "30" } } });
const N = Number(args.n);
const RUNS = Number(args.runs);
const LOGS_PER_EXECUTION = 10;
const STATES: State[] = ["SUCCESS", "SUCCESS", "SUCCESS", "FAILED", "RUNNING", "KILLED"];
const WORDS = ["connecting", "warehouse", "loaded", "rows", "retrying", "timeout", "done", "started", "batch", "upload"];

function execution(i: number, now: number): Execution {
  const start = new Date(now - (i % (60 * 24 * 3600)) * 1000).toISOString();
  const state = STATES[i % STATES.length];
  return {
    id: `ex${i.toString(36).padStart(8, "0")}`, tenantId: "main", namespace: `company.team${i % 20}`, flowId: `flow${i % 200}`, flowRevision: 1,
    state: { current: state, histories: [{ state: "CREATED", date: start }, { state, date: start }] },
    inputs: {}, labels: [{ key: "team", value: `t${i % 10}` }, { key: "env", value: i % 2 ? "prod" : "dev" }],
    taskRunList: [], originalId: `ex${i}`, attemptNumber: 1, startDate: start, ...(state === "RUNNING" ? {} : { endDate: start }),
  };
}

function logLines(e: Execution, i: number): LogEntry[] {
  return Array.from({ length: LOGS_PER_EXECUTION }, (_, k) => ({
    id: `${e.id}:${k}`, tenantId: "main", namespace: e.namespace, flowId: e.flowId, executionId: e.id, level: k === 9 && i % 7 === 0 ? "ERROR" : "INFO",
    message: `${WORDS[(i + k) % WORDS.length]} ${WORDS[(i * 3 + k) % WORDS.length]} item ${i}-${k}`, timestamp: new Date(Date.parse(e.startDate) + k * 100).toISOString(),
  }));
}

const open = () => openScratchRepository(args.backend === "elasticsearch" ? "elasticsearch" : "postgres");

async function main(): Promise<void> {
  const { repo, drop } = await open();
  const now = Date.now();
  try {
    const t0 = performance.now();
    const BATCH = 1_000;
    for (let i = 0; i < N; i += BATCH) {
      const rows = Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => execution(i + k, now));
      await repo.upsertExecutions(rows.map((execution, k) => ({ execution, version: BigInt(i + k) })));
    }
    const executionsPerSec = N / ((performance.now() - t0) / 1000);
    const t1 = performance.now();
    for (let i = 0; i < N; i += BATCH) {
      const lines: LogEntry[] = [];
      for (let k = i; k < Math.min(N, i + BATCH); k++) lines.push(...logLines(execution(k, now), k));
      await repo.appendLogs(lines);
    }
    const logLinesPerSec = (N * LOGS_PER_EXECUTION) / ((performance.now() - t1) / 1000);
    if (repo instanceof ElasticsearchRepository) await repo.refreshAll();
    process.stderr.write(`indexed ${N} executions (${Math.round(executionsPerSec)}/s) and ${N * LOGS_PER_EXECUTION} log lines (${Math.round(logLinesPerSec)}/s)\n`);

    const executionQueries: Record<string, ExecutionQuery> = {
      "latest page": { tenantId: "main" },
      "namespace prefix + state": { tenantId: "main", namespace: "company", states: ["FAILED"] },
      "flow + 7 days": { tenantId: "main", namespace: "company.team3", flowId: "flow3", startDate: new Date(now - 7 * 86400_000).toISOString() },
      "labels": { tenantId: "main", labels: [{ key: "team", value: "t3" }, { key: "env", value: "prod" }] },
      "free text": { tenantId: "main", query: "flow17" },
    };
    const logQueries: Record<string, LogSearch> = {
      "log words": { tenantId: "main", query: "warehouse timeout" },
      "log errors of a namespace": { tenantId: "main", namespace: "company.team4", minLevel: "ERROR" },
      "logs of an execution": { executionId: execution(12345 % N, now).id },
    };
    const results: Record<string, unknown> = {};
    for (const [name, q] of Object.entries(executionQueries)) {
      const samples: number[] = [];
      let total = 0;
      for (let r = 0; r < RUNS; r++) {
        const s = performance.now();
        total = (await repo.searchExecutions(q)).total;
        samples.push(performance.now() - s);
      }
      results[name] = { total, ms: summarize(samples) };
      process.stderr.write(`${name}: ${total} matches, ${JSON.stringify(summarize(samples))}\n`);
    }
    for (const [name, q] of Object.entries(logQueries)) {
      const samples: number[] = [];
      let total = 0;
      for (let r = 0; r < RUNS; r++) {
        const s = performance.now();
        total = (await repo.searchLogs(q)).total;
        samples.push(performance.now() - s);
      }
      results[name] = { total, ms: summarize(samples) };
      process.stderr.write(`${name}: ${total} matches, ${JSON.stringify(summarize(samples))}\n`);
    }
    const file = writeResult("search", args.backend ?? "postgres", { n: N, logLines: N * LOGS_PER_EXECUTION, runs: RUNS, executionsPerSec, logLinesPerSec, queries: results });
    process.stderr.write(`wrote ${file}\n`);
  } finally {
    await repo.close();
    await drop();
  }
}

await main();
