/**
 * Every error Lanner raises on purpose is a `LannerError`: a stable machine-readable `code`,
 * a `retriable` flag (may the same call succeed later without a change of input?), and a
 * message written for the person reading it. Callers branch on `code`, never on the message.
 */
export class LannerError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  readonly details?: unknown;

  constructor(code: string, message: string, opts: { retriable?: boolean; details?: unknown; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "LannerError";
    this.code = code;
    this.retriable = opts.retriable ?? false;
    this.details = opts.details;
  }
}

/** True for errors that may succeed when retried unchanged (lost connection, fenced lease…). */
export function isRetriable(err: unknown): boolean {
  return err instanceof LannerError ? err.retriable : false;
}

/** The message to show a user for any thrown value: never a stack trace. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
