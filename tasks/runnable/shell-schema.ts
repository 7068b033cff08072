import { z } from "zod";
import { dynBool, dynString, dynStringList, dynStringMap } from "./props.js";

/** The only task runner Lanner has: a local process in the attempt's working directory. */
const PROCESS_RUNNERS = ["io.kestra.plugin.core.runner.Process", "io.kestra.plugin.scripts.runner.process.Process", "Process"];

/**
 * Properties shared by the shell Commands and Script tasks. `containerImage` is accepted and
 * ignored because the process runner does not use it (as in Kestra with a Process runner); a
 * Docker or Kubernetes runner is refused at validation time rather than silently run locally.
 */
export const shellCommonShape = {
  env: dynStringMap.optional(),
  inputFiles: dynStringMap.optional(),
  outputFiles: dynStringList.optional(),
  interpreter: dynStringList.optional(),
  beforeCommands: dynStringList.optional(),
  warningOnStdErr: dynBool.optional(),
  containerImage: dynString.optional(),
  runner: z.literal("PROCESS", { error: "runner: only PROCESS is supported" }).optional(),
  taskRunner: z
    .strictObject({
      type: z.string().refine((t) => PROCESS_RUNNERS.includes(t), {
        error: `taskRunner.type: only the process runner (${PROCESS_RUNNERS[0]}) is supported`,
      }),
    })
    .optional(),
  /** Milliseconds between SIGTERM and SIGKILL when the attempt is aborted (Lanner extension). */
  killGracePeriod: dynString.optional(),
};
