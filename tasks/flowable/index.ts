import type { TaskDefinition } from "../types.js";

/** Every flowable task type (run by the executor). */
export const flowableDefinitions: TaskDefinition[] = [];
