import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { TaskDefinition } from "../types.js";
import { LannerError } from "../../common/errors.js";
import { runnableProps, parseProps } from "./props.js";
import { toText } from "./coerce.js";

const properties = runnableProps({
  content: z.unknown(),
  extension: z.string().optional(),
});

/** Writes rendered `content` to a new file in internal storage; outputs `{uri, size}`. */
export const storageWriteTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.storage.Write", "Write"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    const extension = toText(ctx.render(props.extension ?? ".ion"));
    if (!/^(\.[A-Za-z0-9_-]{1,20})?$/.test(extension)) {
      throw new LannerError("TASK_INVALID_PROPERTY", `extension: expected something like ".txt", got ${JSON.stringify(extension)}`);
    }
    const bytes = Buffer.from(toText(ctx.render(props.content)), "utf8");
    const uri = await ctx.storage.put(`tasks/${task.id}/${ctx.taskRunId}/${randomUUID()}${extension}`, bytes);
    return { outputs: { uri, size: bytes.byteLength } };
  },
};
