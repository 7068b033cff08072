/**
 * Request validation with zod: path parameters, query strings and JSON bodies are parsed through
 * the schemas in `api-schemas.ts` (the same schemas feed the OpenAPI document); a refusal is
 * `{message, code, errors: [{path, message}]}` naming each bad field: 400 for a malformed path or
 * query string (the request itself is wrong: PATH_INVALID, QUERY_INVALID), 422 for a body that
 * parses but is not acceptable (BODY_INVALID).
 */
import type { z } from "zod";
import { ApiError, type ApiIssue } from "./http-errors.js";

/** Parses `value` with `schema`, or throws a 400 (path, query) or 422 (body) listing every problem under `where`. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, where: "query" | "body" | "path"): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const errors: ApiIssue[] = r.error.issues.map((i) => {
    const path = [where, ...i.path.map(String)].join(".");
    return { path, message: `${path}: ${i.message}`, code: "INVALID_VALUE" };
  });
  const code = where === "query" ? "QUERY_INVALID" : where === "path" ? "PATH_INVALID" : "BODY_INVALID";
  throw new ApiError(where === "body" ? 422 : 400, code, errors.map((e) => e.message).join("; "), errors);
}
