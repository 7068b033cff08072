/**
 * Helpers of the end-to-end tests: a small API client over `fetch` (deploy a flow, start and read
 * executions, wait for terminal states with a bounded poll), and a reader of the `executions`
 * topic that groups the decoded events by execution and checks each history for exactly-once
 * task runs.
 */
import { replayHistory } from "../../processors/executor/apply.js";
import type { ExecutionEvent } from "../../processors/executor/events.js";
import { isTerminal, type ExecutionState, type State } from "../../processors/executor/model.js";
import { decodeEvent } from "../../processors/executor/shell/records.js";
import { avroRecordCodec } from "../../processors/worker/record-codec.js";
import type { Log } from "../../topology/log.js";
import { PostgresLog } from "../../topology/postgres/postgres-log.js";
import { topicCatalogue } from "../../topology/topics.js";
import { startLanner, type LannerProcess } from "../harness/lanner-process.js";

/** What the tests read of an execution over the API (Kestra's JSON shape). */
export interface ApiExecution {
  id: string;
  state: { current: State; histories: Array<{ state: State; date: string }> };
  taskRunList?: Array<{
    id: string;
    taskId: string;
    value?: string;
    state: { current: State };
    attempts?: Array<{ state: { current: State }; workerId?: string }>;
    outputs?: Record<string, unknown>;
  }>;
  outputs?: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A minimal client of the webserver at `baseUrl`. Every non-2xx answer throws with its body. */
export class ApiClient {
  constructor(readonly baseUrl: string) {}

  private async call(method: string, path: string, body?: { type: string; text: string }): Promise<unknown> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      ...(body ? { headers: { "content-type": body.type }, body: body.text } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status}: ${text}`);
    return text === "" ? undefined : JSON.parse(text);
  }

  /** Deploys a flow (YAML source); resolves with its revision. */
  async deployFlow(yaml: string): Promise<number> {
    const r = await this.call("POST", "/api/v1/flows", { type: "application/x-yaml", text: yaml });
    return (r as { revision: number }).revision;
  }

  /** Starts an execution (no wait); resolves with its id. */
  async execute(namespace: string, flowId: string, inputs: Record<string, unknown> = {}): Promise<string> {
    const r = await this.call("POST", `/api/v1/executions/${namespace}/${flowId}`, { type: "application/json", text: JSON.stringify(inputs) });
    return (r as ApiExecution).id;
  }

  /** Starts `count` executions, `batch` requests at a time; resolves with their ids in start order. */
  async executeMany(namespace: string, flowId: string, count: number, batch: number, inputs: (i: number) => Record<string, unknown> = () => ({})): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i += batch) {
      const n = Math.min(batch, count - i);
      ids.push(...(await Promise.all(Array.from({ length: n }, (_, k) => this.execute(namespace, flowId, inputs(i + k))))));
    }
    return ids;
  }

  /** The execution as the read side knows it. */
  async getExecution(id: string): Promise<ApiExecution> {
    return (await this.call("GET", `/api/v1/executions/${id}`)) as ApiExecution;
  }

  /** How many executions of a flow the read side holds in `state` (search endpoint's total). */
  async countInState(namespace: string, flowId: string, state: State): Promise<number> {
    const q = new URLSearchParams({ namespace, flowId, state, size: "1" });
    return ((await this.call("GET", `/api/v1/executions/search?${q.toString()}`)) as { total: number }).total;
  }

  /**
   * Polls until every execution of `ids` is terminal (the read side is a projection: polling is
   * the only way to see it from outside); rejects after `timeoutMs` naming those still running.
   */
  async waitTerminal(ids: readonly string[], timeoutMs: number, pollMs = 250): Promise<Map<string, ApiExecution>> {
    const done = new Map<string, ApiExecution>();
    const deadline = Date.now() + timeoutMs;
    let pending = [...ids];
    while (pending.length > 0) {
      const got = await Promise.all(pending.map((id) => this.getExecution(id)));
      for (const e of got) if (isTerminal(e.state.current)) done.set(e.id, e);
      pending = pending.filter((id) => !done.has(id));
      if (pending.length === 0) break;
      if (Date.now() > deadline) {
        const sample = got.filter((e) => !done.has(e.id)).slice(0, 5).map((e) => `${e.id}: ${e.state.current}`);
        throw new Error(`${pending.length} execution(s) not terminal after ${timeoutMs} ms, e.g. ${sample.join(", ")}`);
      }
      await sleep(pollMs);
    }
    return done;
  }

  /** Polls `probe` until it returns a value other than undefined; rejects after `timeoutMs`. */
  static async until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, pollMs = 100): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(pollMs);
    }
  }
}

/** Reads every partition of `topic` from its start and groups the decoded execution events by execution id, in seq order. */
export async function readHistories(log: Log, topic = "executions"): Promise<Map<string, ExecutionEvent[]>> {
  const byExecution = new Map<string, ExecutionEvent[]>();
  const partitions = log.partitionsOf(topic);
  for (let p = 0; p < partitions; p++) {
    for await (const rec of log.readPartition(topic, p, 0n)) {
      const e = decodeEvent(avroRecordCodec, rec.value);
      let list = byExecution.get(e.executionId);
      if (!list) byExecution.set(e.executionId, (list = []));
      list.push(e);
    }
  }
  return byExecution;
}

/** What one execution's history says, checked for exactly-once task runs. */
export interface HistoryCheck {
  /** The state `replayHistory` rebuilds (it throws on an invalid history). */
  state: ExecutionState;
  /** Human-readable problems: duplicate TaskRunCreated, a task run ended twice or never, seq gaps. */
  problems: string[];
  /** Attempts created per task id (1 when nothing was resubmitted). */
  attemptsByTask: Map<string, number[]>;
  /** `AttemptStarted` events per task run id, in order. */
  started: Map<string, Array<{ attempt: number; workerId: string }>>;
  /** `ResultIgnored` events. */
  ignored: Array<{ taskRunId: string; attempt: number; reason: string }>;
}

/**
 * Checks one execution's history: seqs 1..n without gap or repeat, every task run created once
 * and ended (terminal TaskRunStateChanged) exactly once, and the whole history replays.
 */
export function checkHistory(events: readonly ExecutionEvent[]): HistoryCheck {
  const problems: string[] = [];
  events.forEach((e, i) => {
    if (e.seq !== i + 1) problems.push(`event ${i} has seq ${e.seq}, expected ${i + 1}`);
  });
  const created = new Map<string, number>();
  const taskIdOf = new Map<string, string>();
  const terminal = new Map<string, State[]>();
  const attempts = new Map<string, number[]>();
  const started = new Map<string, Array<{ attempt: number; workerId: string }>>();
  const ignored: HistoryCheck["ignored"] = [];
  for (const e of events) {
    if (e.type === "TaskRunCreated") {
      created.set(e.taskRunId, (created.get(e.taskRunId) ?? 0) + 1);
      taskIdOf.set(e.taskRunId, e.taskId);
    } else if (e.type === "TaskRunStateChanged" && isTerminal(e.state)) {
      terminal.set(e.taskRunId, [...(terminal.get(e.taskRunId) ?? []), e.state]);
    } else if (e.type === "AttemptCreated") {
      attempts.set(e.taskRunId, [...(attempts.get(e.taskRunId) ?? []), e.attempt]);
    } else if (e.type === "AttemptStarted") {
      started.set(e.taskRunId, [...(started.get(e.taskRunId) ?? []), { attempt: e.attempt, workerId: e.workerId }]);
    } else if (e.type === "ResultIgnored") {
      ignored.push({ taskRunId: e.taskRunId, attempt: e.attempt, reason: e.reason });
    }
  }
  for (const [id, n] of created) {
    if (n !== 1) problems.push(`task run ${id} (${taskIdOf.get(id)}) created ${n} times`);
    const ends = terminal.get(id) ?? [];
    if (ends.length !== 1) problems.push(`task run ${id} (${taskIdOf.get(id)}) ended ${ends.length} times: ${ends.join(", ")}`);
  }
  for (const id of terminal.keys()) if (!created.has(id)) problems.push(`task run ${id} ended but was never created`);
  const attemptsByTask = new Map<string, number[]>();
  for (const [runId, list] of attempts) {
    const task = taskIdOf.get(runId) ?? runId;
    attemptsByTask.set(task, [...(attemptsByTask.get(task) ?? []), ...list]);
  }
  const state = replayHistory(events);
  return { state, problems, attemptsByTask, started, ignored };
}

export type ClusterRole = "executor" | "worker" | "liveness" | "indexer" | "webserver";

/**
 * A set of `lanner server <role>` processes started by a test: what every backend's cluster shares
 * (starting several at once, a failure report naming each process, crashing them all).
 */
export abstract class ProcessCluster {
  readonly processes: LannerProcess[] = [];

  /** Starts `lanner server <role> …` on this cluster's backend and waits for its ready line. */
  abstract start(role: ClusterRole, extraArgs?: string[], env?: NodeJS.ProcessEnv): Promise<LannerProcess>;

  /**
   * Starts several processes at once. Waits for every start to settle before throwing the first
   * failure, so that `crashAll` sees each process that did start.
   */
  async startAll(specs: Array<[role: ClusterRole, extraArgs?: string[], env?: NodeJS.ProcessEnv]>): Promise<LannerProcess[]> {
    const settled = await Promise.allSettled(specs.map((args) => this.start(...args)));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    return settled.map((r) => (r as PromiseFulfilledResult<LannerProcess>).value);
  }

  /** Each process's role, exit status and last warnings/errors: what a failure message needs. */
  report(): string {
    return this.processes.map((p, i) => {
      const status = p.child.exitCode !== null ? `exited ${p.child.exitCode}` : p.child.signalCode !== null ? `killed by ${p.child.signalCode}` : "running";
      const notable = p.output().split("\n").filter((l) => l.trim() !== "" && !l.includes('"level":30')).slice(-8).map((l) => `    ${l.slice(0, 400)}`);
      return [`  #${i} ${p.args.slice(0, 2).join(" ")} (pid ${p.child.pid}): ${status}`, ...notable].join("\n");
    }).join("\n");
  }

  /** Resolves like `p`; a rejection is rethrown with `report()` appended. */
  async explain<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      throw new Error(`${err instanceof Error ? err.message : String(err)}\nprocesses:\n${this.report()}`, { cause: err });
    }
  }

  /** SIGKILLs every process still running (for `afterAll`, also after a failure). */
  async crashAll(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.crash()));
  }
}

/** A set of `lanner server <role>` processes on one Postgres schema, all crashed by `crashAll`. */
export class PostgresCluster extends ProcessCluster {
  constructor(
    readonly url: string,
    readonly schema: string,
    readonly env: NodeJS.ProcessEnv = {},
  ) {
    super();
  }

  /** Starts `lanner server <role> --backend postgres …` and waits for its ready line. */
  async start(role: ClusterRole, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<LannerProcess> {
    const args = ["server", role, "--backend", "postgres", "--postgres-url", this.url, "--postgres-schema", this.schema, ...extraArgs];
    const p = await startLanner(args, { env: { ...this.env, ...env } });
    this.processes.push(p);
    return p;
  }

}

/**
 * The worker id a worker process logged at start (needs LANNER_LOG_LEVEL=info). The log goes to
 * stderr and the ready line to stdout, so the log line may arrive a little after the ready line.
 */
export async function workerIdOf(p: LannerProcess, timeoutMs = 10_000): Promise<string> {
  const find = () => /"workerId":"([^"]+)"[^\n]*"msg":"worker started"/.exec(p.output())?.[1];
  try {
    return await ApiClient.until("the worker's start log line", async () => find(), timeoutMs, 50);
  } catch {
    throw new Error(`no "worker started" line with a workerId in the output:\n${p.output().slice(0, 2000)}`);
  }
}

/** Opens the Postgres log of a schema and loads the topic metadata of the catalogue (default partitions). */
export async function openPostgresLog(url: string, schema: string): Promise<PostgresLog> {
  // a reader needs few connections; the server processes of a test use many already
  const log = await PostgresLog.open({ url, schema, poolSize: 2 });
  await log.ensureTopics(topicCatalogue().specs());
  return log;
}
