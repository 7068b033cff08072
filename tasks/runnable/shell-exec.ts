import { createReadStream } from "node:fs";
import { mkdir, readdir, writeFile, realpath } from "node:fs/promises";
import { basename, dirname, join, relative, sep } from "node:path";
import type { Task } from "../../schemas/flow-types.js";
import { LannerError } from "../../common/errors.js";
import type { RunContext, RunResult } from "../types.js";
import { isStorageUri } from "../../storage/paths.js";
import { readFileBytes } from "../../storage/read-all.js";
import { parseIsoDuration, toBool, toStringList, toStringMap } from "./coerce.js";
import { parseMarker, runProcess } from "./process-runner.js";
import { abortError } from "./abort.js";

/** Default time between SIGTERM and SIGKILL when an attempt is aborted. */
export const DEFAULT_KILL_GRACE_MS = 5000;

/** The shell properties after parsing (still unrendered). */
export interface ShellProps {
  env?: Record<string, unknown> | string;
  inputFiles?: Record<string, unknown> | string;
  outputFiles?: string[] | string;
  interpreter?: string[] | string;
  beforeCommands?: string[] | string;
  failFast?: boolean | string;
  warningOnStdErr?: boolean | string;
  killGracePeriod?: string;
}

const SHELLS = new Set(["sh", "bash", "dash", "zsh", "ksh", "ash"]);

/** Directory (inside the working directory) whose files become output files automatically, as Kestra's `{{ outputDir }}`. */
const OUTPUT_DIR = "_output";

/** A relative path inside the working directory, or a clear error. */
function workPath(root: string, name: string, what: string): string {
  if (name === "" || name.includes("\0") || name.startsWith("/") || name.includes("\\") || name.split("/").some((s) => s === "..")) {
    throw new LannerError("TASK_INVALID_PROPERTY", `${what}: ${JSON.stringify(name)} must be a relative path inside the working directory`);
  }
  return join(root, name);
}

/** Kestra-style glob (`*`, `**`, `?`) to a regular expression over `/`-separated relative paths. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*") {
      if (glob[i + 1] === "*") {
        // `**/` matches zero or more directories; a trailing `**` matches everything below.
        if (glob[i + 2] === "/") {
          re += "(?:.*/)?";
          i += 2;
        } else {
          re += ".*";
          i += 1;
        }
      } else {
        re += "[^/]*";
      }
    } else if (c === "?") {
      re += "[^/]";
    } else {
      re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
  }
  return new RegExp(`^${re}$`);
}

/** Regular files under `dir` as `/`-separated paths relative to `base` (symlinks are not followed). */
async function walkFiles(dir: string, base: string, out: string[], budget: { left: number }): Promise<void> {
  let entries: import("node:fs").Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (--budget.left < 0) {
      throw new LannerError("TASK_OUTPUT_FILES", "outputFiles: the working directory holds too many files to scan (over 100000)");
    }
    const abs = join(dir, e.name);
    if (e.isDirectory()) await walkFiles(abs, base, out, budget);
    else if (e.isFile()) out.push(relative(base, abs).split(sep).join("/"));
  }
}

/**
 * Runs a shell task: writes input files, runs `interpreter` with the script as its last argument
 * in the attempt's working directory, streams output lines to the logs, reads Kestra's
 * `::{"outputs":…}::` lines, uploads output files. Outputs `{vars, exitCode, outputFiles}`.
 */
export async function runShell(
  task: Task,
  ctx: RunContext,
  props: ShellProps,
  /** The commands (rendered, in order); the script task passes its script as one element. */
  commands: () => string[],
  /** `set -e` unless `failFast: false`; the Commands task defaults to it, the Script task does not. */
  defaultFailFast: boolean,
): Promise<RunResult> {
  const workingDir = await realpath(ctx.workingDir);
  const outputDir = join(workingDir, OUTPUT_DIR);
  await mkdir(outputDir, { recursive: true });
  // Kestra flows refer to these as {{ workingDir }} and {{ outputDir }}; the render sees ctx.vars.
  ctx.vars.workingDir = workingDir;
  ctx.vars.outputDir = outputDir;

  const interpreter = props.interpreter === undefined ? ["/bin/sh", "-c"] : toStringList(ctx.render(props.interpreter), "interpreter");
  if (interpreter.length === 0) throw new LannerError("TASK_INVALID_PROPERTY", "interpreter: at least one element");
  const isShell = SHELLS.has(basename(interpreter[0]));
  const failFast = props.failFast === undefined ? defaultFailFast : toBool(ctx.render(props.failFast), "failFast");
  const warningOnStdErr = props.warningOnStdErr === undefined ? true : toBool(ctx.render(props.warningOnStdErr), "warningOnStdErr");
  const killGraceMs = props.killGracePeriod === undefined ? DEFAULT_KILL_GRACE_MS : parseIsoDuration(ctx.render(props.killGracePeriod), "killGracePeriod");
  const env = props.env === undefined ? {} : toStringMap(ctx.render(props.env), "env");

  if (props.inputFiles !== undefined) {
    const files = toStringMap(ctx.render(props.inputFiles), "inputFiles");
    for (const [name, content] of Object.entries(files)) {
      const target = workPath(workingDir, name, "inputFiles");
      await mkdir(dirname(target), { recursive: true });
      // A value that is an internal storage URI stands for that file's content, as in Kestra.
      const data = isStorageUri(content.trim()) ? await readFileBytes(ctx.storage, content.trim()) : content;
      await writeFile(target, data);
    }
  }

  const before = props.beforeCommands === undefined ? [] : toStringList(ctx.render(props.beforeCommands), "beforeCommands");
  // `set -e` only means something to a shell; other interpreters get the lines as they are.
  const lines = [...(failFast && isShell ? ["set -e"] : []), ...before, ...commands()];
  const argv = [...interpreter, lines.join("\n")];

  const vars: Record<string, unknown> = {};
  let sawStderr = false;
  const outcome = await runProcess({
    argv,
    cwd: workingDir,
    env: { ...(process.env as Record<string, string>), ...env, WORKING_DIR: workingDir, OUTPUT_DIR: outputDir },
    signal: ctx.signal,
    killGraceMs,
    onLine(stream, line) {
      const marker = parseMarker(line);
      if (marker) {
        if (marker.outputs) Object.assign(vars, marker.outputs);
        for (const l of marker.logs ?? []) ctx.log(l.level, l.message);
        return;
      }
      if (stream === "stderr") {
        sawStderr = true;
        ctx.log("ERROR", line);
      } else {
        ctx.log("INFO", line);
      }
    },
  });

  if (outcome.aborted) throw abortError(ctx.signal, { exitCode: outcome.exitCode, signal: outcome.exitSignal });
  if (outcome.exitCode !== 0) {
    const message =
      outcome.exitCode === null ? `Command failed: killed by signal ${outcome.exitSignal ?? "unknown"}` : `Command failed with exit code ${outcome.exitCode}`;
    throw new LannerError("TASK_COMMAND_FAILED", message, { details: { exitCode: outcome.exitCode, vars } });
  }

  // Output files: the declared globs, plus everything written to outputDir.
  const outputFiles: Record<string, string> = {};
  const all: string[] = [];
  await walkFiles(workingDir, workingDir, all, { left: 100_000 });
  const globs = props.outputFiles === undefined ? [] : toStringList(ctx.render(props.outputFiles), "outputFiles");
  const patterns = globs.map((g) => globToRegExp(g.replace(/^\.\//, "")));
  const prefix = `${OUTPUT_DIR}/`;
  for (const rel of all.sort()) {
    const inOutputDir = rel.startsWith(prefix);
    if (!inOutputDir && !patterns.some((p) => p.test(rel))) continue;
    const name = inOutputDir ? rel.slice(prefix.length) : rel;
    if (outputFiles[name] !== undefined) continue;
    outputFiles[name] = await ctx.storage.put(`tasks/${task.id}/${ctx.taskRunId}/${name}`, createReadStream(join(workingDir, rel)));
  }
  for (const g of globs) {
    if (!/[*?]/.test(g) && outputFiles[g.replace(/^\.\//, "")] === undefined) {
      ctx.log("WARN", `output file ${g} was not created by the commands`);
    }
  }

  return {
    outputs: { vars, exitCode: 0, outputFiles },
    state: warningOnStdErr && sawStderr ? "WARNING" : "SUCCESS",
  };
}
