import { z } from "zod";
import { LannerError } from "../../../common/errors.js";
import { KV_TYPES, toKvValue, type KvType } from "../../../storage/kv-store.js";
import type { TaskDefinition } from "../../types.js";
import { toText } from "../coerce.js";
import { dynBool, dynString, parseProps, runnableProps } from "../props.js";
import { kvFlag, kvKey, kvNamespace } from "./kv-common.js";

const properties = runnableProps({
  key: dynString,
  value: z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.unknown()), z.record(z.string(), z.unknown())]),
  namespace: dynString.optional(),
  overwrite: dynBool.optional(),
  ttl: dynString.optional(),
  kvType: dynString.optional(),
  kvDescription: dynString.optional(),
});

function kvTypeOf(value: unknown): KvType {
  const t = toText(value).trim().toUpperCase();
  if ((KV_TYPES as readonly string[]).includes(t)) return t as KvType;
  throw new LannerError("TASK_INVALID_PROPERTY", `kvType: expected one of ${KV_TYPES.join(", ")}, got ${JSON.stringify(toText(value))}`);
}

/**
 * Stores a value in the namespace's KV store (default the flow's namespace). A value that is one
 * expression keeps the expression's type; with `kvType`, a string value is converted to that type.
 * `overwrite: false` fails when the key holds a live value; `ttl` makes the value expire.
 */
export const kvSetTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.kv.Set"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    const ns = kvNamespace(ctx, props.namespace);
    const key = kvKey(ctx, props.key);
    const type = props.kvType === undefined ? undefined : kvTypeOf(ctx.render(props.kvType));
    const value = toKvValue(ctx.renderTyped(props.value), type);
    const ttl = props.ttl === undefined ? undefined : toText(ctx.render(props.ttl)).trim();
    const description = props.kvDescription === undefined ? undefined : toText(ctx.render(props.kvDescription));
    await ctx.kv.put(ns, key, value, {
      overwrite: kvFlag(ctx, props.overwrite, "overwrite", true),
      ...(ttl !== undefined && ttl !== "" ? { ttl } : {}),
      ...(description !== undefined ? { description } : {}),
    });
    return {};
  },
};
