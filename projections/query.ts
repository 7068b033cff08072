/**
 * Query checking and normalisation shared by every repository, so memory, SQL and Elasticsearch
 * apply the same defaults (page size, the bounded time window), refuse the same bad input and
 * read the same cursors.
 */
import { LannerError } from "../common/errors.js";
import type { Execution, State } from "../processors/executor/model.js";
import type { Label } from "../schemas/flow-types.js";
import {
  DEFAULT_SEARCH_WINDOW_DAYS,
  EXECUTION_SORT_FIELDS,
  LOG_LEVELS,
  MAX_PAGE_SIZE,
  levelRank,
  type ExecutionQuery,
  type ExecutionSortField,
  type ExecutionUpsert,
  type LogSearch,
  type SortOrder,
  type StatsQuery,
  type TriggerQuery,
} from "./repository.js";

const DAY_MS = 24 * 3600_000;

const invalid = (message: string) => new LannerError("QUERY_INVALID", message);

/** The page number and size of a query, defaulted and checked (size 1..MAX_PAGE_SIZE). */
export function pageOf(q: { page?: number; size?: number }, defaultSize = 25): { page: number; size: number } {
  const page = q.page ?? 1;
  const size = q.size ?? defaultSize;
  if (!Number.isInteger(page) || page < 1) throw invalid(`page must be an integer ≥ 1, got ${page}`);
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) throw invalid(`size must be an integer from 1 to ${MAX_PAGE_SIZE}, got ${size}`);
  return { page, size };
}

/** One row per execution id: the one with the highest version (a batch may carry several). */
export function dedupeUpserts(rows: ExecutionUpsert[]): ExecutionUpsert[] {
  const byId = new Map<string, ExecutionUpsert>();
  for (const r of rows) {
    const prev = byId.get(r.execution.id);
    if (!prev || prev.version < r.version) byId.set(r.execution.id, r);
  }
  return [...byId.values()];
}

function instant(v: string | undefined, what: string): string | undefined {
  if (v === undefined) return undefined;
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw invalid(`${what} must be an ISO-8601 date-time, got ${JSON.stringify(v)}`);
  return new Date(ms).toISOString();
}

/** The time window of a search: `from` defaulted to the bounded window, `to` optional. */
export function windowOf(q: { startDate?: string; endDate?: string }, now: number, bounded = true): { from?: string; to?: string } {
  const to = instant(q.endDate, "endDate");
  let from = instant(q.startDate, "startDate");
  if (from === undefined && bounded) from = new Date((to ? Date.parse(to) : now) - DEFAULT_SEARCH_WINDOW_DAYS * DAY_MS).toISOString();
  if (from !== undefined && to !== undefined && from >= to) throw invalid(`startDate (${from}) must be before endDate (${to})`);
  return { from, to };
}

/** Checks a free-text query: trimmed, 1..200 characters, no control characters. */
function textOf(q: string | undefined, what = "query"): string | undefined {
  if (q === undefined) return undefined;
  const t = q.trim();
  if (t === "") return undefined;
  if (t.length > 200) throw invalid(`${what} is limited to 200 characters, got ${t.length}`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(t)) throw invalid(`${what} must not hold control characters`);
  return t;
}

/** ASCII-only lower case, the same on every backend (Elasticsearch's case-insensitive match folds ASCII). */
export const asciiLower = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** The exact-match token of a label (labels filter). */
export const labelToken = (l: Label): string => JSON.stringify([l.key, l.value]);

/** What free text over an execution looks into: id, flow id and each label as `key:value`, ASCII lower-cased. */
export function searchTextsOf(e: Pick<Execution, "id" | "flowId" | "labels">): string[] {
  return [e.id, e.flowId, ...(e.labels ?? []).map((l) => `${l.key}:${l.value}`)].map(asciiLower);
}

// ---- cursors ---------------------------------------------------------------------------------

interface CursorBody {
  /** What it pages: e(xecutions), l(ogs), t(riggers). */
  k: "e" | "l" | "t";
  f: string;
  o: SortOrder;
  /** The sort value of the last row (ISO instant for dates). */
  v: string;
  id: string;
}

function encodeCursor(c: CursorBody): string {
  return Buffer.from(JSON.stringify(c)).toString("base64url");
}

function decodeCursor(cursor: string, k: CursorBody["k"], f: string, o: SortOrder): CursorBody {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalid("cursor is not one this server issued");
  }
  if (typeof body !== "object" || body === null) throw invalid("cursor is not one this server issued");
  const c = body as Partial<CursorBody>;
  if (c.k !== k || typeof c.v !== "string" || typeof c.id !== "string") throw invalid("cursor is not one this server issued for this kind of search");
  if (c.f !== f || c.o !== o) throw invalid(`cursor was issued for another sort (${String(c.f)}:${String(c.o)}); use the same sort as the first page`);
  return c as CursorBody;
}

// ---- executions -----------------------------------------------------------------------------

/** A checked execution query with defaults applied. */
export interface ResolvedExecutionQuery {
  tenantId?: string;
  namespace?: string;
  flowId?: string;
  states: State[];
  labels: Label[];
  /** ASCII lower-cased free text. */
  text?: string;
  from?: string;
  to?: string;
  sort: { field: ExecutionSortField; order: SortOrder };
  size: number;
  /** Rows to skip (page paging). */
  offset: number;
  /** Rows after this sort value and id (cursor paging). */
  after?: { value: string; id: string };
}

export function resolveExecutionQuery(q: ExecutionQuery, now = Date.now()): ResolvedExecutionQuery {
  const { page, size } = pageOf(q);
  const sort = q.sort ?? { field: "startDate", order: "desc" };
  if (!EXECUTION_SORT_FIELDS.includes(sort.field)) throw invalid(`sort: unknown field ${JSON.stringify(sort.field)} (expected one of ${EXECUTION_SORT_FIELDS.join(", ")})`);
  if (sort.order !== "asc" && sort.order !== "desc") throw invalid(`sort: order must be asc or desc, got ${JSON.stringify(sort.order)}`);
  if (q.cursor !== undefined && page > 1) throw invalid("use either cursor or page, not both");
  for (const l of q.labels ?? []) {
    if (typeof l.key !== "string" || l.key === "" || typeof l.value !== "string") throw invalid(`labels: expected key:value with a non-empty key, got ${JSON.stringify(l)}`);
  }
  const text = textOf(q.query);
  const r: ResolvedExecutionQuery = {
    tenantId: q.tenantId, namespace: q.namespace, flowId: q.flowId, states: q.states ?? [], labels: q.labels ?? [],
    ...windowOf(q, now), sort, size, offset: (page - 1) * size,
  };
  if (text !== undefined) r.text = asciiLower(text);
  if (q.cursor !== undefined) {
    const c = decodeCursor(q.cursor, "e", sort.field, sort.order);
    r.after = { value: c.v, id: c.id };
  }
  return r;
}

/** The sort value of an execution for a field (dates as ISO instants). */
export function executionSortValue(e: Execution, field: ExecutionSortField): string {
  return field === "startDate" ? new Date(e.startDate).toISOString() : field === "namespace" ? e.namespace : e.flowId;
}

/** The cursor after `last`, when the page was full (more may follow). */
export function nextExecutionCursor(q: ResolvedExecutionQuery, results: Execution[]): string | undefined {
  const last = results.at(-1);
  if (!last || results.length < q.size) return undefined;
  return encodeCursor({ k: "e", f: q.sort.field, o: q.sort.order, v: executionSortValue(last, q.sort.field), id: last.id });
}

/** Byte-order comparison (what Postgres `COLLATE "C"` and Elasticsearch keywords use) for ASCII-range text. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---- logs -------------------------------------------------------------------------------------

export interface ResolvedLogSearch {
  tenantId?: string;
  namespace?: string;
  flowId?: string;
  executionId?: string;
  taskRunId?: string;
  minRank?: number;
  text?: string;
  from?: string;
  to?: string;
  order: SortOrder;
  size: number;
  after?: { value: string; id: string };
}

export function resolveLogSearch(q: LogSearch, now = Date.now()): ResolvedLogSearch {
  const { size } = pageOf({ size: q.size }, 100);
  const order = q.order ?? "asc";
  if (order !== "asc" && order !== "desc") throw invalid(`order must be asc or desc, got ${JSON.stringify(order)}`);
  if (q.minLevel !== undefined && !(LOG_LEVELS as readonly string[]).includes(q.minLevel)) {
    throw invalid(`minLevel: unknown level ${JSON.stringify(q.minLevel)} (expected one of ${LOG_LEVELS.join(", ")})`);
  }
  const r: ResolvedLogSearch = {
    tenantId: q.tenantId, namespace: q.namespace, flowId: q.flowId, executionId: q.executionId, taskRunId: q.taskRunId,
    ...windowOf(q, now, q.executionId === undefined), order, size,
  };
  if (q.minLevel !== undefined) r.minRank = levelRank(q.minLevel);
  const text = textOf(q.query);
  if (text !== undefined) {
    if (logWords(text).length === 0) throw invalid("query holds no word to search for");
    r.text = text;
  }
  if (q.cursor !== undefined) {
    const c = decodeCursor(q.cursor, "l", "timestamp", order);
    r.after = { value: c.v, id: c.id };
  }
  return r;
}

export function nextLogCursor(q: ResolvedLogSearch, results: Array<{ id: string; timestamp: string }>): string | undefined {
  const last = results.at(-1);
  if (!last || results.length < q.size) return undefined;
  return encodeCursor({ k: "l", f: "timestamp", o: q.order, v: new Date(last.timestamp).toISOString(), id: last.id });
}

/** The words of a text as full-text search sees them (letters and digits, lower-cased). */
export function logWords(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []);
}

/** Longest message stored for a log line; longer ones keep their start and a marker. */
export const MAX_LOG_MESSAGE_CHARS = 32_000;

/** `message`, cut to MAX_LOG_MESSAGE_CHARS with a marker saying how much was dropped. */
export function truncateMessage(message: string, max = MAX_LOG_MESSAGE_CHARS): string {
  if (message.length <= max) return message;
  const marker = `… [truncated ${message.length - max} characters]`;
  return message.slice(0, max) + marker;
}

// ---- triggers and stats -------------------------------------------------------------------------

export interface ResolvedTriggerQuery {
  tenantId?: string;
  namespace?: string;
  flowId?: string;
  size: number;
  afterKey?: string;
}

export function resolveTriggerQuery(q: TriggerQuery): ResolvedTriggerQuery {
  const { size } = pageOf({ size: q.size }, 100);
  const r: ResolvedTriggerQuery = { tenantId: q.tenantId, namespace: q.namespace, flowId: q.flowId, size };
  if (q.cursor !== undefined) r.afterKey = decodeCursor(q.cursor, "t", "key", "asc").id;
  return r;
}

export function nextTriggerCursor(q: ResolvedTriggerQuery, results: Array<{ key: string }>): string | undefined {
  const last = results.at(-1);
  if (!last || results.length < q.size) return undefined;
  return encodeCursor({ k: "t", f: "key", o: "asc", v: last.key, id: last.key });
}

export interface ResolvedStatsQuery {
  tenantId?: string;
  namespace?: string;
  flowId?: string;
  from: string;
  to?: string;
}

export function resolveStatsQuery(q: StatsQuery, now = Date.now()): ResolvedStatsQuery {
  const w = windowOf(q, now);
  return { tenantId: q.tenantId, namespace: q.namespace, flowId: q.flowId, from: w.from ?? "", to: w.to };
}

/** True when `ns` is `prefix` or one of its sub-namespaces. */
export const inNamespace = (ns: string, prefix: string): boolean => ns === prefix || ns.startsWith(`${prefix}.`);
