/**
 * The read-side tables, in the repository's schema. Names start with `repo_` so they never collide
 * with the Postgres log's own tables when both live in one schema.
 */
export function repositoryDdl(s: string): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS ${s}`,
    `CREATE TABLE IF NOT EXISTS ${s}.repo_flows (
      tenant_id text NOT NULL,
      namespace text NOT NULL,
      id text NOT NULL,
      revision integer NOT NULL,
      source text NOT NULL,
      flow jsonb NOT NULL,
      deleted boolean NOT NULL DEFAULT false,
      updated timestamptz NOT NULL,
      PRIMARY KEY (tenant_id, namespace, id, revision)
    )`,
    `CREATE TABLE IF NOT EXISTS ${s}.repo_executions (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      namespace text NOT NULL,
      flow_id text NOT NULL,
      state text NOT NULL,
      start_date timestamptz NOT NULL,
      end_date timestamptz,
      version bigint NOT NULL,
      execution jsonb NOT NULL,
      fold jsonb
    )`,
    // Search by namespace (prefix) + flow, by state, or by start date alone; newest first.
    `CREATE INDEX IF NOT EXISTS repo_executions_flow ON ${s}.repo_executions (tenant_id, namespace text_pattern_ops, flow_id, start_date DESC)`,
    `CREATE INDEX IF NOT EXISTS repo_executions_state ON ${s}.repo_executions (tenant_id, state, start_date DESC)`,
    `CREATE INDEX IF NOT EXISTS repo_executions_start ON ${s}.repo_executions (tenant_id, start_date DESC)`,
    `CREATE TABLE IF NOT EXISTS ${s}.repo_logs (
      id text PRIMARY KEY,
      seq bigserial,
      execution_id text NOT NULL,
      tenant_id text NOT NULL,
      namespace text NOT NULL,
      flow_id text NOT NULL,
      task_run_id text,
      task_id text,
      attempt integer,
      level text NOT NULL,
      level_rank smallint NOT NULL,
      message text NOT NULL,
      ts timestamptz NOT NULL,
      worker_id text
    )`,
    `CREATE INDEX IF NOT EXISTS repo_logs_execution ON ${s}.repo_logs (execution_id, ts, seq)`,
    // Search: labels (exact key/value tokens) and free text (lower-cased id, flow id, `key:value`).
    `ALTER TABLE ${s}.repo_executions ADD COLUMN IF NOT EXISTS labels text[] NOT NULL DEFAULT '{}'`,
    `ALTER TABLE ${s}.repo_executions ADD COLUMN IF NOT EXISTS search text[] NOT NULL DEFAULT '{}'`,
    `CREATE INDEX IF NOT EXISTS repo_executions_labels ON ${s}.repo_executions USING gin (labels)`,
    // Log search across executions: by time window, and full text over the message.
    `CREATE INDEX IF NOT EXISTS repo_logs_ts ON ${s}.repo_logs (tenant_id, ts)`,
    // Stored, so a plan that filters by time first checks words without re-parsing every message.
    `ALTER TABLE ${s}.repo_logs ADD COLUMN IF NOT EXISTS tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', message)) STORED`,
    `CREATE INDEX IF NOT EXISTS repo_logs_tsv ON ${s}.repo_logs USING gin (tsv)`,
    `CREATE TABLE IF NOT EXISTS ${s}.repo_triggers (
      key text PRIMARY KEY,
      tenant_id text NOT NULL,
      namespace text NOT NULL,
      flow_id text NOT NULL,
      trigger_id text NOT NULL,
      value jsonb,
      version bigint NOT NULL,
      updated timestamptz NOT NULL
    )`,
    `CREATE INDEX IF NOT EXISTS repo_triggers_flow ON ${s}.repo_triggers (tenant_id, namespace text_pattern_ops, flow_id)`,
  ];
}
