import { isTerminal, type Execution } from "../../processors/executor/model.js";
import type { Flow } from "../../schemas/flow-types.js";
import {
  compareText,
  dedupeUpserts,
  executionSortValue,
  inNamespace,
  labelToken,
  logWords,
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
import { TerminalWaiters } from "../terminal-waiters.js";

const flowKey = (k: FlowKey) => `${k.tenantId}\u0000${k.namespace}\u0000${k.id}`;

/**
 * The repository in memory, for unit tests. Values are copied in and out (structuredClone), so a
 * caller mutating what it passed or got never changes what is stored — as with a database.
 */
export class MemoryRepository implements Repository {
  private readonly flows = new Map<string, FlowRevision[]>();
  private readonly executions = new Map<string, StoredExecution>();
  private readonly logs = new Map<string, LogEntry[]>();
  private readonly logIds = new Set<string>();
  private readonly triggers = new Map<string, StoredTrigger>();
  private readonly waiters = new TerminalWaiters();
  private closed = false;

  async init(): Promise<void> {}

  async saveFlow(key: FlowKey, source: string, flow: Flow): Promise<SaveFlowResult> {
    const k = flowKey(key);
    const revisions = this.flows.get(k) ?? [];
    const latest = revisions.at(-1);
    if (latest && !latest.deleted && latest.source === source) return { revision: structuredClone(latest), created: false };
    const revision = (latest?.revision ?? 0) + 1;
    const stored: FlowRevision = { ...key, revision, source, flow: structuredClone({ ...flow, revision }), deleted: false, updated: new Date().toISOString() };
    revisions.push(stored);
    this.flows.set(k, revisions);
    return { revision: structuredClone(stored), created: true };
  }

  async getFlow(key: FlowKey, revision?: number): Promise<FlowRevision | undefined> {
    const revisions = this.flows.get(flowKey(key)) ?? [];
    const found = revision === undefined ? revisions.at(-1) : revisions.find((r) => r.revision === revision);
    if (!found || (revision === undefined && found.deleted)) return undefined;
    return structuredClone(found);
  }

  async listFlows(tenantId: string, namespace?: string): Promise<FlowRevision[]> {
    const out: FlowRevision[] = [];
    for (const revisions of this.flows.values()) {
      const latest = revisions.at(-1);
      if (!latest || latest.deleted || latest.tenantId !== tenantId) continue;
      if (namespace !== undefined && !inNamespace(latest.namespace, namespace)) continue;
      out.push(structuredClone(latest));
    }
    return out.sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async listFlowRevisions(key: FlowKey): Promise<FlowRevision[]> {
    return structuredClone(this.flows.get(flowKey(key)) ?? []);
  }

  async deleteFlow(key: FlowKey): Promise<boolean> {
    const revisions = this.flows.get(flowKey(key));
    const latest = revisions?.at(-1);
    if (!revisions || !latest || latest.deleted) return false;
    const revision = latest.revision + 1;
    revisions.push({ ...structuredClone(latest), revision, flow: { ...structuredClone(latest.flow), revision }, deleted: true, updated: new Date().toISOString() });
    return true;
  }

  async upsertExecutions(rows: ExecutionUpsert[]): Promise<void> {
    const ended: string[] = [];
    for (const r of dedupeUpserts(rows)) {
      const prev = this.executions.get(r.execution.id);
      if (!prev || prev.version < r.version) {
        const stored: StoredExecution = { execution: structuredClone(r.execution), version: r.version };
        if (r.fold !== undefined) stored.fold = structuredClone(r.fold);
        this.executions.set(r.execution.id, stored);
      }
      if (isTerminal(r.execution.state.current)) ended.push(r.execution.id);
    }
    this.waiters.wake(ended);
  }

  async getExecution(id: string): Promise<Execution | undefined> {
    const s = this.executions.get(id);
    return s ? structuredClone(s.execution) : undefined;
  }

  async getStoredExecutions(ids: string[]): Promise<Map<string, StoredExecution>> {
    const out = new Map<string, StoredExecution>();
    for (const id of ids) {
      const s = this.executions.get(id);
      if (s) out.set(id, structuredClone(s));
    }
    return out;
  }

  async searchExecutions(q: ExecutionQuery): Promise<Page<Execution>> {
    const r = resolveExecutionQuery(q);
    const tokens = r.labels.map(labelToken);
    const dir = r.sort.order === "asc" ? 1 : -1;
    const cmp = (a: Execution, b: Execution) =>
      dir * compareText(executionSortValue(a, r.sort.field), executionSortValue(b, r.sort.field)) || compareText(a.id, b.id);
    const matches = [...this.executions.values()]
      .map((s) => s.execution)
      .filter((e) => (r.tenantId === undefined || e.tenantId === r.tenantId)
        && (r.namespace === undefined || inNamespace(e.namespace, r.namespace))
        && (r.flowId === undefined || e.flowId === r.flowId)
        && (r.states.length === 0 || r.states.includes(e.state.current))
        && (r.from === undefined || new Date(e.startDate).toISOString() >= r.from)
        && (r.to === undefined || new Date(e.startDate).toISOString() < r.to)
        && tokens.every((t) => (e.labels ?? []).some((l) => labelToken(l) === t))
        && (r.text === undefined || searchTextsOf(e).some((s) => s.includes(r.text ?? ""))))
      .sort(cmp);
    const after = r.after;
    const rest = after === undefined ? matches.slice(r.offset) : matches.filter((e) =>
      (dir * compareText(executionSortValue(e, r.sort.field), after.value) || compareText(e.id, after.id)) > 0);
    const results = structuredClone(rest.slice(0, r.size));
    const page: Page<Execution> = { results, total: matches.length };
    const next = nextExecutionCursor(r, results);
    if (next !== undefined) page.nextCursor = next;
    return page;
  }

  async dailyStats(q: StatsQuery): Promise<DailyStat[]> {
    const r = resolveStatsQuery(q);
    const counts = new Map<string, DailyStat>();
    for (const { execution: e } of this.executions.values()) {
      const start = new Date(e.startDate).toISOString();
      if ((r.tenantId !== undefined && e.tenantId !== r.tenantId) || (r.namespace !== undefined && !inNamespace(e.namespace, r.namespace))
        || (r.flowId !== undefined && e.flowId !== r.flowId) || start < r.from || (r.to !== undefined && start >= r.to)) continue;
      const date = start.slice(0, 10);
      const k = JSON.stringify([date, e.namespace, e.flowId, e.state.current]);
      const c = counts.get(k) ?? { date, namespace: e.namespace, flowId: e.flowId, state: e.state.current, count: 0 };
      c.count++;
      counts.set(k, c);
    }
    return [...counts.values()].sort((a, b) => compareText(a.date, b.date) || compareText(a.namespace, b.namespace)
      || compareText(a.flowId, b.flowId) || compareText(a.state, b.state));
  }

  async waitForTerminal(id: string, timeoutMs: number): Promise<Execution | undefined> {
    if (this.closed) return undefined;
    return this.waiters.wait(id, timeoutMs, () => this.getExecution(id));
  }

  async deleteExecution(id: string): Promise<boolean> {
    const existed = this.executions.delete(id);
    for (const e of this.logs.get(id) ?? []) this.logIds.delete(e.id);
    this.logs.delete(id);
    return existed;
  }

  async appendLogs(entries: LogEntry[]): Promise<void> {
    for (const e of entries) {
      if (this.logIds.has(e.id)) continue;
      this.logIds.add(e.id);
      const list = this.logs.get(e.executionId) ?? [];
      list.push({ ...structuredClone(e), message: truncateMessage(e.message) });
      this.logs.set(e.executionId, list);
    }
  }

  async listLogs(executionId: string, q: LogQuery = {}): Promise<LogEntry[]> {
    const min = q.minLevel === undefined ? undefined : levelRank(q.minLevel);
    const list = (this.logs.get(executionId) ?? [])
      .map((e, i) => ({ e, i }))
      .filter(({ e }) => (q.taskRunId === undefined || e.taskRunId === q.taskRunId) && (min === undefined || levelRank(e.level) >= min))
      // Stable: equal timestamps keep their append order, like the SQL `ORDER BY ts, seq`.
      .sort((a, b) => Date.parse(a.e.timestamp) - Date.parse(b.e.timestamp) || a.i - b.i);
    return structuredClone(list.map(({ e }) => e));
  }

  async searchLogs(q: LogSearch): Promise<Page<LogEntry>> {
    const r = resolveLogSearch(q);
    const words = r.text === undefined ? [] : logWords(r.text);
    const dir = r.order === "asc" ? 1 : -1;
    const ts = (e: LogEntry) => new Date(e.timestamp).toISOString();
    const matches: LogEntry[] = [];
    const lists = r.executionId === undefined ? [...this.logs.values()] : [this.logs.get(r.executionId) ?? []];
    for (const list of lists) {
      for (const e of list) {
        if ((r.tenantId !== undefined && e.tenantId !== r.tenantId) || (r.namespace !== undefined && !inNamespace(e.namespace, r.namespace))
          || (r.flowId !== undefined && e.flowId !== r.flowId) || (r.taskRunId !== undefined && e.taskRunId !== r.taskRunId)
          || (r.minRank !== undefined && levelRank(e.level) < r.minRank)
          || (r.from !== undefined && ts(e) < r.from) || (r.to !== undefined && ts(e) >= r.to)) continue;
        if (words.length > 0) {
          const have = new Set(logWords(e.message));
          if (!words.every((w) => have.has(w))) continue;
        }
        matches.push(e);
      }
    }
    matches.sort((a, b) => dir * (compareText(ts(a), ts(b)) || compareText(a.id, b.id)));
    const after = r.after;
    const rest = after === undefined ? matches : matches.filter((e) => dir * (compareText(ts(e), after.value) || compareText(e.id, after.id)) > 0);
    const results = structuredClone(rest.slice(0, r.size));
    const page: Page<LogEntry> = { results, total: matches.length };
    const next = nextLogCursor(r, results);
    if (next !== undefined) page.nextCursor = next;
    return page;
  }

  async putFlowRevision(revision: FlowRevision): Promise<void> {
    const k = flowKey(revision);
    const revisions = this.flows.get(k) ?? [];
    if (revisions.some((r) => r.revision === revision.revision)) return;
    revisions.push(structuredClone(revision));
    revisions.sort((a, b) => a.revision - b.revision);
    this.flows.set(k, revisions);
  }

  async upsertTriggers(rows: TriggerUpsert[]): Promise<void> {
    for (const row of rows) {
      const prev = this.triggers.get(row.key);
      if (!prev || prev.version < row.version) this.triggers.set(row.key, structuredClone(row));
    }
  }

  async getTrigger(key: string): Promise<StoredTrigger | undefined> {
    const t = this.triggers.get(key);
    return t && t.value !== null ? structuredClone(t) : undefined;
  }

  async searchTriggers(q: TriggerQuery): Promise<Page<StoredTrigger>> {
    const r = resolveTriggerQuery(q);
    const matches = [...this.triggers.values()]
      .filter((t) => t.value !== null && (r.tenantId === undefined || t.tenantId === r.tenantId)
        && (r.namespace === undefined || inNamespace(t.namespace, r.namespace)) && (r.flowId === undefined || t.flowId === r.flowId))
      .sort((a, b) => compareText(a.key, b.key));
    const afterKey = r.afterKey;
    const results = structuredClone((afterKey === undefined ? matches : matches.filter((t) => t.key > afterKey)).slice(0, r.size));
    const page: Page<StoredTrigger> = { results, total: matches.length };
    const next = nextTriggerCursor(r, results);
    if (next !== undefined) page.nextCursor = next;
    return page;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.waiters.closeAll();
  }
}
