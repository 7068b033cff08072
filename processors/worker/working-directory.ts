import { createReadStream } from "node:fs";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { LannerError } from "../../common/errors.js";
import { isTruthy, renderDeep, renderTyped } from "../../expressions/index.js";
import { parseDuration } from "../../schemas/duration.js";
import type { Task } from "../../schemas/flow-types.js";
import { isStorageUri } from "../../storage/paths.js";
import { readFileBytes } from "../../storage/read-all.js";
import { flowableNames } from "../../tasks/flowable/names.js";
import { toStringList, toStringMap } from "../../tasks/runnable/coerce.js";
import { globToRegExp } from "../../tasks/runnable/shell-exec.js";
import { envSecret } from "./secrets.js";
import { errorOf, runTask, type AttemptOutcome, type TaskScope } from "./run-task.js";

const WORKING_DIRECTORY_TYPES = new Set(flowableNames("WorkingDirectory"));
/** Files scanned for `outputFiles` at most. */
const MAX_SCANNED_FILES = 100_000;

/** True when the job is a WorkingDirectory (its children run here, in one directory). */
export function isWorkingDirectory(task: Task): boolean {
  return WORKING_DIRECTORY_TYPES.has(task.type);
}

/** One child's report, in the shape the executor folds into task runs. */
export interface ChildReport {
  taskId: string;
  state: "SUCCESS" | "WARNING" | "FAILED" | "KILLED" | "SKIPPED";
  outputs?: Record<string, unknown>;
  error?: { message: string; code?: string };
}

function relativeInside(name: string, what: string): string {
  const clean = name.replace(/^\.\//, "");
  if (clean === "" || clean.includes("\0") || clean.startsWith("/") || clean.includes("\\") || clean.split("/").some((s) => s === "..")) {
    throw new LannerError("TASK_INVALID_PROPERTY", `${what}: ${JSON.stringify(name)} must be a relative path inside the working directory`);
  }
  return clean;
}

async function walk(dir: string, base: string, out: string[], budget: { left: number }): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (--budget.left < 0) throw new LannerError("TASK_OUTPUT_FILES", `outputFiles: the working directory holds more than ${MAX_SCANNED_FILES} files`);
    const abs = join(dir, e.name);
    if (e.isDirectory()) await walk(abs, base, out, budget);
    else if (e.isFile()) out.push(relative(base, abs).split(sep).join("/"));
  }
}

/** A signal aborted by the attempt's signal or by the child's own `timeout`. */
function childSignal(parent: AbortSignal, child: Task): { signal: AbortSignal; done: () => void } {
  if (typeof child.timeout !== "string") return { signal: parent, done: () => undefined };
  const controller = new AbortController();
  const onParent = () => controller.abort(parent.reason);
  if (parent.aborted) onParent();
  else parent.addEventListener("abort", onParent, { once: true });
  const timer = setTimeout(
    () => controller.abort(new LannerError("TASK_TIMEOUT", `Task timed out after ${String(child.timeout)}`)),
    parseDuration(child.timeout),
  );
  return {
    signal: controller.signal,
    done: () => {
      clearTimeout(timer);
      parent.removeEventListener("abort", onParent);
    },
  };
}

function abortState(signal: AbortSignal): "FAILED" | "KILLED" {
  const reason: unknown = signal.reason;
  return reason instanceof LannerError && reason.code === "TASK_TIMEOUT" ? "FAILED" : "KILLED";
}

/**
 * Runs a WorkingDirectory job: writes its `inputFiles`, runs its children in order in the
 * attempt's one working directory (each sees the earlier ones' outputs as `outputs.<id>`),
 * stops at the first failure unless that child allows it, uploads `outputFiles`, and answers
 * `outputs.taskRuns = [{taskId, state, outputs, error?}]` in order.
 */
export async function runWorkingDirectory(scope: TaskScope): Promise<AttemptOutcome> {
  const { job } = scope;
  const wd = job.task;
  const children = Array.isArray(wd.tasks) ? (wd.tasks as Task[]) : [];
  const services = { now: Date.now, secret: (name: string) => envSecret(name, scope.env.env) };
  const taskRuns: ChildReport[] = [];
  const priorOutputs = job.vars.outputs !== null && typeof job.vars.outputs === "object" ? (job.vars.outputs as Record<string, unknown>) : {};
  const outputs: Record<string, unknown> = { ...priorOutputs };
  let state: "SUCCESS" | "WARNING" = "SUCCESS";
  let failure: { message: string; code?: string } | undefined;

  try {
    if (wd.inputFiles !== undefined) {
      const files = toStringMap(renderDeep(wd.inputFiles, job.vars, { services }), "inputFiles");
      for (const [name, content] of Object.entries(files)) {
        const target = join(scope.workingDir, relativeInside(name, "inputFiles"));
        await mkdir(dirname(target), { recursive: true });
        await writeFile(target, isStorageUri(content.trim()) ? await readFileBytes(scope.storage, content.trim()) : content);
      }
    }
  } catch (err) {
    return { state: "FAILED", error: errorOf(err), outputs: { taskRuns } };
  }

  for (const child of children) {
    if (child.disabled === true) continue;
    if (scope.signal.aborted) break;
    const vars: Record<string, unknown> = { ...job.vars, outputs: { ...outputs } };
    if (typeof child.runIf === "string") {
      let run: boolean;
      try {
        run = isTruthy(renderTyped(child.runIf, vars, { services }));
      } catch (err) {
        taskRuns.push({ taskId: child.id, state: "FAILED", error: errorOf(err) });
        if (child.allowFailure === true) continue;
        failure = errorOf(err);
        break;
      }
      if (!run) {
        taskRuns.push({ taskId: child.id, state: "SKIPPED" });
        continue;
      }
    }
    const { signal, done } = childSignal(scope.signal, child);
    let report: ChildReport;
    try {
      const r = await runTask({ ...scope, signal }, child, vars);
      report = signal.aborted
        ? { taskId: child.id, state: abortState(signal), error: errorOf(signal.reason) }
        : { taskId: child.id, state: r.state ?? "SUCCESS", ...(r.outputs !== undefined ? { outputs: r.outputs } : {}) };
    } catch (err) {
      report = { taskId: child.id, state: signal.aborted ? abortState(signal) : "FAILED", error: errorOf(signal.aborted ? signal.reason : err) };
    } finally {
      done();
    }
    taskRuns.push(report);
    if (report.outputs !== undefined) outputs[child.id] = report.outputs;
    if (report.state === "WARNING") state = "WARNING";
    if (report.state === "KILLED") return { state: "KILLED", outputs: { taskRuns } };
    if (report.state === "FAILED" && child.allowFailure !== true) {
      failure = report.error ?? { message: `task ${child.id} failed` };
      break;
    }
  }
  if (failure !== undefined) return { state: "FAILED", error: { ...failure, message: failure.message }, outputs: { taskRuns } };
  if (scope.signal.aborted) return { state: abortState(scope.signal), error: errorOf(scope.signal.reason), outputs: { taskRuns } };

  try {
    const outputFiles = await uploadOutputFiles(scope, wd, services);
    return { state, outputs: { taskRuns, ...(outputFiles !== undefined ? { outputFiles } : {}) } };
  } catch (err) {
    return { state: "FAILED", error: errorOf(err), outputs: { taskRuns } };
  }
}

async function uploadOutputFiles(scope: TaskScope, wd: Task, services: { now: () => number; secret: (n: string) => string | undefined }): Promise<Record<string, string> | undefined> {
  if (wd.outputFiles === undefined) return undefined;
  const globs = toStringList(renderDeep(wd.outputFiles, scope.job.vars, { services }), "outputFiles").map((g) => relativeInside(g, "outputFiles"));
  const patterns = globs.map(globToRegExp);
  const all: string[] = [];
  await walk(scope.workingDir, scope.workingDir, all, { left: MAX_SCANNED_FILES });
  const files: Record<string, string> = {};
  for (const rel of all.sort()) {
    if (!patterns.some((p) => p.test(rel))) continue;
    files[rel] = await scope.storage.put(`tasks/${wd.id}/${scope.job.taskRunId}/${rel}`, createReadStream(join(scope.workingDir, rel)));
  }
  return files;
}
