import type { TaskDefinition } from "../../types.js";
import { parseProps, runnableProps } from "../props.js";

const properties = runnableProps({});

/**
 * Deletes every file of the current execution in internal storage (inputs, task outputs, files
 * written so far); outputs the deleted `uris`. Files of other executions are never touched.
 */
export const purgeCurrentExecutionFilesTask: TaskDefinition = {
  types: [
    "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles",
    "io.kestra.plugin.core.storage.PurgeExecution",
    "io.kestra.core.tasks.storages.PurgeExecution",
  ],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    parseProps(properties, task);
    const uris: string[] = [];
    // An empty path is the execution's own root in its scoped storage.
    for (const uri of await ctx.storage.list("")) {
      ctx.signal.throwIfAborted();
      if (await ctx.storage.delete(uri)) uris.push(uri);
    }
    return { outputs: { uris } };
  },
};
