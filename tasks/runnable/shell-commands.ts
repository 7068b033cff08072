import { z } from "zod";
import type { TaskDefinition } from "../types.js";
import { runnableProps, dynStringList } from "./props.js";
import { shellCommonShape } from "./shell-schema.js";

const properties = runnableProps({
  ...shellCommonShape,
  commands: z.union([z.array(z.string()).min(1, "commands: at least one command"), z.string()]),
});

/** Runs shell commands in a local process; outputs `{vars, exitCode, outputFiles}`. */
export const shellCommandsTask: TaskDefinition = {
  types: ["io.kestra.plugin.scripts.shell.Commands", "Commands"],
  kind: "runnable",
  properties,
};
void dynStringList;
