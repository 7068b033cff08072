/**
 * The repository on Elasticsearch 8. One index type per kind of document (executions, logs, flows,
 * triggers), each behind an alias with an index template giving explicit mappings (mappings.ts).
 * Writes go in bulk; executions and triggers are versioned by their log offset with
 * `version_type: external`, so Elasticsearch itself refuses an older version over a newer one
 * (a replay or a late writer); log lines are created once by id.
 *
 * Searches give the same results as the SQL repository: the same checks and defaults
 * (`../query.ts`), byte-order sorting of keywords, `search_after` cursors, exact totals.
 */
import { Client, errors } from "@elastic/elasticsearch";
import { LannerError, describeError } from "../../common/errors.js";
import { isTerminal, type Execution, type State } from "../../processors/executor/model.js";
import type { Flow } from "../../schemas/flow-types.js";
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
  type StatsQuery,
  type StoredExecution,
  type StoredTrigger,
  type TriggerQuery,
  type TriggerUpsert,
} from "../repository.js";
import type { IndexedKind } from "../indexer.js";
import type { Reindexable, ReindexTarget } from "../reindex.js";
import { TerminalWaiters } from "../terminal-waiters.js";
import { INDEX_SETTINGS, INDEX_TYPES, MAPPINGS, type IndexType } from "./mappings.js";

/** Options of `ElasticsearchRepository`. */
export interface ElasticsearchRepositoryOptions {
  /** Node URL, e.g. `http://127.0.0.1:9200`. */
  url: string;
  /** Prefix of every index, alias and template (lower case); default `lanner-`. */
  prefix?: string;
  /**
   * Refresh after each write so searches see it at once (`true`, tests), wait for the next
   * refresh (`wait_for`), or not (`false`, the default: searches see writes within the index's
   * refresh interval, one second). Reads by id are real-time either way.
   */
  refresh?: boolean | "wait_for";
  /** Per-request timeout (ms); default 30,000. */
  requestTimeoutMs?: number;
  /**
   * Write into these concrete indices instead of the aliases (a reindex's fresh indices, swapped
   * in by `swapAliases`). Reads go to the same place.
   */
  targets?: Partial<Record<IndexType, string>>;
}

const MAX_RESULT_WINDOW = 10_000;
/** How often a waiter re-reads its execution: Elasticsearch has no notifications across processes. */
const WAIT_RECHECK_MS = 1_000;

type Doc = Record<string, unknown>;
type Hit = { _id?: string | null; _source?: unknown; sort?: unknown[] };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Maps a client error: unreachable or overloaded is a retriable REPOSITORY_UNAVAILABLE. */
function mapError(err: unknown, what: string): LannerError {
  if (err instanceof LannerError) return err;
  if (err instanceof errors.ResponseError) {
    const status = err.statusCode ?? 0;
    const retriable = status === 429 || status >= 500;
    return new LannerError(retriable ? "REPOSITORY_UNAVAILABLE" : "REPOSITORY_REJECTED", `Elasticsearch refused ${what}: ${describeError(err)}`, { retriable, cause: err });
  }
  if (err instanceof errors.ElasticsearchClientError) {
    return new LannerError("REPOSITORY_UNAVAILABLE", `Elasticsearch cannot be reached (${what}): ${describeError(err)}`, { retriable: true, cause: err });
  }
  return new LannerError("REPOSITORY_FAILED", `Elasticsearch ${what} failed: ${describeError(err)}`, { retriable: true, cause: err });
}

const escapeWildcard = (s: string) => s.replace(/[\\*?]/g, (c) => `\\${c}`);

function namespaceFilter(field: string, ns: string): Doc {
  return { bool: { should: [{ term: { [field]: ns } }, { prefix: { [field]: `${ns}.` } }], minimum_should_match: 1 } };
}

function toLogEntry(s: Doc): LogEntry {
  const e: LogEntry = {
    id: String(s.id), tenantId: String(s.tenantId), namespace: String(s.namespace), flowId: String(s.flowId),
    executionId: String(s.executionId), level: String(s.level) as LogLevel, message: String(s.message),
    timestamp: new Date(String(s.timestamp)).toISOString(),
  };
  if (typeof s.taskRunId === "string") e.taskRunId = s.taskRunId;
  if (typeof s.taskId === "string") e.taskId = s.taskId;
  if (typeof s.attemptNumber === "number") e.attemptNumber = s.attemptNumber;
  if (typeof s.workerId === "string") e.workerId = s.workerId;
  return e;
}

function toFlowRevision(s: Doc): FlowRevision {
  return {
    tenantId: String(s.tenantId), namespace: String(s.namespace), id: String(s.id), revision: Number(s.revision),
    source: String(s.source), flow: s.flow as Flow, deleted: Boolean(s.deleted), updated: new Date(String(s.updated)).toISOString(),
  };
}

function toTrigger(s: Doc): StoredTrigger {
  return {
    key: String(s.key), tenantId: String(s.tenantId), namespace: String(s.namespace), flowId: String(s.flowId),
    triggerId: String(s.triggerId), value: s.deleted ? null : (JSON.parse(String(s.value)) as unknown),
    version: BigInt(String(s.version)), updated: new Date(String(s.updated)).toISOString(),
  };
}

const flowDocId = (k: FlowKey, revision: number) => JSON.stringify([k.tenantId, k.namespace, k.id, revision]);
const flowKeyField = (k: FlowKey) => JSON.stringify([k.tenantId, k.namespace, k.id]);

export class ElasticsearchRepository implements Repository, Reindexable {
  readonly prefix: string;
  private readonly client: Client;
  private readonly refresh: boolean | "wait_for";
  private readonly targets: Partial<Record<IndexType, string>>;
  private readonly waiters = new TerminalWaiters();
  private closed = false;

  constructor(private readonly opts: ElasticsearchRepositoryOptions) {
    this.prefix = opts.prefix ?? "lanner-";
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(this.prefix)) {
      throw new LannerError("CONFIG_INVALID", `elasticsearch index prefix ${JSON.stringify(this.prefix)} must be lower-case letters, digits, '.', '_' or '-'`);
    }
    this.client = new Client({ node: opts.url, requestTimeout: opts.requestTimeoutMs ?? 30_000, maxRetries: 0 });
    this.refresh = opts.refresh ?? false;
    this.targets = opts.targets ?? {};
  }

  /** The alias (or, for a reindex, the concrete index) a type is read from and written to. */
  index(type: IndexType): string {
    return this.targets[type] ?? `${this.prefix}${type}`;
  }

  private async call<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw mapError(err, what);
    }
  }

  async init(): Promise<void> {
    await this.call("init", async () => {
      for (const type of INDEX_TYPES) {
        await this.client.indices.putIndexTemplate({
          name: `${this.prefix}${type}`,
          index_patterns: [`${this.prefix}${type}-*`],
          template: { settings: INDEX_SETTINGS, mappings: MAPPINGS[type] },
          priority: 100,
        });
        const alias = `${this.prefix}${type}`;
        if (this.targets[type] !== undefined) continue;
        if (await this.client.indices.existsAlias({ name: alias })) continue;
        try {
          // A fixed first name: two processes starting at once create it once.
          await this.client.indices.create({ index: `${alias}-000001`, aliases: { [alias]: {} } });
        } catch (err) {
          if (!(err instanceof errors.ResponseError && err.body && JSON.stringify(err.body).includes("resource_already_exists_exception"))) throw err;
        }
      }
      await this.client.cluster.health({ index: INDEX_TYPES.map((t) => this.index(t)), wait_for_status: "yellow", timeout: "30s" });
    });
  }

  /** Runs a bulk request; item failures other than the expected conflicts (409) throw. */
  private async bulk(what: string, operations: unknown[], refresh = this.refresh): Promise<void> {
    if (operations.length === 0) return;
    const res = await this.call(what, () => this.client.bulk({ operations, refresh }));
    if (!res.errors) return;
    for (const item of res.items) {
      const r = Object.values(item)[0];
      if (r?.error && r.status !== 409) {
        const retriable = r.status === 429 || r.status >= 500;
        throw new LannerError(retriable ? "REPOSITORY_UNAVAILABLE" : "REPOSITORY_REJECTED",
          `Elasticsearch refused part of ${what}: ${r.error.type}: ${r.error.reason ?? ""}`, { retriable });
      }
    }
  }

  private async searchAll(index: string, query: Doc, sort: unknown[], max = Number.MAX_SAFE_INTEGER): Promise<Hit[]> {
    const out: Hit[] = [];
    let after: unknown[] | undefined;
    for (;;) {
      const size = Math.min(1_000, max - out.length);
      if (size <= 0) break;
      const res = await this.call("search", () => this.client.search({
        index, query, sort: sort as never, size, track_total_hits: false, ...(after ? { search_after: after as never } : {}),
      }));
      const hits = res.hits.hits as Hit[];
      out.push(...hits);
      if (hits.length < size) break;
      after = hits[hits.length - 1].sort;
    }
    return out;
  }

  // ---- flows -----------------------------------------------------------------------------------

  private async latestRevision(key: FlowKey): Promise<FlowRevision | undefined> {
    const res = await this.call("flow read", () => this.client.search({
      index: this.index("flows"), query: { term: { key: flowKeyField(key) } }, sort: [{ revision: "desc" }], size: 1,
    }));
    const hit = res.hits.hits[0] as Hit | undefined;
    return isObject(hit?._source) ? toFlowRevision(hit._source) : undefined;
  }

  /** Creates revision `rev` unless it exists; false when another writer took that number first. */
  private async createRevision(rev: FlowRevision): Promise<boolean> {
    try {
      await this.client.create({
        index: this.index("flows"), id: flowDocId(rev, rev.revision), refresh: true,
        document: { key: flowKeyField(rev), tenantId: rev.tenantId, namespace: rev.namespace, id: rev.id, revision: rev.revision, source: rev.source, flow: rev.flow, deleted: rev.deleted, updated: rev.updated },
      });
      return true;
    } catch (err) {
      if (err instanceof errors.ResponseError && err.statusCode === 409) return false;
      throw mapError(err, "flow write");
    }
  }

  async saveFlow(key: FlowKey, source: string, flow: Flow): Promise<SaveFlowResult> {
    // No transactions: the revision number is claimed with a create-only write, retried on a clash.
    for (let attempt = 0; attempt < 20; attempt++) {
      const latest = await this.latestRevision(key);
      if (latest && !latest.deleted && latest.source === source) return { revision: latest, created: false };
      const revision = (latest?.revision ?? 0) + 1;
      const rev: FlowRevision = { ...key, revision, source, flow: { ...flow, revision }, deleted: false, updated: new Date().toISOString() };
      if (await this.createRevision(rev)) return { revision: rev, created: true };
    }
    throw new LannerError("FLOW_SAVE_CONFLICT", `flow ${key.namespace}.${key.id} is being saved concurrently; try again`, { retriable: true });
  }

  async getFlow(key: FlowKey, revision?: number): Promise<FlowRevision | undefined> {
    if (revision === undefined) {
      const latest = await this.latestRevision(key);
      return latest && !latest.deleted ? latest : undefined;
    }
    const res = await this.call("flow read", () => this.client.get({ index: this.index("flows"), id: flowDocId(key, revision) }, { ignore: [404] }));
    return res.found && isObject(res._source) ? toFlowRevision(res._source) : undefined;
  }

  async listFlows(tenantId: string, namespace?: string): Promise<FlowRevision[]> {
    const filter: Doc[] = [{ term: { tenantId } }];
    if (namespace !== undefined) filter.push(namespaceFilter("namespace", namespace));
    const res = await this.call("flow list", () => this.client.search({
      index: this.index("flows"), query: { bool: { filter } }, collapse: { field: "key" }, sort: [{ key: "asc" }, { revision: "desc" }],
      size: MAX_RESULT_WINDOW,
    }));
    return (res.hits.hits as Hit[]).flatMap((h) => (isObject(h._source) ? [toFlowRevision(h._source)] : []))
      .filter((f) => !f.deleted)
      .sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async listFlowRevisions(key: FlowKey): Promise<FlowRevision[]> {
    const hits = await this.searchAll(this.index("flows"), { term: { key: flowKeyField(key) } }, [{ revision: "asc" }]);
    return hits.flatMap((h) => (isObject(h._source) ? [toFlowRevision(h._source)] : []));
  }

  async deleteFlow(key: FlowKey): Promise<boolean> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const latest = await this.latestRevision(key);
      if (!latest || latest.deleted) return false;
      const revision = latest.revision + 1;
      if (await this.createRevision({ ...latest, revision, flow: { ...latest.flow, revision }, deleted: true, updated: new Date().toISOString() })) return true;
    }
    throw new LannerError("FLOW_SAVE_CONFLICT", `flow ${key.namespace}.${key.id} is being saved concurrently; try again`, { retriable: true });
  }

  async putFlowRevision(rev: FlowRevision): Promise<void> {
    await this.createRevision(rev);
  }

  // ---- executions ------------------------------------------------------------------------------

  async upsertExecutions(rows: ExecutionUpsert[]): Promise<void> {
    const unique = dedupeUpserts(rows);
    const operations: unknown[] = [];
    for (const { execution: e, version, fold } of unique) {
      operations.push({ index: { _index: this.index("executions"), _id: e.id, version: Number(version), version_type: "external" } });
      const doc: Doc = {
        id: e.id, tenantId: e.tenantId, namespace: e.namespace, flowId: e.flowId, state: e.state.current,
        startDate: e.startDate, labels: (e.labels ?? []).map(labelToken), search: searchTextsOf(e), version: Number(version), execution: e,
      };
      if (e.endDate !== undefined) doc.endDate = e.endDate;
      if (fold !== undefined) doc.fold = fold;
      operations.push(doc);
    }
    // 409 = a version at least as new is stored: left as it is, by design.
    await this.bulk("execution upsert", operations);
    this.waiters.wake(unique.filter((r) => isTerminal(r.execution.state.current)).map((r) => r.execution.id));
  }

  async getExecution(id: string): Promise<Execution | undefined> {
    const res = await this.call("execution read", () => this.client.get({ index: this.index("executions"), id, _source_includes: ["execution"] }, { ignore: [404] }));
    return res.found && isObject(res._source) ? (res._source.execution as Execution) : undefined;
  }

  async getStoredExecutions(ids: string[]): Promise<Map<string, StoredExecution>> {
    const out = new Map<string, StoredExecution>();
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += 1_000) {
      const part = unique.slice(i, i + 1_000);
      const res = await this.call("execution read", () => this.client.mget({ index: this.index("executions"), ids: part, _source_includes: ["execution", "fold"] }));
      for (const d of res.docs) {
        if (!("found" in d) || !d.found || !isObject(d._source)) continue;
        const stored: StoredExecution = { execution: d._source.execution as Execution, version: BigInt(d._version ?? 0) };
        if (d._source.fold !== undefined) stored.fold = d._source.fold;
        out.set(d._id, stored);
      }
    }
    return out;
  }

  async searchExecutions(q: ExecutionQuery): Promise<Page<Execution>> {
    const r = resolveExecutionQuery(q);
    const filter: Doc[] = [];
    if (r.tenantId !== undefined) filter.push({ term: { tenantId: r.tenantId } });
    if (r.namespace !== undefined) filter.push(namespaceFilter("namespace", r.namespace));
    if (r.flowId !== undefined) filter.push({ term: { flowId: r.flowId } });
    if (r.states.length > 0) filter.push({ terms: { state: r.states } });
    if (r.from !== undefined || r.to !== undefined) filter.push({ range: { startDate: { ...(r.from ? { gte: r.from } : {}), ...(r.to ? { lt: r.to } : {}) } } });
    for (const l of r.labels) filter.push({ term: { labels: labelToken(l) } });
    if (r.text !== undefined) filter.push({ wildcard: { search: { value: `*${escapeWildcard(r.text)}*` } } });
    if (r.after === undefined && r.offset + r.size > MAX_RESULT_WINDOW) {
      throw new LannerError("QUERY_INVALID", `page ${r.offset / r.size + 1} is beyond the first ${MAX_RESULT_WINDOW} results; use cursor paging`);
    }
    const sort = [{ [r.sort.field]: r.sort.order }, { id: "asc" }];
    const after = r.after === undefined ? undefined : [r.sort.field === "startDate" ? Date.parse(r.after.value) : r.after.value, r.after.id];
    const res = await this.call("execution search", () => this.client.search({
      index: this.index("executions"), query: { bool: { filter } }, sort: sort as never, size: r.size, track_total_hits: true,
      _source_includes: ["execution"], ...(after ? { search_after: after } : { from: r.offset }),
    }));
    const results = (res.hits.hits as Hit[]).flatMap((h) => (isObject(h._source) ? [h._source.execution as Execution] : []));
    const total = typeof res.hits.total === "number" ? res.hits.total : res.hits.total?.value ?? results.length;
    const page: Page<Execution> = { results, total };
    const next = nextExecutionCursor(r, results);
    if (next !== undefined) page.nextCursor = next;
    return page;
  }

  async dailyStats(q: StatsQuery): Promise<DailyStat[]> {
    const r = resolveStatsQuery(q);
    const filter: Doc[] = [{ range: { startDate: { gte: r.from, ...(r.to ? { lt: r.to } : {}) } } }];
    if (r.tenantId !== undefined) filter.push({ term: { tenantId: r.tenantId } });
    if (r.namespace !== undefined) filter.push(namespaceFilter("namespace", r.namespace));
    if (r.flowId !== undefined) filter.push({ term: { flowId: r.flowId } });
    const out: DailyStat[] = [];
    let afterKey: Record<string, unknown> | undefined;
    for (let guard = 0; guard < 10_000; guard++) {
      const res = await this.call("stats", () => this.client.search({
        index: this.index("executions"), size: 0, query: { bool: { filter } },
        aggs: {
          days: {
            composite: {
              size: 1_000,
              sources: [
                { date: { date_histogram: { field: "startDate", calendar_interval: "1d", format: "yyyy-MM-dd", time_zone: "UTC" } } },
                { namespace: { terms: { field: "namespace" } } },
                { flowId: { terms: { field: "flowId" } } },
                { state: { terms: { field: "state" } } },
              ],
              ...(afterKey ? { after: afterKey as never } : {}),
            },
          },
        },
      }));
      const agg = res.aggregations?.days as { buckets: Array<{ key: Record<string, unknown>; doc_count: number }>; after_key?: Record<string, unknown> } | undefined;
      const buckets = agg?.buckets ?? [];
      for (const b of buckets) {
        out.push({ date: String(b.key.date), namespace: String(b.key.namespace), flowId: String(b.key.flowId), state: String(b.key.state) as State, count: b.doc_count });
      }
      if (buckets.length < 1_000 || !agg?.after_key) break;
      afterKey = agg.after_key;
    }
    return out;
  }

  async waitForTerminal(id: string, timeoutMs: number): Promise<Execution | undefined> {
    if (this.closed) return undefined;
    // Writes of this process wake the waiter at once; another process's writes are seen by a re-read every second.
    const timer = setInterval(() => this.waiters.wake([id]), WAIT_RECHECK_MS);
    try {
      return await this.waiters.wait(id, timeoutMs, () => this.getExecution(id));
    } finally {
      clearInterval(timer);
    }
  }

  async deleteExecution(id: string): Promise<boolean> {
    const logs = await this.searchAll(this.index("logs"), { term: { executionId: id } }, [{ id: "asc" }]);
    await this.bulk("log delete", logs.map((h) => ({ delete: { _index: this.index("logs"), _id: h._id } })), true);
    const res = await this.call("execution delete", () => this.client.delete({ index: this.index("executions"), id, refresh: true }, { ignore: [404] }));
    return res.result === "deleted";
  }

  // ---- logs --------------------------------------------------------------------------------------

  async appendLogs(entries: LogEntry[]): Promise<void> {
    const operations: unknown[] = [];
    for (const e of entries) {
      // `create`: a line whose id is stored is skipped (409), as a replay must not duplicate it.
      operations.push({ create: { _index: this.index("logs"), _id: e.id } });
      operations.push({ ...e, message: truncateMessage(e.message), levelRank: levelRank(e.level) });
    }
    await this.bulk("log append", operations);
  }

  async listLogs(executionId: string, q: LogQuery = {}): Promise<LogEntry[]> {
    const filter: Doc[] = [{ term: { executionId } }];
    if (q.taskRunId !== undefined) filter.push({ term: { taskRunId: q.taskRunId } });
    if (q.minLevel !== undefined) filter.push({ range: { levelRank: { gte: levelRank(q.minLevel) } } });
    const hits = await this.searchAll(this.index("logs"), { bool: { filter } }, [{ timestamp: "asc" }, { id: "asc" }]);
    return hits.flatMap((h) => (isObject(h._source) ? [toLogEntry(h._source)] : []));
  }

  async searchLogs(q: LogSearch): Promise<Page<LogEntry>> {
    const r = resolveLogSearch(q);
    const filter: Doc[] = [];
    if (r.tenantId !== undefined) filter.push({ term: { tenantId: r.tenantId } });
    if (r.namespace !== undefined) filter.push(namespaceFilter("namespace", r.namespace));
    if (r.flowId !== undefined) filter.push({ term: { flowId: r.flowId } });
    if (r.executionId !== undefined) filter.push({ term: { executionId: r.executionId } });
    if (r.taskRunId !== undefined) filter.push({ term: { taskRunId: r.taskRunId } });
    if (r.minRank !== undefined) filter.push({ range: { levelRank: { gte: r.minRank } } });
    if (r.from !== undefined || r.to !== undefined) filter.push({ range: { timestamp: { ...(r.from ? { gte: r.from } : {}), ...(r.to ? { lt: r.to } : {}) } } });
    if (r.text !== undefined) filter.push({ match: { message: { query: r.text, operator: "and" } } });
    const after = r.after === undefined ? undefined : [Date.parse(r.after.value), r.after.id];
    const res = await this.call("log search", () => this.client.search({
      index: this.index("logs"), query: { bool: { filter } }, sort: [{ timestamp: r.order }, { id: r.order }], size: r.size,
      track_total_hits: true, ...(after ? { search_after: after } : {}),
    }));
    const results = (res.hits.hits as Hit[]).flatMap((h) => (isObject(h._source) ? [toLogEntry(h._source)] : []));
    const total = typeof res.hits.total === "number" ? res.hits.total : res.hits.total?.value ?? results.length;
    const page: Page<LogEntry> = { results, total };
    const next = nextLogCursor(r, results);
    if (next !== undefined) page.nextCursor = next;
    return page;
  }

  // ---- triggers ------------------------------------------------------------------------------------

  async upsertTriggers(rows: TriggerUpsert[]): Promise<void> {
    const byKey = new Map<string, TriggerUpsert>();
    for (const t of rows) {
      const prev = byKey.get(t.key);
      if (!prev || prev.version < t.version) byKey.set(t.key, t);
    }
    const operations: unknown[] = [];
    for (const t of byKey.values()) {
      operations.push({ index: { _index: this.index("triggers"), _id: t.key, version: Number(t.version), version_type: "external" } });
      operations.push({
        key: t.key, tenantId: t.tenantId, namespace: t.namespace, flowId: t.flowId, triggerId: t.triggerId,
        value: t.value === null ? null : JSON.stringify(t.value), deleted: t.value === null, version: Number(t.version), updated: t.updated,
      });
    }
    await this.bulk("trigger upsert", operations);
  }

  async getTrigger(key: string): Promise<StoredTrigger | undefined> {
    const res = await this.call("trigger read", () => this.client.get({ index: this.index("triggers"), id: key }, { ignore: [404] }));
    if (!res.found || !isObject(res._source) || res._source.deleted) return undefined;
    return toTrigger(res._source);
  }

  async searchTriggers(q: TriggerQuery): Promise<Page<StoredTrigger>> {
    const r = resolveTriggerQuery(q);
    const filter: Doc[] = [{ term: { deleted: false } }];
    if (r.tenantId !== undefined) filter.push({ term: { tenantId: r.tenantId } });
    if (r.namespace !== undefined) filter.push(namespaceFilter("namespace", r.namespace));
    if (r.flowId !== undefined) filter.push({ term: { flowId: r.flowId } });
    const res = await this.call("trigger search", () => this.client.search({
      index: this.index("triggers"), query: { bool: { filter } }, sort: [{ key: "asc" }], size: r.size, track_total_hits: true,
      ...(r.afterKey !== undefined ? { search_after: [r.afterKey] } : {}),
    }));
    const results = (res.hits.hits as Hit[]).flatMap((h) => (isObject(h._source) ? [toTrigger(h._source)] : []));
    const total = typeof res.hits.total === "number" ? res.hits.total : res.hits.total?.value ?? results.length;
    const page: Page<StoredTrigger> = { results, total };
    const next = nextTriggerCursor(r, results);
    if (next !== undefined) page.nextCursor = next;
    return page;
  }

  // ---- reindex -------------------------------------------------------------------------------------

  /** The concrete indices behind the alias of `type` (empty when the alias does not exist). */
  async indicesOf(type: IndexType): Promise<string[]> {
    const alias = `${this.prefix}${type}`;
    const res = await this.call("alias read", () => this.client.indices.getAlias({ name: alias }, { ignore: [404] }));
    return Object.keys(res).filter((k) => k !== "error" && k !== "status");
  }

  /** Creates a fresh concrete index for `type` (mappings from the template); answers its name. */
  async createFreshIndex(type: IndexType): Promise<string> {
    const name = `${this.prefix}${type}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    await this.call("index create", () => this.client.indices.create({ index: name }));
    await this.call("index create", () => this.client.cluster.health({ index: name, wait_for_status: "yellow", timeout: "30s" }));
    return name;
  }

  /**
   * Points the alias of each type at its fresh index and deletes the indices it pointed at, in one
   * atomic alias update: readers see the old projection or the new one, never neither.
   */
  async swapAliases(fresh: Partial<Record<IndexType, string>>): Promise<void> {
    const actions: unknown[] = [];
    for (const [type, index] of Object.entries(fresh) as Array<[IndexType, string]>) {
      await this.call("refresh", () => this.client.indices.refresh({ index }));
      actions.push({ add: { index, alias: `${this.prefix}${type}` } });
      for (const old of await this.indicesOf(type)) if (old !== index) actions.push({ remove_index: { index: old } });
    }
    await this.call("alias swap", () => this.client.indices.updateAliases({ actions: actions as never }));
  }

  /** Fresh concrete indices for `kinds`; `swap` moves the aliases onto them in one atomic update. */
  async stageReindex(kinds: readonly IndexedKind[]): Promise<ReindexTarget> {
    const fresh: Partial<Record<IndexType, string>> = {};
    for (const kind of new Set(kinds)) fresh[kind] = await this.createFreshIndex(kind);
    const repository = new ElasticsearchRepository({ ...this.opts, targets: fresh });
    return {
      repository,
      swap: () => this.swapAliases(fresh),
      abort: async () => {
        for (const index of Object.values(fresh)) await this.dropIndex(index);
      },
    };
  }

  /** Deletes a concrete index (an abandoned reindex). */
  async dropIndex(index: string): Promise<void> {
    await this.call("index delete", () => this.client.indices.delete({ index }, { ignore: [404] }));
  }

  /** Makes every write so far visible to searches (tests, reindex). */
  async refreshAll(): Promise<void> {
    await this.call("refresh", () => this.client.indices.refresh({ index: INDEX_TYPES.map((t) => this.index(t)) }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.waiters.closeAll();
    await this.client.close();
  }
}
