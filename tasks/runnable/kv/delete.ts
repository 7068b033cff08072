import { LannerError } from "../../../common/errors.js";
import type { TaskDefinition } from "../../types.js";
import { dynBool, dynString, parseProps, runnableProps } from "../props.js";
import { kvFlag, kvKey, kvNamespace } from "./kv-common.js";

const properties = runnableProps({
  key: dynString,
  namespace: dynString.optional(),
  errorOnMissing: dynBool.optional(),
});

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
      throw new LannerError("KV_KEY_NOT_FOUND", `No value found for key '${key}' in namespace '${ns.namespace}' and \`errorOnMissing\` is set to true`);
    }
    return { outputs: { deleted } };
  },
};
