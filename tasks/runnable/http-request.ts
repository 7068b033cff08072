import type { TaskDefinition } from "../types.js";
import { LannerError } from "../../common/errors.js";
import { runnableProps, parseProps, dynBool } from "./props.js";
import { httpCommonShape } from "./http-schema.js";
import { bodyError, readText, sendHttp } from "./http-client.js";
import { toBool } from "./coerce.js";

const properties = runnableProps({
  ...httpCommonShape,
  encryptBody: dynBool.optional(),
});

/**
 * Sends one HTTP request; outputs `{uri, code, headers, body}` with the body as text (Kestra keeps
 * it a string: flows parse it with `json(...)` or `jq`). Fails on a status >= 400 unless
 * `options.allowFailed` (or on one outside `options.allowedResponseCodes`).
 */
export const httpRequestTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.http.Request", "io.kestra.plugin.fs.http.Request", "io.kestra.core.tasks.http.Request", "Request"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    if (props.encryptBody !== undefined && toBool(ctx.render(props.encryptBody), "encryptBody")) {
      // Encrypting needs a server-side secret key, which Lanner does not have; refusing beats leaking the body.
      throw new LannerError("TASK_UNSUPPORTED", "encryptBody: encrypted outputs are not supported");
    }
    const res = await sendHttp(props, ctx);
    try {
      const body = await readText(res);
      return { outputs: { uri: res.uri, code: res.code, headers: res.headers, body } };
    } catch (err) {
      throw bodyError(err, ctx, res.uri);
    } finally {
      await res.close();
    }
  },
};
