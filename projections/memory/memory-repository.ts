import { isTerminal, type Execution } from "../../processors/executor/model.js";
import type { Flow } from "../../schemas/flow-types.js";
import { dedupeUpserts, pageOf } from "../query.js";
import {
  levelRank,
  type ExecutionQuery,
  type ExecutionUpsert,
  type FlowKey,
  type FlowRevision,
  type LogEntry,
  type LogQuery,
  type Page,
  type Repository,
  type SaveFlowResult,
  type StoredExecution,
} from "../repository.js";
import { TerminalWaiters } from "../terminal-waiters.js";

const flowKey = (k: FlowKey) => `${k.tenantId}\u0000${k.namespace}\u0000${k.id}`;
const inNamespace = (ns: string, prefix: string) => ns === prefix || ns.startsWith(`${prefix}.`);

/**
 * The repository in memory, for unit tests. Values are copied in and out (structuredClone), so a
 * caller mutating what it passed or got never changes what is stored — as with a database.
 */
export class MemoryRepository implements Repository {
  private readonly flows = new Map<string, FlowRevision[]>();
  private readonly executions = new Map<string, StoredExecution>();
  private readonly logs = new Map<string, LogEntry[]>();
  private readonly logIds = new Set<string>();
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
    const { page, size } = pageOf(q);
    const from = q.startDate === undefined ? undefined : Date.parse(q.startDate);
    const to = q.endDate === undefined ? undefined : Date.parse(q.endDate);
    const matches = [...this.executions.values()]
      .map((s) => s.execution)
      .filter((e) => (q.tenantId === undefined || e.tenantId === q.tenantId)
        && (q.namespace === undefined || inNamespace(e.namespace, q.namespace))
        && (q.flowId === undefined || e.flowId === q.flowId)
        && (q.states === undefined || q.states.length === 0 || q.states.includes(e.state.current))
        && (from === undefined || Date.parse(e.startDate) >= from)
        && (to === undefined || Date.parse(e.startDate) < to))
      .sort((a, b) => Date.parse(b.startDate) - Date.parse(a.startDate) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { results: structuredClone(matches.slice((page - 1) * size, page * size)), total: matches.length };
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
      list.push(structuredClone(e));
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

  async close(): Promise<void> {
    this.closed = true;
    this.waiters.closeAll();
  }
}
