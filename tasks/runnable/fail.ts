import { z } from "zod";
import type { TaskDefinition } from "../types.js";
import { LannerError } from "../../common/errors.js";
import { runnableProps, parseProps } from "./props.js";
import { toText } from "./coerce.js";
// The same truthiness as If and runIf, so a condition means the same thing everywhere.
import { isTruthy } from "../../expressions/index.js";

const properties = runnableProps({
  condition: z.union([z.string(), z.boolean()]).optional(),
  errorMessage: z.string().optional(),
});

/** Fails the task with `errorMessage` when `condition` renders truthy, or always without one. */
export const failTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.execution.Fail", "io.kestra.core.tasks.executions.Fail", "Fail"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    if (props.condition !== undefined && !isTruthy(ctx.render(props.condition))) return {};
    const message = toText(ctx.render(props.errorMessage ?? "Task failure"));
    throw new LannerError("TASK_FAIL", message);
  },
};
