import { z } from "zod";
import type { TaskDefinition } from "../types.js";
import { runnableProps } from "./props.js";
import { shellCommonShape } from "./shell-schema.js";

const properties = runnableProps({
  ...shellCommonShape,
  script: z.string(),
});

/** Runs an inline shell script in a local process; outputs `{vars, exitCode, outputFiles}`. */
export const shellScriptTask: TaskDefinition = {
  types: ["io.kestra.plugin.scripts.shell.Script", "Script"],
  kind: "runnable",
  properties,
};
