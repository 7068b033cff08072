import type { FastifyError, FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { LannerError } from "../common/errors.js";

/** One problem of a refused request body: where (path, and line:column for YAML) and what. */
export interface ApiIssue {
  path: string;
  line?: number;
  column?: number;
  message: string;
  code?: string;
  /** The input concerned (execution inputs). */
  input?: string;
}

/** A refusal with an HTTP status and, for bad entities, the list of problems (422 `{message, errors}`). */
export class ApiError extends LannerError {
  readonly status: number;
  readonly errors?: ApiIssue[];

  constructor(status: number, code: string, message: string, errors?: ApiIssue[]) {
    super(code, message, { retriable: status === 503 });
    this.status = status;
    this.errors = errors;
  }
}

/** The HTTP status for a LannerError code raised below the API (storage, repository, log…). */
export function statusForCode(err: LannerError): number {
  const code = err.code;
  if (code.endsWith("_NOT_FOUND") || code === "UNKNOWN_TOPIC") return 404;
  // A search the repository refuses (malformed filter, cursor or page size) is a bad request, as when the API's own checks refuse it.
  if (code === "QUERY_INVALID") return 400;
  if (code.endsWith("_INVALID") || code.endsWith("_UNENCODABLE") || code.startsWith("STORAGE_PATH")) return 422;
  if (err.retriable || code.endsWith("_UNAVAILABLE") || code === "LOG_CLOSED") return 503;
  return 500;
}

/**
 * Installs the error and not-found handlers: every failure answers `{message, code}` (plus
 * `errors` for 422), never a stack trace; unexpected errors are logged with their stack and
 * answered as a plain 500.
 */
export function installErrorHandlers(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    if (err instanceof ApiError) {
      const body: Record<string, unknown> = { message: err.message, code: err.code };
      if (err.errors) body.errors = err.errors;
      else if (err.status === 400 || err.status === 422) body.errors = [{ path: "", message: err.message }];
      if (err.status === 401) reply.header("www-authenticate", 'Basic realm="lanner", charset="UTF-8"');
      return reply.status(err.status).send(body);
    }
    if (err instanceof LannerError) {
      const status = statusForCode(err);
      if (status >= 500) logger.error({ err, url: req.url, method: req.method }, "request failed");
      const body: Record<string, unknown> = { message: err.message, code: err.code };
      if (status === 400 || status === 422) body.errors = [{ path: status === 400 ? "query" : "", message: err.message }];
      return reply.status(status).send(body);
    }
    const statusCode = (err as FastifyError).statusCode;
    if (typeof statusCode === "number" && statusCode >= 400 && statusCode < 500) {
      // Fastify's own refusals (bad JSON, unsupported media type, body too large…).
      return reply.status(statusCode).send({ message: err.message, code: (err as FastifyError).code ?? "BAD_REQUEST", errors: [{ path: "body", message: err.message }] });
    }
    logger.error({ err, url: req.url, method: req.method }, "request failed");
    return reply.status(500).send({ message: "internal server error", code: "INTERNAL" });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ message: `no such endpoint: ${req.method} ${req.url.split("?")[0]}`, code: "NOT_FOUND" });
  });
}
