/**
 * Request validation with zod: path parameters, query strings and JSON bodies are parsed through
 * the schemas in `api-schemas.ts` (the same schemas feed the OpenAPI document); a refusal is a 422
 * `{message, errors: [{path, message}]}` naming each bad field.
 */
import type { z } from "zod";
import { ApiError, type ApiIssue } from "./http-errors.js";

/** Parses `value` with `schema`, or throws a 422 listing every problem under `where` (`query`, `body`, `path`). */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, where: "query" | "body" | "path"): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const errors: ApiIssue[] = r.error.issues.map((i) => {
    const path = [where, ...i.path.map(String)].join(".");
    return { path, message: `${path}: ${i.message}`, code: "INVALID_VALUE" };
  });
  const code = where === "query" ? "QUERY_INVALID" : where === "path" ? "PATH_INVALID" : "BODY_INVALID";
  throw new ApiError(where === "path" ? 400 : 422, code, errors.map((e) => e.message).join("; "), errors);
}
