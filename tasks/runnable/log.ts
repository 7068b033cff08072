import { z } from "zod";
import type { TaskDefinition } from "../types.js";
import { runnableProps, parseProps, level } from "./props.js";
import { toLevel } from "./coerce.js";

const properties = runnableProps({
  message: z.union([z.string(), z.array(z.string())]),
  level: level.optional(),
});

/** Writes one or more messages to the execution's logs. */
export const logTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.log.Log", "io.kestra.core.tasks.log.Log", "Log"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    const lvl = toLevel(ctx.render(props.level ?? "INFO"), "level");
    const messages = Array.isArray(props.message) ? props.message : [props.message];
    for (const m of messages) ctx.log(lvl, String(ctx.render(m)));
    return {};
  },
};
