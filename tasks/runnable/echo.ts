import { z } from "zod";
import type { TaskDefinition } from "../types.js";
import { runnableProps, parseProps, level } from "./props.js";
import { toLevel, toText } from "./coerce.js";

const properties = runnableProps({
  format: z.unknown(),
  level: level.optional(),
});

/** Deprecated in Kestra in favour of Log, kept so older flows run: logs the rendered `format`. */
export const echoTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.debug.Echo", "io.kestra.core.tasks.debugs.Echo", "Echo"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    const lvl = toLevel(ctx.render(props.level ?? "INFO"), "level");
    ctx.log(lvl, toText(ctx.render(props.format)));
    return {};
  },
};
