/**
 * The typed flow model every part of Lanner shares. The zod schemas in `flow-schema.ts` parse
 * YAML into exactly these shapes (a compile-time check there keeps the two in step).
 *
 * Conventions, fixed once so the executor, the worker and the API agree:
 * - `type` on a task is always the canonical Kestra name (`io.kestra.plugin.core.log.Log`),
 *   whatever alias or short name the YAML used.
 * - Durations stay ISO-8601 strings as written (`PT5S`); `parseDuration` in `duration.ts` turns
 *   them into milliseconds. The parser has already checked that they parse.
 * - `labels` are always a list of `{key, value}`, whether the YAML wrote a map or a list.
 * - Task-specific properties stay on the task object under their YAML names; expressions in
 *   them are kept unrendered (`"{{ inputs.x }}"`), rendered at run time.
 */

export type Level = "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR";

export interface Label {
  key: string;
  value: string;
}

export type RetryPolicy =
  | ({ type: "constant"; interval: string } & RetryCommon)
  | ({ type: "exponential"; interval: string; maxInterval?: string; delayFactor?: number } & RetryCommon)
  | ({ type: "random"; minInterval: string; maxInterval: string } & RetryCommon);

export interface RetryCommon {
  maxAttempt?: number;
  maxDuration?: string;
  warningOnRetry?: boolean;
  behavior?: "RETRY_FAILED_TASK" | "CREATE_NEW_EXECUTION";
}

export interface WorkerGroup {
  key: string;
  fallback?: "FAIL" | "WAIT" | "CANCEL";
}

/** Fields every task has; the rest of a task's properties depend on its type. */
export interface TaskCommon {
  id: string;
  type: string;
  description?: string;
  retry?: RetryPolicy;
  timeout?: string;
  disabled?: boolean;
  workerGroup?: WorkerGroup;
  logLevel?: Level;
  allowFailure?: boolean;
  allowWarning?: boolean;
  runIf?: string;
}

/** A task as parsed: common fields plus its type's own properties (validated per type). */
export interface Task extends TaskCommon {
  [property: string]: unknown;
}

export type InputType =
  | "STRING" | "INT" | "FLOAT" | "BOOLEAN" | "DATETIME" | "DATE" | "TIME" | "DURATION"
  | "FILE" | "JSON" | "YAML" | "URI" | "SECRET" | "ARRAY" | "SELECT" | "MULTISELECT" | "EMAIL";

export interface Input {
  id: string;
  type: InputType;
  description?: string;
  displayName?: string;
  required: boolean;
  defaults?: unknown;
  dependsOn?: { inputs: string[]; condition?: string };
  /** ARRAY */
  itemType?: InputType;
  /** SELECT / MULTISELECT */
  values?: string[];
  allowCustomValue?: boolean;
  /** STRING */
  validator?: string;
  /** INT / FLOAT / DATETIME… bounds as written */
  min?: number | string;
  max?: number | string;
  after?: string;
  before?: string;
}

export interface Trigger {
  id: string;
  type: string;
  description?: string;
  disabled?: boolean;
  conditions?: Array<Record<string, unknown>>;
  [property: string]: unknown;
}

export interface FlowOutput {
  id: string;
  type: InputType;
  value: unknown;
  description?: string;
  required?: boolean;
}

export interface Concurrency {
  limit: number;
  behavior: "QUEUE" | "CANCEL" | "FAIL";
}

export interface PluginDefault {
  type: string;
  forced?: boolean;
  values: Record<string, unknown>;
}

export interface Flow {
  id: string;
  namespace: string;
  revision?: number;
  description?: string;
  tenantId?: string;
  labels: Label[];
  inputs: Input[];
  variables: Record<string, unknown>;
  tasks: Task[];
  errors: Task[];
  finally: Task[];
  afterExecution: Task[];
  triggers: Trigger[];
  concurrency?: Concurrency;
  outputs: FlowOutput[];
  retry?: RetryPolicy;
  disabled: boolean;
  pluginDefaults: PluginDefault[];
}
