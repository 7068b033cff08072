import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Level, Task } from "../../../schemas/flow-types.js";
import type { RunContext, RunResult, TaskDefinition } from "../../../tasks/types.js";
import { MemoryStorage } from "../../../storage/memory-storage.js";
import { ScopedStorage } from "../../../storage/scoped-storage.js";
import { executionPrefix } from "../../../storage/paths.js";
import { LannerError } from "../../../common/errors.js";
import { renderDeep, renderTyped } from "../../../expressions/index.js";
import { StorageKvStore } from "../../../storage/kv-store.js";

export interface TestRun {
  ctx: RunContext;
  logs: Array<{ level: Level; message: string }>;
  /** The unscoped storage behind ctx.storage. */
  storage: MemoryStorage;
  controller: AbortController;
  /** Commands the task sent with `ctx.sendCommand`, as the worker would append them (with the tenant). */
  commands: Array<Record<string, unknown>>;
  cleanup(): Promise<void>;
}

/**
 * A RunContext as a worker builds it: execution-scoped memory storage, a real temporary working
 * directory, logs collected in order, rendering by the expression engine against `ctx.vars`.
 */
export async function makeRunContext(opts: { vars?: Record<string, unknown> } = {}): Promise<TestRun> {
  const storage = new MemoryStorage();
  const ids = { tenantId: "main", namespace: "company.team", flowId: "flow1", executionId: "exec1" };
  const workingDir = await mkdtemp(join(tmpdir(), "lanner-task-"));
  const controller = new AbortController();
  const logs: TestRun["logs"] = [];
  const commands: TestRun["commands"] = [];
  const vars: Record<string, unknown> = { ...(opts.vars ?? {}) };
  const ctx: RunContext = {
    ...ids,
    taskRunId: "tr1",
    attempt: 1,
    vars,
    render<T = unknown>(value: unknown): T {
      return renderDeep<T>(value, ctx.vars);
    },
    renderTyped(value: unknown): unknown {
      return typeof value === "string" ? renderTyped(value, ctx.vars) : renderDeep(value, ctx.vars);
    },
    log(level, message) {
      logs.push({ level, message });
    },
    storage: new ScopedStorage(storage, executionPrefix(ids)),
    kv: new StorageKvStore(storage),
    signal: controller.signal,
    workingDir,
    async sendCommand(command) {
      commands.push({ ...command, tenantId: ids.tenantId });
    },
  };
  return { ctx, logs, storage, controller, commands, cleanup: () => rm(workingDir, { recursive: true, force: true }) };
}

/** Validates the task against its type's schema (as the flow parser does), then runs it. */
export async function runTask(def: TaskDefinition, task: Task, ctx: RunContext): Promise<RunResult> {
  const parsed = def.properties.safeParse(task);
  if (!parsed.success) throw new Error(`invalid task: ${JSON.stringify(parsed.error.issues)}`);
  if (!def.run) throw new Error(`${def.types[0]} has no run()`);
  return def.run(task, ctx);
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<LannerError> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof LannerError)) throw new Error(`expected a LannerError, got ${String(err)}`);
  return err;
}
