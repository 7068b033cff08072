import { LannerError } from "../common/errors.js";

/** The scheme of internal storage URIs: `lanner:///tenant/namespace/…`. */
export const STORAGE_SCHEME = "lanner://";

function invalid(input: string, why: string): LannerError {
  return new LannerError("STORAGE_PATH_INVALID", `invalid storage path ${JSON.stringify(input)}: ${why}`);
}

/**
 * Validates a storage path or `lanner:///` URI and returns its segments. Refuses anything that
 * could leave the storage root or be read two ways: absolute paths, `.`/`..` segments, empty
 * segments, backslashes, NUL bytes, URIs with a host or a query. Percent-escapes in URIs are
 * decoded first, so `%2e%2e` is caught like `..`.
 */
export function storageSegments(uriOrPath: string, opts: { allowEmpty?: boolean } = {}): string[] {
  if (typeof uriOrPath !== "string") throw invalid(String(uriOrPath), "not a string");
  let path = uriOrPath;
  if (path.startsWith(STORAGE_SCHEME)) {
    const rest = path.slice(STORAGE_SCHEME.length);
    if (!rest.startsWith("/")) throw invalid(uriOrPath, "a storage URI has no host: use lanner:///path");
    if (rest.includes("?") || rest.includes("#")) throw invalid(uriOrPath, "a storage URI has no query or fragment");
    try {
      path = decodeURIComponent(rest.slice(1));
    } catch {
      throw invalid(uriOrPath, "malformed percent-escape");
    }
  } else if (/^[a-z][a-z0-9+.-]*:/i.test(path)) {
    throw invalid(uriOrPath, `only ${STORAGE_SCHEME}/ URIs are internal storage`);
  } else if (path.startsWith("/")) {
    throw invalid(uriOrPath, "absolute paths are not allowed");
  }
  if (path.includes("\0")) throw invalid(uriOrPath, "NUL byte");
  if (path.includes("\\")) throw invalid(uriOrPath, "backslash");
  const trimmed = path.endsWith("/") ? path.slice(0, -1) : path;
  if (trimmed === "") {
    if (opts.allowEmpty) return [];
    throw invalid(uriOrPath, "empty path");
  }
  const segments = trimmed.split("/");
  for (const s of segments) {
    if (s === "") throw invalid(uriOrPath, "empty segment");
    if (s === "." || s === "..") throw invalid(uriOrPath, `"${s}" segment`);
  }
  return segments;
}

/** The canonical URI of a validated path (segments percent-encoded). */
export function storageUri(segments: readonly string[]): string {
  return `${STORAGE_SCHEME}/${segments.map((s) => encodeURIComponent(s)).join("/")}`;
}

/** The canonical URI for a path or URI, after validation. */
export function toStorageUri(uriOrPath: string): string {
  return storageUri(storageSegments(uriOrPath));
}

/** True when `uri` uses the internal storage scheme (it may still be invalid). */
export function isStorageUri(value: unknown): value is string {
  return typeof value === "string" && value.startsWith(`${STORAGE_SCHEME}/`);
}

/** Checks that an id is exactly one path segment, so ids cannot reshape the layout. */
function segment(what: string, value: string): string {
  const segs = storageSegments(value);
  if (segs.length !== 1 || value.endsWith("/")) throw invalid(value, `${what} must be one path segment`);
  return value;
}

/** Where one flow's files live: `<tenant>/<namespace with / for .>/<flowId>`. */
export function flowPrefix(p: { tenantId: string; namespace: string; flowId: string }): string {
  const ns = p.namespace.split(".").map((part) => segment("namespace part", part));
  return [segment("tenantId", p.tenantId), ...ns, segment("flowId", p.flowId)].join("/");
}

/** Where one execution's files live: `<tenant>/<namespace path>/<flowId>/executions/<executionId>`. */
export function executionPrefix(p: { tenantId: string; namespace: string; flowId: string; executionId: string }): string {
  return `${flowPrefix(p)}/executions/${segment("executionId", p.executionId)}`;
}

/** Where one task run's files live, under its execution: `…/tasks/<taskId>/<taskRunId>`. */
export function taskRunPrefix(p: {
  tenantId: string;
  namespace: string;
  flowId: string;
  executionId: string;
  taskId: string;
  taskRunId: string;
}): string {
  return `${executionPrefix(p)}/tasks/${segment("taskId", p.taskId)}/${segment("taskRunId", p.taskRunId)}`;
}
