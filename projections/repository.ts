/**
 * The read side: what the API and the UI read, folded from the log by the indexer. One interface,
 * implemented in memory (tests) and in SQL (`projections/postgres/`, on a Postgres server or on
 * PGlite in the embedded data directory). Writes are idempotent: replaying the log over the
 * repository changes nothing (execution rows carry the log offset they reflect as their version).
 */
import type { Flow, Label } from "../schemas/flow-types.js";
import type { Execution, State } from "../processors/executor/model.js";

/** One stored revision of a flow. */
export interface FlowRevision {
  tenantId: string;
  namespace: string;
  id: string;
  /** 1, 2, 3… per flow, in save order. */
  revision: number;
  /** The YAML as deployed. */
  source: string;
  /** The parsed flow (its `revision` field equals `revision`). */
  flow: Flow;
  /** True for the marker revision written by a delete. */
  deleted: boolean;
  /** ISO-8601 instant of the save. */
  updated: string;
}

/** What `saveFlow` did. */
export interface SaveFlowResult {
  revision: FlowRevision;
  /** False when the source equals the latest revision's: nothing was written. */
  created: boolean;
}

/** A flow key: tenant, namespace and id. */
export interface FlowKey {
  tenantId: string;
  namespace: string;
  id: string;
}

/** An execution row as the indexer writes it. */
export interface ExecutionUpsert {
  execution: Execution;
  /** The log offset of the last event folded into it; an older version never overwrites a newer one. */
  version: bigint;
  /** Opaque state the indexer needs to continue folding (JSON-serialisable), stored beside the view. */
  fold?: unknown;
}

/** A stored execution row. */
export interface StoredExecution {
  execution: Execution;
  version: bigint;
  fold?: unknown;
}

/** Fields executions can be sorted by; ties are always broken by execution id, ascending. */
export const EXECUTION_SORT_FIELDS = ["startDate", "namespace", "flowId"] as const;
export type ExecutionSortField = (typeof EXECUTION_SORT_FIELDS)[number];
export type SortOrder = "asc" | "desc";

/**
 * How far back a search looks when it gives no `startDate`: this many days before `endDate` (or
 * now). Large installs hold millions of executions; an unbounded query would scan them all, so a
 * window is always applied — pass an earlier `startDate` to look further back.
 */
export const DEFAULT_SEARCH_WINDOW_DAYS = 30;

/** Largest page of any search. */
export const MAX_PAGE_SIZE = 500;

/** Filters of `searchExecutions`; all optional, combined with AND. */
export interface ExecutionQuery {
  tenantId?: string;
  /** Matches this namespace and its sub-namespaces (`company` matches `company.team`). */
  namespace?: string;
  flowId?: string;
  /** Any of these current states. */
  states?: State[];
  /** Executions carrying every one of these labels (exact key and value). */
  labels?: Label[];
  /**
   * Free text: matches executions whose id, flow id or one of whose labels written `key:value`
   * contains this text, case-insensitively (ASCII case folding).
   */
  query?: string;
  /**
   * Executions started at or after this ISO-8601 instant. Default: DEFAULT_SEARCH_WINDOW_DAYS
   * before `endDate` (or before now) — searches are always bounded in time.
   */
  startDate?: string;
  /** Executions started before this ISO-8601 instant. */
  endDate?: string;
  /** Default `{ field: "startDate", order: "desc" }` (newest first). */
  sort?: { field: ExecutionSortField; order: SortOrder };
  /**
   * Opaque cursor from a previous page's `nextCursor`: the page after it, for the same filters and
   * sort (stable while rows are added, unlike page numbers). Not combinable with `page` > 1.
   */
  cursor?: string;
  /** 1-based page number; default 1. */
  page?: number;
  /** Page size, 1..MAX_PAGE_SIZE; default 25. */
  size?: number;
}

/** One page of results and the total count of matches (Kestra's PagedResults). */
export interface Page<T> {
  results: T[];
  total: number;
  /** Present when more results follow: pass it as `cursor` for the next page. */
  nextCursor?: string;
}

export const LOG_LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Rank of a level (TRACE 0 … ERROR 4), for `minLevel` filters. */
export function levelRank(level: string): number {
  const i = LOG_LEVELS.indexOf(level.toUpperCase() as LogLevel);
  return i < 0 ? LOG_LEVELS.indexOf("INFO") : i;
}

/** One log line, Kestra-shaped (`attemptNumber`, `timestamp` ISO-8601). */
export interface LogEntry {
  /** Unique id of the line (the indexer uses `<partition>:<offset>[:<index>]`); appending an id twice stores it once. */
  id: string;
  tenantId: string;
  namespace: string;
  flowId: string;
  executionId: string;
  taskRunId?: string;
  taskId?: string;
  attemptNumber?: number;
  level: LogLevel;
  message: string;
  timestamp: string;
  workerId?: string;
}

/** Filters of `listLogs`. */
export interface LogQuery {
  taskRunId?: string;
  /** Lines at this level or above. */
  minLevel?: LogLevel;
}

/** Filters of `searchLogs`; all optional, combined with AND. */
export interface LogSearch {
  tenantId?: string;
  /** This namespace and its sub-namespaces. */
  namespace?: string;
  flowId?: string;
  executionId?: string;
  taskRunId?: string;
  /** Lines at this level or above. */
  minLevel?: LogLevel;
  /**
   * Full text over the message: every word of the query must appear as a word of the line
   * (case-insensitive; Postgres full-text search with the `simple` configuration, Elasticsearch's
   * standard analyzer).
   */
  query?: string;
  /**
   * Lines at or after this ISO-8601 instant. Without `executionId` the default is
   * DEFAULT_SEARCH_WINDOW_DAYS before `endDate` (or now); with it, no lower bound.
   */
  startDate?: string;
  /** Lines before this ISO-8601 instant. */
  endDate?: string;
  /** By timestamp, then id; default `asc` (oldest first). */
  order?: SortOrder;
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
  /** Page size, 1..MAX_PAGE_SIZE; default 100. */
  size?: number;
}

/** A trigger's state as the scheduler publishes it on the `triggers` topic, stored as opaque JSON. */
export interface TriggerUpsert {
  /** The record key (unique per trigger). */
  key: string;
  tenantId: string;
  namespace: string;
  flowId: string;
  triggerId: string;
  /** The record's value as decoded; `null` for a deletion (tombstone). */
  value: unknown;
  /** The log offset of the record: an older version never overwrites a newer one. */
  version: bigint;
  /** ISO-8601 instant of the record. */
  updated: string;
}

/** A stored trigger (deleted triggers are not returned). */
export type StoredTrigger = TriggerUpsert;

/** Filters of `searchTriggers`; results sorted by key. */
export interface TriggerQuery {
  tenantId?: string;
  namespace?: string;
  flowId?: string;
  cursor?: string;
  /** Page size, 1..MAX_PAGE_SIZE; default 100. */
  size?: number;
}

/** Filters of `dailyStats`; the window is on the start date, bounded as in `ExecutionQuery`. */
export interface StatsQuery {
  tenantId?: string;
  namespace?: string;
  flowId?: string;
  startDate?: string;
  endDate?: string;
}

/** Executions started on one UTC day, of one flow, in one current state. */
export interface DailyStat {
  /** `YYYY-MM-DD` (UTC). */
  date: string;
  namespace: string;
  flowId: string;
  state: State;
  count: number;
}

export interface Repository {
  /** Creates tables / indexes when missing (idempotent). Call once before anything else. */
  init(): Promise<void>;

  /**
   * Saves `source` (already validated, parsed as `flow`) as the next revision of its flow (1 for a new
   * flow, latest + 1 otherwise, also after a delete). When the latest revision is live and has exactly
   * this source, writes nothing and answers that revision with `created: false`.
   */
  saveFlow(key: FlowKey, source: string, flow: Flow): Promise<SaveFlowResult>;
  /**
   * The latest revision of a flow, or revision `revision` when given. Undefined when unknown, or —
   * without `revision` — when the flow was deleted.
   */
  getFlow(key: FlowKey, revision?: number): Promise<FlowRevision | undefined>;
  /** The latest live revision of every flow (of `namespace` and its sub-namespaces when given), sorted by namespace then id. */
  listFlows(tenantId: string, namespace?: string): Promise<FlowRevision[]>;
  /** Every revision of a flow, oldest first (including delete markers); empty when unknown. */
  listFlowRevisions(key: FlowKey): Promise<FlowRevision[]>;
  /** Deletes a flow by writing a delete-marker revision. False when the flow is unknown or already deleted. */
  deleteFlow(key: FlowKey): Promise<boolean>;

  /**
   * Upserts execution rows in one transaction. A row whose stored version is greater than or equal
   * to the given one is left as it is (a replay or a late writer never moves an execution back).
   * Wakes `waitForTerminal` callers of the executions that are now terminal.
   */
  upsertExecutions(rows: ExecutionUpsert[]): Promise<void>;
  /** The execution view, or undefined when unknown. */
  getExecution(id: string): Promise<Execution | undefined>;
  /** Stored rows (view, version and fold state) of these ids; absent ids are missing from the map. */
  getStoredExecutions(ids: string[]): Promise<Map<string, StoredExecution>>;
  /** Executions matching the query, newest start first, one page of them. */
  searchExecutions(q: ExecutionQuery): Promise<Page<Execution>>;
  /**
   * Resolves with the execution once it is in a terminal state, or — after `timeoutMs` — with what
   * is stored then (undefined when still unknown). Woken by this repository's writes in-process and,
   * on a shared database, by the writer's notifications from another process; it never polls.
   */
  waitForTerminal(id: string, timeoutMs: number): Promise<Execution | undefined>;

  /**
   * Removes an execution and its log lines from the read side (the API's delete); false when the
   * execution is unknown. Its events stay on the log: a full reindex brings it back.
   */
  deleteExecution(id: string): Promise<boolean>;

  /** Stores log lines; a line whose id is already stored is skipped. */
  appendLogs(entries: LogEntry[]): Promise<void>;
  /** Log lines of an execution in timestamp order (then storage order), filtered by `q`. */
  listLogs(executionId: string, q?: LogQuery): Promise<LogEntry[]>;
  /**
   * Log lines matching `q`, one page of them, by timestamp then id, with the total count of
   * matches. Rejects with QUERY_INVALID on a malformed filter, cursor or page size.
   */
  searchLogs(q: LogSearch): Promise<Page<LogEntry>>;

  /**
   * Stores exactly this revision of a flow (as read from the `flows` topic) unless that revision
   * is already stored: the indexer's idempotent write, and how a reindex rebuilds the flows.
   */
  putFlowRevision(revision: FlowRevision): Promise<void>;

  /** Upserts triggers by key; a row whose stored version is ≥ the given one is left as it is. */
  upsertTriggers(rows: TriggerUpsert[]): Promise<void>;
  /** The trigger stored under `key`, or undefined when unknown or deleted. */
  getTrigger(key: string): Promise<StoredTrigger | undefined>;
  /** Triggers matching `q`, sorted by key, one page of them. */
  searchTriggers(q: TriggerQuery): Promise<Page<StoredTrigger>>;

  /**
   * Counts of executions per UTC start day, namespace, flow and current state, sorted by date,
   * namespace, flow id, state. The window is bounded as in `searchExecutions`.
   */
  dailyStats(q: StatsQuery): Promise<DailyStat[]>;

  /** Releases connections; pending `waitForTerminal` calls resolve with undefined. */
  close(): Promise<void>;
}
