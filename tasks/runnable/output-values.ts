import { z } from "zod";
import type { TaskDefinition } from "../types.js";
import { runnableProps, parseProps } from "./props.js";

const properties = runnableProps({
  values: z.record(z.string(), z.unknown()),
});

/** Renders `values` deeply and returns them as output `values`. */
export const outputValuesTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.output.OutputValues", "io.kestra.core.tasks.outputs.OutputValues", "OutputValues"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    return { outputs: { values: ctx.render<Record<string, unknown>>(props.values) } };
  },
};
