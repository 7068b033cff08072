import { z } from "zod";
import type { TaskDefinition } from "../types.js";
import { runnableProps, parseProps, dynBool } from "./props.js";
import { shellCommonShape } from "./shell-schema.js";
import { runShell } from "./shell-exec.js";
import { toStringList } from "./coerce.js";

const properties = runnableProps({
  ...shellCommonShape,
  commands: z.union([z.array(z.string()).min(1, "commands: at least one command"), z.string()]),
  /** Stop at the first failing command (`set -e` for shell interpreters); default true. */
  failFast: dynBool.optional(),
});

/**
 * Runs shell commands in a local process in the attempt's working directory; outputs
 * `{vars, exitCode, outputFiles}`. A non-zero exit fails the task.
 */
export const shellCommandsTask: TaskDefinition = {
  types: ["io.kestra.plugin.scripts.shell.Commands", "Commands"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    return runShell(
      task,
      ctx,
      props,
      () =>
        typeof props.commands === "string"
          ? toStringList(ctx.render(props.commands), "commands")
          : props.commands.map((c) => String(ctx.render(c))),
      true,
    );
  },
};
