import type { TaskDefinition } from "../types.js";

/** Every runnable task type (run by a worker). */
export const runnableDefinitions: TaskDefinition[] = [];
