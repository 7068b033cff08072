/**
 * The process logger: one pino instance writing JSON lines to stderr (stdout is kept for the
 * few lines a person or a test waits for, such as "lanner standalone ready on …"). The level
 * comes from LANNER_LOG_LEVEL (trace, debug, info, warn, error, fatal, silent), default info.
 */
import { pino, type Logger } from "pino";

export type { Logger } from "pino";

const LEVELS = new Set(["trace", "debug", "info", "warn", "error", "fatal", "silent"]);

export interface LoggerOptions {
  /** Overrides LANNER_LOG_LEVEL. */
  level?: string;
  /** Static fields on every line (e.g. `{role: "executor"}`). */
  base?: Record<string, unknown>;
  /** Where lines go; default stderr (file descriptor 2). */
  destination?: NodeJS.WritableStream;
}

/** The log level to use: `explicit`, else LANNER_LOG_LEVEL, else `info`; an unknown name falls back to `info`. */
export function logLevel(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const wanted = (explicit ?? env.LANNER_LOG_LEVEL ?? "info").toLowerCase();
  return LEVELS.has(wanted) ? wanted : "info";
}

/** Creates the process logger (JSON to stderr). Child loggers (`logger.child({role})`) share it. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const destination = opts.destination ?? pino.destination({ fd: 2, sync: false });
  return pino(
    { level: logLevel(opts.level), base: { pid: process.pid, ...opts.base }, timestamp: pino.stdTimeFunctions.isoTime },
    destination,
  );
}

/** A logger that drops everything (tests, embedding). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
