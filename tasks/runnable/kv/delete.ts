import type { TaskDefinition } from "../../types.js";
import { parseProps } from "../props.js";
import { keyProperties, kvFlag, kvKey, kvNamespace, missingKey } from "./kv-common.js";

const properties = keyProperties;

/**
 * Deletes a key of the namespace's KV store (default the flow's namespace); output `deleted` says
 * whether a value was there. A missing key fails the task only with `errorOnMissing: true`.
 */
export const kvDeleteTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.kv.Delete"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    const ns = kvNamespace(ctx, props.namespace);
    const key = kvKey(ctx, props.key);
    const deleted = await ctx.kv.delete(ns, key);
    if (!deleted && kvFlag(ctx, props.errorOnMissing, "errorOnMissing", false)) {
      throw missingKey(key, ns);
    }
    return { outputs: { deleted } };
  },
};
