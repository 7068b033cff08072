import { z } from "zod";
import type { TaskDefinition } from "../types.js";
import { runnableProps, parseProps } from "./props.js";
import { shellCommonShape } from "./shell-schema.js";
import { runShell } from "./shell-exec.js";
import { toText } from "./coerce.js";

const properties = runnableProps({
  ...shellCommonShape,
  script: z.string().min(1, "script: must not be empty"),
});

/**
 * Runs an inline shell script in a local process in the attempt's working directory; outputs
 * `{vars, exitCode, outputFiles}`. The exit status of the script decides success.
 */
export const shellScriptTask: TaskDefinition = {
  types: ["io.kestra.plugin.scripts.shell.Script", "Script"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    return runShell(task, ctx, props, () => [toText(ctx.render(props.script))], false);
  },
};
