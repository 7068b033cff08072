import { z } from "zod";
import { LannerError } from "../../../common/errors.js";
import type { TaskDefinition } from "../../types.js";
import { toBool } from "../coerce.js";
import { dynBool, parseProps, runnableProps } from "../props.js";
import { renderStorageUri } from "./storage-files.js";

const properties = runnableProps({
  uri: z.string(),
  errorOnMissing: dynBool.optional(),
});

/**
 * Deletes one file of the execution's internal storage; outputs `{uri, deleted}`. A file of
 * another execution is refused (a task deletes only its own execution's files).
 */
export const storageDeleteTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.storage.Delete", "io.kestra.core.tasks.storages.Delete"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    const uri = renderStorageUri(ctx, props.uri, "uri");
    const errorOnMissing = props.errorOnMissing === undefined ? false : toBool(ctx.render(props.errorOnMissing), "errorOnMissing");
    const deleted = await ctx.storage.delete(uri);
    if (!deleted && errorOnMissing) throw new LannerError("STORAGE_NOT_FOUND", `Unable to find file ${uri}`);
    return { outputs: { uri, deleted } };
  },
};
