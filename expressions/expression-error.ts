import { LannerError } from "../common/errors.js";

/**
 * A template could not be parsed or evaluated. The message ends with the template position
 * (`… at line 1, column 4`) so a user can find the faulty expression; `reason` is the same text
 * without the position, `line`/`column` are 1-based.
 */
export class ExpressionError extends LannerError {
  readonly line: number;
  readonly column: number;
  readonly reason: string;

  constructor(reason: string, line: number, column: number, opts: { cause?: unknown; details?: unknown } = {}) {
    super("EXPRESSION_ERROR", `${reason} at line ${line}, column ${column}`, { retriable: false, ...opts });
    this.name = "ExpressionError";
    this.reason = reason;
    this.line = line;
    this.column = column;
  }
}

/**
 * Raised for a variable or attribute that does not exist. Kept as a subclass so `??`, `???`,
 * `is defined` and `default` can tell "undefined" apart from every other failure.
 */
export class UndefinedValueError extends ExpressionError {
  readonly path: string;

  constructor(path: string, line: number, column: number) {
    super(`${path} is undefined`, line, column);
    this.name = "UndefinedValueError";
    this.path = path;
  }
}

/**
 * Thrown by filter and function bodies, which do not know where they were called from; the
 * interpreter turns it into an ExpressionError at the call's position.
 */
export class EvalFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EvalFailure";
  }
}

/** 1-based line and column of `offset` in `source`. */
export function lineColumn(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, source.length);
  for (let i = 0; i < end; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** Builds an ExpressionError for a position (offset) in a template. */
export function errorAt(source: string, offset: number, reason: string, cause?: unknown): ExpressionError {
  const { line, column } = lineColumn(source, offset);
  return new ExpressionError(reason, line, column, cause === undefined ? {} : { cause });
}
