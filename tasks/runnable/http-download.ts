import { posix } from "node:path";
import type { TaskDefinition } from "../types.js";
import { LannerError } from "../../common/errors.js";
import { runnableProps, parseProps, dynBool } from "./props.js";
import { httpCommonShape } from "./http-schema.js";
import { bodyError, sendHttp } from "./http-client.js";
import { toBool } from "./coerce.js";

const properties = runnableProps({
  ...httpCommonShape,
  failOnEmptyResponse: dynBool.optional(),
});

/** A safe file name for the download: Content-Disposition's, else the URL's last segment, else "download". */
export function downloadFileName(uri: string, disposition: string | undefined): string {
  let name: string | undefined;
  if (disposition) {
    const star = /filename\*\s*=\s*(?:UTF-8'')?([^;]+)/i.exec(disposition);
    const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(disposition);
    try {
      name = star ? decodeURIComponent(star[1].trim()) : plain?.[1].trim();
    } catch {
      name = plain?.[1].trim();
    }
  }
  if (!name) {
    try {
      name = decodeURIComponent(posix.basename(new URL(uri).pathname));
    } catch {
      name = undefined;
    }
  }
  // Only the base name, only harmless characters: the name comes from a remote server.
  const cleaned = (name ?? "").replace(/^.*[\\/]/, "").replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "");
  return cleaned === "" ? "download" : cleaned.slice(0, 200);
}

/** Downloads a URL into internal storage; outputs `{uri, code, length, headers}`. */
export const httpDownloadTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.http.Download", "io.kestra.plugin.fs.http.Download", "io.kestra.core.tasks.http.Download", "Download"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    const failOnEmpty = props.failOnEmptyResponse === undefined ? true : toBool(ctx.render(props.failOnEmptyResponse), "failOnEmptyResponse");
    const res = await sendHttp(props, ctx);
    try {
      const name = downloadFileName(res.uri, res.headers["content-disposition"]?.[0]);
      const path = `tasks/${task.id}/${ctx.taskRunId}/${name}`;
      let length = 0;
      async function* counted() {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          length += chunk.byteLength;
          yield chunk;
        }
      }
      const uri = await ctx.storage.put(path, counted());
      if (length === 0 && failOnEmpty) {
        await ctx.storage.delete(uri);
        throw new LannerError("HTTP_EMPTY_RESPONSE", `No response from server: ${res.uri} returned an empty body`);
      }
      ctx.log("DEBUG", `Downloaded ${length} bytes from ${res.uri} to ${uri}`);
      return { outputs: { uri, code: res.code, length, headers: res.headers } };
    } catch (err) {
      throw bodyError(err, ctx, res.uri);
    } finally {
      await res.close();
    }
  },
};
