import type { TaskDefinition } from "../../types.js";

/** The key-value store tasks (`io.kestra.plugin.core.kv.*`). */
export const kvDefinitions: TaskDefinition[] = [];
