import { LannerError } from "../common/errors.js";
import type { ExecutionQuery, ExecutionUpsert } from "./repository.js";

/** The page number and size of a query, defaulted and checked (size 1..500). */
export function pageOf(q: Pick<ExecutionQuery, "page" | "size">): { page: number; size: number } {
  const page = q.page ?? 1;
  const size = q.size ?? 25;
  if (!Number.isInteger(page) || page < 1) throw new LannerError("QUERY_INVALID", `page must be an integer ≥ 1, got ${page}`);
  if (!Number.isInteger(size) || size < 1 || size > 500) throw new LannerError("QUERY_INVALID", `size must be an integer from 1 to 500, got ${size}`);
  return { page, size };
}

/** One row per execution id: the one with the highest version (a batch may carry several). */
export function dedupeUpserts(rows: ExecutionUpsert[]): ExecutionUpsert[] {
  const byId = new Map<string, ExecutionUpsert>();
  for (const r of rows) {
    const prev = byId.get(r.execution.id);
    if (!prev || prev.version < r.version) byId.set(r.execution.id, r);
  }
  return [...byId.values()];
}
