import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { silentLogger } from "../../../common/logger.js";
import { avroRecordCodec } from "../../../processors/worker/record-codec.js";
import type { CancelJob, WorkerJob } from "../../../processors/worker/protocol.js";
import { WORKER_CONTROL_TOPIC } from "../../../processors/worker/records.js";
import { Worker, type WorkerOptions } from "../../../processors/worker/worker.js";
import type { Task } from "../../../schemas/flow-types.js";
import { LocalStorage } from "../../../storage/local-storage.js";
import { flowableDefinitions } from "../../../tasks/flowable/index.js";
import { TaskRegistry } from "../../../tasks/registry.js";
import { runnableDefinitions } from "../../../tasks/runnable/index.js";
import type { TaskDefinition } from "../../../tasks/types.js";
import { EmbeddedLog } from "../../../topology/embedded/embedded-log.js";
import type { Log, LogRecord, Membership } from "../../../topology/log.js";
import { MemoryLog } from "../../../topology/memory/memory-log.js";
import { PostgresLog } from "../../../topology/postgres/postgres-log.js";
import { topicCatalogue } from "../../../topology/topics.js";
import { createTestSchema } from "../../harness/postgres.js";

export const GATE_TYPE = "test.Gate";

/**
 * A task that blocks until the test opens its gate (by task id), counting how many run at once.
 * It stops when its attempt is aborted, like a well-behaved task.
 */
export class Gates {
  running = 0;
  maxRunning = 0;
  private readonly opened = new Map<string, () => void>();
  private readonly pending = new Map<string, Promise<void>>();
  private readonly startWaiters: Array<() => void> = [];

  private gate(id: string): Promise<void> {
    let p = this.pending.get(id);
    if (p === undefined) {
      p = new Promise<void>((resolve) => this.opened.set(id, resolve));
      this.pending.set(id, p);
    }
    return p;
  }

  /** Lets the task with this id finish. */
  open(id: string): void {
    void this.gate(id);
    this.opened.get(id)?.();
  }

  /** Resolves once `n` gate tasks are running at the same time. */
  async untilRunning(n: number): Promise<void> {
    while (this.running < n) await new Promise<void>((resolve) => this.startWaiters.push(resolve));
  }

  readonly definition: TaskDefinition = {
    types: [GATE_TYPE],
    kind: "runnable",
    properties: z.looseObject({}),
    run: async (task, ctx) => {
      this.running++;
      this.maxRunning = Math.max(this.maxRunning, this.running);
      for (const w of this.startWaiters.splice(0)) w();
      try {
        await new Promise<void>((resolve, reject) => {
          if (ctx.signal.aborted) reject(new Error("aborted"));
          ctx.signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
          void this.gate(task.id).then(resolve);
        });
      } finally {
        this.running--;
      }
      return { outputs: { gate: task.id } };
    },
  };
}

export function registryWith(...extra: TaskDefinition[]): TaskRegistry {
  return new TaskRegistry([...flowableDefinitions, ...runnableDefinitions, ...extra]);
}

export interface TestEnv {
  log: Log;
  dir: string;
  storage: LocalStorage;
  /** Opens the embedded log again on the same directory (after `log.close()`). */
  reopen(): Promise<Log>;
  cleanup(): Promise<void>;
}

const PARTITIONS = 4;

async function prepare(log: Log): Promise<Log> {
  // The catalogue includes worker-control (one partition).
  await log.ensureTopics(topicCatalogue({ executionPartitions: PARTITIONS }).specs());
  return log;
}

export type Backend = "embedded" | "memory" | "postgres";

/** A real log (embedded in a temp dir, memory, or a fresh Postgres schema) with the topics created, and local storage. */
export async function openEnv(backend: Backend): Promise<TestEnv> {
  const dir = await mkdtemp(join(tmpdir(), "lanner-worker-test-"));
  const storageDir = join(dir, "storage");
  await mkdir(storageDir, { recursive: true });
  const pgSchema = backend === "postgres" ? await createTestSchema("worker") : undefined;
  const open = async () =>
    prepare(
      backend === "embedded"
        ? await EmbeddedLog.open({ dataDir: dir })
        : pgSchema !== undefined
          ? await PostgresLog.open({ url: pgSchema.url, schema: pgSchema.schema })
          : new MemoryLog(),
    );
  const env: TestEnv = {
    log: await open(),
    dir,
    storage: new LocalStorage(storageDir),
    async reopen() {
      env.log = await open();
      return env.log;
    },
    async cleanup() {
      await env.log.close().catch(() => undefined);
      await pgSchema?.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return env;
}

export function newWorker(env: TestEnv, opts: Partial<WorkerOptions> = {}): Worker {
  return new Worker({
    log: env.log,
    logger: silentLogger(),
    storage: env.storage,
    threads: 2,
    heartbeatIntervalMs: 60_000,
    ...opts,
  });
}

let counter = 0;

/** A job for `task`, with ids unique to this test run. */
export function job(task: Partial<Task> & { type: string }, extra: Partial<WorkerJob> = {}): WorkerJob {
  const n = ++counter;
  return {
    tenantId: "main",
    namespace: "company.team",
    flowId: "flow",
    executionId: extra.executionId ?? `exec-${n}-${randomUUID().slice(0, 8)}`,
    taskRunId: `tr-${n}`,
    attempt: 1,
    task: { id: `t${n}`, ...task },
    vars: {},
    ...extra,
  };
}

export async function appendJobs(log: Log, ...jobs: WorkerJob[]): Promise<bigint[]> {
  const res = await log.append(jobs.map((j) => ({ topic: "worker-jobs", key: j.executionId, value: avroRecordCodec.encode("WorkerJob", j) })));
  return res.map((r) => r.offset);
}

export async function appendCancel(log: Log, c: CancelJob): Promise<void> {
  await log.append([{ topic: WORKER_CONTROL_TOPIC, key: c.executionId, value: avroRecordCodec.encode("CancelJob", c) }]);
}

export interface Seen {
  type: string;
  value: Record<string, unknown>;
  record: LogRecord;
}

/**
 * Reads a topic from the start in its own consumer group, decoding every record, and lets a
 * test wait for records matching a predicate (bounded by the test's timeout).
 */
export class Collector {
  readonly seen: Seen[] = [];
  private waiters: Array<() => void> = [];
  private membership: Membership | undefined;

  private constructor(private readonly topic: string) {}

  static async on(log: Log, topic: string): Promise<Collector> {
    const c = new Collector(topic);
    c.membership = await log.join(`test-${topic}-${randomUUID()}`, [topic], {
      onAssign: async () => undefined,
      onRevoke: async () => undefined,
      onRecords: async (batch) => {
        for (const record of batch) {
          const { type, value } = avroRecordCodec.decode(record.value);
          c.seen.push({ type, value: value as Record<string, unknown>, record });
        }
        for (const w of c.waiters.splice(0)) w();
      },
    });
    return c;
  }

  /** Resolves with the records matching `pred` once there are at least `count` of them. */
  async waitFor(pred: (s: Seen) => boolean, count = 1): Promise<Seen[]> {
    for (;;) {
      const found = this.seen.filter(pred);
      if (found.length >= count) return found;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  matching(pred: (s: Seen) => boolean): Seen[] {
    return this.seen.filter(pred);
  }

  async close(): Promise<void> {
    await this.membership?.leave();
  }
}

/** Predicate: a worker result of `kind` for the task run of `j`. */
export function resultOf(j: WorkerJob, kind: "started" | "completed"): (s: Seen) => boolean {
  return (s) => s.type === "WorkerResult" && s.value.kind === kind && s.value.taskRunId === j.taskRunId && s.value.executionId === j.executionId;
}
