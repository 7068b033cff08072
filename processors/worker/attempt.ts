import { LannerError } from "../../common/errors.js";
import { formatDuration } from "../../schemas/duration.js";
import { executionPrefix } from "../../storage/paths.js";
import { ScopedStorage } from "../../storage/scoped-storage.js";
import { isForEachItemWork, runForEachItemWork } from "./for-each-item-files.js";
import { LazyDir } from "./lazy-dir.js";
import type { WorkerJob } from "./protocol.js";
import { emitLine, errorOf, runTask, type AttemptEnv, type AttemptOutcome, type TaskScope } from "./run-task.js";
import { isWorkingDirectory, runWorkingDirectory } from "./working-directory.js";

export type { AttemptEnv, AttemptOutcome } from "./run-task.js";

/** Why an attempt's signal was aborted. */
export type AbortCause = "kill" | "deadline" | "handback";

function timeoutText(job: WorkerJob, startedAt: number): string {
  if (typeof job.task.timeout === "string") return job.task.timeout;
  return formatDuration(Math.max(0, (job.deadline ?? startedAt) - startedAt));
}

/**
 * One attempt of one job on this worker: runs it to an outcome. `abort(cause)` stops it: a kill
 * ends it KILLED, the deadline FAILED ("Task timed out after …"), a hand-back (graceful stop ran
 * out of time) ends it without a result. A task that ignores its signal is waited for at most
 * `killGraceMs`, then reported anyway so its slot is freed.
 */
export class Attempt {
  private readonly controller = new AbortController();
  private cause: AbortCause | undefined;
  private graceElapsed: () => void = () => undefined;
  /** Resolves `killGraceMs` after an abort. */
  private readonly graceOver = new Promise<"grace">((resolve) => (this.graceElapsed = () => resolve("grace")));
  private readonly startedAt = Date.now();

  constructor(
    readonly job: WorkerJob,
    private readonly env: AttemptEnv,
  ) {}

  /** Why it was aborted, if it was. */
  get abortCause(): AbortCause | undefined {
    return this.cause;
  }

  /** Aborts the attempt (first cause wins). */
  abort(cause: AbortCause): void {
    if (this.cause !== undefined) return;
    this.cause = cause;
    const message =
      cause === "kill" ? "Task was killed" : cause === "deadline" ? `Task timed out after ${timeoutText(this.job, this.startedAt)}` : "The worker is stopping; the task is handed back";
    this.controller.abort(new LannerError(cause === "deadline" ? "TASK_TIMEOUT" : "TASK_ABORTED", message));
    const grace = setTimeout(() => this.graceElapsed(), this.env.killGraceMs);
    grace.unref();
  }

  /** Runs the attempt; never rejects. */
  async run(): Promise<AttemptOutcome> {
    let deadlineTimer: NodeJS.Timeout | undefined;
    const workingDir = new LazyDir();
    try {
      if (this.job.deadline !== undefined) {
        const left = this.job.deadline - Date.now();
        if (left <= 0) this.abort("deadline");
        else deadlineTimer = setTimeout(() => this.abort("deadline"), left);
      }
      const scope: TaskScope = {
        job: this.job,
        env: this.env,
        signal: this.controller.signal,
        // created on first use: most tasks never need a directory
        get workingDir() {
          return workingDir.path;
        },
        storage: new ScopedStorage(this.env.storage, executionPrefix(this.job)),
      };
      const work: Promise<AttemptOutcome> = isWorkingDirectory(this.job.task)
        ? runWorkingDirectory(scope)
        : isForEachItemWork(this.job.task)
        ? runForEachItemWork(scope)
        : runTask(scope, this.job.task, this.job.vars).then(
            (r): AttemptOutcome => ({ state: r.state ?? "SUCCESS", ...(r.outputs !== undefined ? { outputs: r.outputs } : {}) }),
            (err: unknown): AttemptOutcome => ({ state: "FAILED", error: errorOf(err) }),
          );
      const first = await Promise.race([work, this.graceOver]);
      const outcome: AttemptOutcome = first === "grace" ? { state: "FAILED", error: { message: "the task did not stop after it was aborted" } } : first;
      return this.settle(outcome);
    } catch (err) {
      return this.settle({ state: "FAILED", error: errorOf(err) });
    } finally {
      if (deadlineTimer !== undefined) clearTimeout(deadlineTimer);
      await workingDir.dispose();
    }
  }

  /** An abort decides the state whatever the task answered; failures are logged for the user. */
  private settle(outcome: AttemptOutcome): AttemptOutcome {
    let final = outcome;
    if (this.cause === "kill") final = { ...outcome, state: "KILLED", error: { message: "Task was killed", code: "TASK_KILLED" } };
    else if (this.cause === "deadline") {
      final = { ...outcome, state: "FAILED", error: { message: `Task timed out after ${timeoutText(this.job, this.startedAt)}`, code: "TASK_TIMEOUT" } };
    }
    if ((final.state === "FAILED" || final.state === "KILLED") && final.error !== undefined && this.cause !== "handback") {
      emitLine({ job: this.job, env: this.env, signal: this.controller.signal, workingDir: "", storage: this.env.storage }, this.job.task.id, "ERROR", final.error.message);
    }
    return final;
  }
}
