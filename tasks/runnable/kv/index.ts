import type { TaskDefinition } from "../../types.js";
import { kvDeleteTask } from "./delete.js";
import { kvGetKeysTask } from "./get-keys.js";
import { kvGetTask } from "./get.js";
import { kvSetTask } from "./set.js";

export { kvDeleteTask, kvGetKeysTask, kvGetTask, kvSetTask };

/** The key-value store tasks (`io.kestra.plugin.core.kv.*`). */
export const kvDefinitions: TaskDefinition[] = [kvSetTask, kvGetTask, kvDeleteTask, kvGetKeysTask];
