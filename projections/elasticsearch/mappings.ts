/**
 * Explicit Elasticsearch mappings of the read model, one index type per kind of document. Each
 * type lives in concrete indices `<prefix><type>-<suffix>` behind the alias `<prefix><type>`; an
 * index template per type gives every such index these mappings, so a reindex into a fresh index
 * (then an alias swap) gets the same ones. Dynamic mapping is off (`strict`): a document with an
 * unexpected field is a bug, not a new column.
 */

export const INDEX_TYPES = ["executions", "logs", "flows", "triggers"] as const;
export type IndexType = (typeof INDEX_TYPES)[number];

const keyword = { type: "keyword" } as const;
/** Kept in `_source` only: read back whole, never searched (outputs, fold state, flow bodies). */
const opaque = { type: "object", enabled: false } as const;
const stored = { type: "keyword", index: false, doc_values: false } as const;
const date = { type: "date", format: "strict_date_optional_time||epoch_millis" } as const;

export const MAPPINGS: Record<IndexType, Record<string, unknown>> = {
  executions: {
    dynamic: "strict",
    properties: {
      id: keyword, tenantId: keyword, namespace: keyword, flowId: keyword, state: keyword,
      startDate: date, endDate: date,
      /** Exact label tokens (`["key","value"]` as JSON). */
      labels: keyword,
      /** Lower-cased id, flow id and `key:value` labels, for free text (wildcard). */
      search: keyword,
      version: { type: "long" },
      execution: opaque,
      fold: opaque,
    },
  },
  logs: {
    dynamic: "strict",
    properties: {
      id: keyword, tenantId: keyword, namespace: keyword, flowId: keyword, executionId: keyword, taskRunId: keyword,
      taskId: keyword, attemptNumber: { type: "integer" }, level: keyword, levelRank: { type: "byte" },
      message: { type: "text", analyzer: "standard" }, timestamp: date, workerId: keyword,
    },
  },
  flows: {
    dynamic: "strict",
    properties: {
      /** `tenant|namespace|id`, for collapsing revisions to the latest. */
      key: keyword,
      tenantId: keyword, namespace: keyword, id: keyword, revision: { type: "integer" },
      source: stored, flow: opaque, deleted: { type: "boolean" }, updated: date,
    },
  },
  triggers: {
    dynamic: "strict",
    properties: {
      key: keyword, tenantId: keyword, namespace: keyword, flowId: keyword, triggerId: keyword,
      /** The record's value as JSON text (any JSON, not only objects). */
      value: stored,
      deleted: { type: "boolean" },
      version: { type: "long" },
      updated: date,
    },
  },
};

/** Settings of every index: one shard (the read model is small per tenant); replicas follow the cluster size. */
export const INDEX_SETTINGS = { number_of_shards: 1, auto_expand_replicas: "0-1" } as const;
