import type { TaskDefinition } from "../types.js";
import { allowFailureTask } from "./allow-failure.js";
import { dagTask } from "./dag.js";
import { forEachItemTask } from "./for-each-item.js";
import { forEachTask } from "./for-each.js";
import { ifTask } from "./if.js";
import { parallelTask } from "./parallel.js";
import { pauseTask } from "./pause.js";
import { sequentialTask } from "./sequential.js";
import { subflowTask } from "./subflow.js";
import { switchTask } from "./switch.js";
import { waitForTask } from "./wait-for.js";
import { workingDirectoryTask } from "./working-directory.js";

export {
  allowFailureTask, dagTask, forEachItemTask, forEachTask, ifTask, parallelTask, pauseTask, sequentialTask, subflowTask,
  switchTask, waitForTask, workingDirectoryTask,
};

/** Every flowable task type (run by the executor). */
export const flowableDefinitions: TaskDefinition[] = [
  sequentialTask, parallelTask, ifTask, switchTask, forEachTask, dagTask, allowFailureTask, waitForTask, pauseTask,
  subflowTask, forEachItemTask, workingDirectoryTask,
];
