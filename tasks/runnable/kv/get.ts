import type { TaskDefinition } from "../../types.js";
import { parseProps } from "../props.js";
import { keyProperties, kvFlag, kvKey, kvNamespace, missingKey } from "./kv-common.js";

const properties = keyProperties;

/**
 * Reads a key of the namespace's KV store (default the flow's namespace) into output `value`, with
 * the type it was stored with. A missing or expired key gives no `value`, or fails with
 * `errorOnMissing: true`.
 */
export const kvGetTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.kv.Get"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    const ns = kvNamespace(ctx, props.namespace);
    const key = kvKey(ctx, props.key);
    const entry = await ctx.kv.get(ns, key);
    if (entry === undefined) {
      if (kvFlag(ctx, props.errorOnMissing, "errorOnMissing", false)) {
        throw missingKey(key, ns);
      }
      return { outputs: {} };
    }
    return { outputs: { value: entry.value } };
  },
};
