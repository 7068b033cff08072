import type { TaskDefinition } from "../types.js";
import { runnableProps, dynBool } from "./props.js";
import { httpCommonShape } from "./http-schema.js";

const properties = runnableProps({
  ...httpCommonShape,
  failOnEmptyResponse: dynBool.optional(),
});

/** Downloads a URL into internal storage; outputs `{uri, code, length, headers}`. */
export const httpDownloadTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.http.Download", "io.kestra.plugin.fs.http.Download", "io.kestra.core.tasks.http.Download", "Download"],
  kind: "runnable",
  properties,
};
