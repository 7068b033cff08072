import { LannerError } from "../../../common/errors.js";
import type { KvNamespace } from "../../../storage/kv-store.js";
import type { RunContext } from "../../types.js";
import { toBool, toText } from "../coerce.js";
import { dynBool, dynString, runnableProps } from "../props.js";

/** The properties of the tasks that address one key: `key`, `namespace`, `errorOnMissing`. */
export const keyProperties = runnableProps({
  key: dynString,
  namespace: dynString.optional(),
  errorOnMissing: dynBool.optional(),
});

/** The failure of a task told `errorOnMissing: true` when the key has no value. */
export function missingKey(key: string, ns: KvNamespace): LannerError {
  return new LannerError("KV_KEY_NOT_FOUND", `No value found for key '${key}' in namespace '${ns.namespace}' and \`errorOnMissing\` is set to true`);
}

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
