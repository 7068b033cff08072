import type { TaskDefinition } from "../../types.js";
import { toText } from "../coerce.js";
import { dynString, parseProps, runnableProps } from "../props.js";
import { kvNamespace } from "./kv-common.js";

const properties = runnableProps({
  prefix: dynString.optional(),
  namespace: dynString.optional(),
});

/** Lists the live keys of the namespace's KV store (default the flow's namespace), optionally those starting with `prefix`, as output `keys`. */
export const kvGetKeysTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.kv.GetKeys"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    const ns = kvNamespace(ctx, props.namespace);
    const prefix = props.prefix === undefined ? "" : toText(ctx.render(props.prefix));
    const entries = await ctx.kv.list(ns, prefix);
    return { outputs: { keys: entries.map((e) => e.key) } };
  },
};
