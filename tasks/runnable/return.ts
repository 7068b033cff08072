import { z } from "zod";
import type { TaskDefinition } from "../types.js";
import { runnableProps, parseProps } from "./props.js";
import { toText } from "./coerce.js";

const properties = runnableProps({
  format: z.unknown().optional(),
});

/** Renders `format` and returns it as output `value`. */
export const returnTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.debug.Return", "io.kestra.core.tasks.debugs.Return", "Return"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    const value = props.format === undefined ? undefined : toText(ctx.render(props.format));
    return { outputs: { value } };
  },
};
