import type { TaskDefinition } from "../types.js";
import { logTask } from "./log.js";
import { returnTask } from "./return.js";
import { echoTask } from "./echo.js";
import { outputValuesTask } from "./output-values.js";
import { failTask } from "./fail.js";
import { labelsTask } from "./labels.js";
import { sleepTask } from "./sleep.js";
import { httpRequestTask } from "./http-request.js";
import { httpDownloadTask } from "./http-download.js";
import { shellCommandsTask } from "./shell-commands.js";
import { shellScriptTask } from "./shell-script.js";
import { storageWriteTask } from "./storage-write.js";
import { kvDefinitions } from "./kv/index.js";
import { storageDefinitions } from "./storage/index.js";

export { runnableProps, parseProps, COMMON_TASK_FIELDS } from "./props.js";
export { DEFAULT_KILL_GRACE_MS } from "./shell-exec.js";
export { runProcess, type ProcessSpec, type ProcessOutcome } from "./process-runner.js";

/** Every runnable task type (run by a worker). */
export const runnableDefinitions: TaskDefinition[] = [
  logTask,
  returnTask,
  echoTask,
  outputValuesTask,
  failTask,
  labelsTask,
  sleepTask,
  httpRequestTask,
  httpDownloadTask,
  shellCommandsTask,
  shellScriptTask,
  storageWriteTask,
  ...kvDefinitions,
  ...storageDefinitions,
];
