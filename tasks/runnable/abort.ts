import { LannerError } from "../../common/errors.js";

/**
 * The error a task fails with when its signal aborts: `TASK_ABORTED`, with the reason the worker
 * gave (a timeout, a kill) as message, or "Task was killed" for a bare abort.
 */
export function abortError(signal: AbortSignal, details?: unknown, cause?: unknown): LannerError {
  const reason: unknown = signal.reason;
  const generic = reason === undefined || (reason instanceof Error && reason.name === "AbortError");
  const why = generic ? "Task was killed" : reason instanceof Error ? reason.message : String(reason);
  return new LannerError("TASK_ABORTED", why, { details, cause });
}
