import type { KvNamespace } from "../../../storage/kv-store.js";
import type { RunContext } from "../../types.js";
import { toBool, toText } from "../coerce.js";

/** The rendered `namespace` property (default the flow's) within the execution's tenant. */
export function kvNamespace(ctx: RunContext, namespace: unknown): KvNamespace {
  const rendered = namespace === undefined ? "" : toText(ctx.render(namespace)).trim();
  return { tenantId: ctx.tenantId, namespace: rendered === "" ? ctx.namespace : rendered };
}

/** The rendered `key` property (checked by the store). */
export function kvKey(ctx: RunContext, key: unknown): string {
  return toText(ctx.render(key)).trim();
}

/** A rendered boolean property with its default. */
export function kvFlag(ctx: RunContext, value: unknown, property: string, fallback: boolean): boolean {
  return value === undefined ? fallback : toBool(ctx.render(value), property);
}
