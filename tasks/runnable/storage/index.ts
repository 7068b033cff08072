import type { TaskDefinition } from "../../types.js";
import { executionResumeTask } from "./execution-resume.js";
import { storageConcatTask } from "./storage-concat.js";
import { storageDeleteTask } from "./storage-delete.js";
import { purgeCurrentExecutionFilesTask } from "./storage-purge-execution.js";
import { storageReverseTask } from "./storage-reverse.js";
import { storageSizeTask } from "./storage-size.js";
import { storageSplitTask } from "./storage-split.js";

/** The internal-storage file tasks (`io.kestra.plugin.core.storage.*` besides Write) and execution control tasks run by workers. */
export const storageDefinitions: TaskDefinition[] = [
  storageDeleteTask,
  storageSizeTask,
  storageConcatTask,
  storageSplitTask,
  storageReverseTask,
  purgeCurrentExecutionFilesTask,
  executionResumeTask,
];
