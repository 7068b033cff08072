import { spawn } from "node:child_process";
import { StringDecoder } from "node:string_decoder";
import type { Level } from "../../schemas/flow-types.js";
import { LannerError } from "../../common/errors.js";

/** What to run and how. */
export interface ProcessSpec {
  /** argv: the program then its arguments (no shell involved unless argv[0] is one). */
  argv: string[];
  cwd: string;
  /** The full environment of the child. */
  env: Record<string, string>;
  /** Aborting sends SIGTERM to the process group, then SIGKILL after `killGraceMs`. */
  signal: AbortSignal;
  killGraceMs: number;
  /** One call per output line, stdout or stderr, in arrival order per stream. */
  onLine(stream: "stdout" | "stderr", line: string): void;
}

export interface ProcessOutcome {
  /** The exit code, or null when a signal ended the process. */
  exitCode: number | null;
  /** The signal that ended it, if any. */
  exitSignal: NodeJS.Signals | null;
  /** True when `signal` aborted the run (the process was terminated on purpose). */
  aborted: boolean;
}

/** Lines longer than this are cut, so a process that never prints a newline cannot exhaust memory. */
const MAX_LINE = 1024 * 1024;

function lineSplitter(emit: (line: string) => void) {
  const decoder = new StringDecoder("utf8");
  let buf = "";
  return {
    push(chunk: Buffer) {
      buf += decoder.write(chunk);
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        emit(buf.slice(0, i).replace(/\r$/, ""));
        buf = buf.slice(i + 1);
      }
      while (buf.length > MAX_LINE) {
        emit(buf.slice(0, MAX_LINE));
        buf = buf.slice(MAX_LINE);
      }
    },
    end() {
      buf += decoder.end();
      if (buf.length > 0) emit(buf.replace(/\r$/, ""));
      buf = "";
    },
  };
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    // The child leads its own process group (detached), so -pid reaches everything it started.
    process.kill(-pid, sig);
  } catch (err) {
    const code = typeof err === "object" && err !== null && "code" in err ? err.code : undefined;
    if (code !== "ESRCH") throw err;
  }
}

/**
 * Runs one process in its own process group and streams its output by lines. On abort: SIGTERM
 * to the group, SIGKILL after the grace period. When the main process exits, whatever it left
 * running in its group is killed too, so no orphan outlives the attempt and the pipes close.
 */
export function runProcess(spec: ProcessSpec): Promise<ProcessOutcome> {
  return new Promise((resolve, reject) => {
    if (spec.signal.aborted) {
      resolve({ exitCode: null, exitSignal: null, aborted: true });
      return;
    }
    const child = spawn(spec.argv[0], spec.argv.slice(1), {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let spawnError: Error | undefined;

    const out = lineSplitter((l) => spec.onLine("stdout", l));
    const err = lineSplitter((l) => spec.onLine("stderr", l));
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));

    const onAbort = () => {
      if (child.pid === undefined || exit !== undefined) return;
      aborted = true;
      killGroup(child.pid, "SIGTERM");
      killTimer = setTimeout(() => {
        if (child.pid !== undefined) killGroup(child.pid, "SIGKILL");
      }, spec.killGraceMs);
    };
    spec.signal.addEventListener("abort", onAbort, { once: true });

    child.on("error", (e) => {
      spawnError = e;
    });
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      if (child.pid !== undefined) killGroup(child.pid, "SIGKILL");
    });
    child.on("close", (code, signal) => {
      spec.signal.removeEventListener("abort", onAbort);
      if (killTimer) clearTimeout(killTimer);
      out.end();
      err.end();
      if (spawnError && exit === undefined) {
        reject(new LannerError("PROCESS_START_FAILED", `could not start ${spec.argv[0]}: ${spawnError.message}`, { cause: spawnError }));
        return;
      }
      const final = exit ?? { code, signal };
      resolve({ exitCode: final.code, exitSignal: final.signal, aborted });
    });
  });
}

/** Kestra's structured lines on a script's output: `::{"outputs":{…}}::`, `::{"logs":[…]}::`, `::{"metrics":[…]}::`. */
export interface ScriptMarker {
  outputs?: Record<string, unknown>;
  logs?: Array<{ level: Level; message: string }>;
  metrics?: unknown[];
}

/** Parses a `::{…}::` line, or undefined when the line is ordinary output. */
export function parseMarker(line: string): ScriptMarker | undefined {
  const t = line.trim();
  if (!t.startsWith("::{") || !t.endsWith("}::")) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(t.slice(2, -2));
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  const obj = parsed as Record<string, unknown>;
  const marker: ScriptMarker = {};
  if (typeof obj.outputs === "object" && obj.outputs !== null && !Array.isArray(obj.outputs)) {
    marker.outputs = obj.outputs as Record<string, unknown>;
  }
  if (Array.isArray(obj.logs)) {
    marker.logs = [];
    for (const l of obj.logs) {
      if (typeof l !== "object" || l === null) continue;
      const rec = l as Record<string, unknown>;
      const lvl = typeof rec.level === "string" ? rec.level.toUpperCase() : "INFO";
      const level: Level = (["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] as const).find((x) => x === lvl) ?? (lvl === "WARNING" ? "WARN" : "INFO");
      marker.logs.push({ level, message: typeof rec.message === "string" ? rec.message : JSON.stringify(rec.message) });
    }
  }
  if (Array.isArray(obj.metrics)) marker.metrics = obj.metrics;
  if (marker.outputs === undefined && marker.logs === undefined && marker.metrics === undefined) return undefined;
  return marker;
}
