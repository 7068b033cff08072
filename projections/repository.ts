/**
 * The read side: what the API and the UI read, folded from the log by the indexer. One interface,
 * implemented in memory (tests) and in SQL (`projections/postgres/`, on a Postgres server or on
 * PGlite in the embedded data directory). Writes are idempotent: replaying the log over the
 * repository changes nothing (execution rows carry the log offset they reflect as their version).
 */
import type { Flow } from "../schemas/flow-types.js";
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

/** Filters of `searchExecutions`; all optional, combined with AND. */
export interface ExecutionQuery {
  tenantId?: string;
  /** Matches this namespace and its sub-namespaces (`company` matches `company.team`). */
  namespace?: string;
  flowId?: string;
  /** Any of these current states. */
  states?: State[];
  /** Executions started at or after this ISO-8601 instant. */
  startDate?: string;
  /** Executions started before this ISO-8601 instant. */
  endDate?: string;
  /** 1-based page number; default 1. */
  page?: number;
  /** Page size, 1..500; default 25. */
  size?: number;
}

/** One page of results and the total count of matches (Kestra's PagedResults). */
export interface Page<T> {
  results: T[];
  total: number;
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

  /** Releases connections; pending `waitForTerminal` calls resolve with undefined. */
  close(): Promise<void>;
}
