import type { TaskDefinition } from "../../types.js";

/** The internal-storage file tasks (`io.kestra.plugin.core.storage.*` besides Write) and execution control tasks run by workers. */
export const storageDefinitions: TaskDefinition[] = [];
