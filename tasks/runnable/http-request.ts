import type { TaskDefinition } from "../types.js";
import { runnableProps, dynBool } from "./props.js";
import { httpCommonShape } from "./http-schema.js";

const properties = runnableProps({
  ...httpCommonShape,
  encryptBody: dynBool.optional(),
  failOnEmptyResponse: dynBool.optional(),
});

/** Sends one HTTP request; outputs `{uri, code, headers, body}`; fails on >= 400 unless allowed. */
export const httpRequestTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.http.Request", "io.kestra.plugin.fs.http.Request", "io.kestra.core.tasks.http.Request", "Request"],
  kind: "runnable",
  properties,
};
