import { z } from "zod";
import type { TaskDefinition } from "../../types.js";
import { parseProps, runnableProps } from "../props.js";
import { chunksOf, renderStorageUri } from "./storage-files.js";

const properties = runnableProps({
  uri: z.string(),
});

/** Outputs the `size` in bytes of a file in internal storage (read as a stream, never held whole). */
export const storageSizeTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.storage.Size", "io.kestra.core.tasks.storages.Size"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    const uri = renderStorageUri(ctx, props.uri, "uri");
    let size = 0;
    for await (const chunk of chunksOf(await ctx.storage.get(uri), ctx.signal)) size += chunk.byteLength;
    return { outputs: { size } };
  },
};
