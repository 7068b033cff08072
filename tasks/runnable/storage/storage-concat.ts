import { z } from "zod";
import { LannerError } from "../../../common/errors.js";
import type { TaskDefinition } from "../../types.js";
import { toText } from "../coerce.js";
import { parseProps, runnableProps } from "../props.js";
import { chunksOf, outputPath, renderExtension, renderStorageUri } from "./storage-files.js";

/** Most files one Concat joins. */
export const MAX_CONCAT_FILES = 10_000;

const properties = runnableProps({
  files: z.union([z.array(z.string()), z.string()], { error: "expected a list of internal storage URIs or a JSON string of one" }),
  separator: z.string().optional(),
  extension: z.string().optional(),
});

/** The `files` property as a list: a list as written, or a string that renders to a JSON list. */
function fileList(rendered: unknown): unknown[] {
  if (Array.isArray(rendered)) return rendered;
  const text = toText(rendered).trim();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new LannerError("TASK_INVALID_PROPERTY", `files: expected a list of internal storage URIs or a JSON string of one, got ${JSON.stringify(text.slice(0, 200))}`);
  }
  if (!Array.isArray(parsed)) throw new LannerError("TASK_INVALID_PROPERTY", `files: the JSON string must hold a list of URIs, got ${JSON.stringify(text.slice(0, 200))}`);
  return parsed;
}

/**
 * Joins files of internal storage into a new one, in order, writing `separator` after each
 * file; outputs its `uri`. The files stream through: none is held whole in memory.
 */
export const storageConcatTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.storage.Concat", "io.kestra.core.tasks.storages.Concat"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    const extension = renderExtension(ctx, props.extension, ".tmp");
    const separator = props.separator === undefined ? undefined : Buffer.from(toText(ctx.render(props.separator)), "utf8");
    const list = fileList(ctx.render(props.files));
    if (list.length > MAX_CONCAT_FILES) throw new LannerError("TASK_INVALID_PROPERTY", `files: ${list.length} files, more than the ${MAX_CONCAT_FILES} one Concat joins`);
    const uris = list.map((f, i) => renderStorageUri(ctx, f, `files[${i}]`));
    // Every file must be readable before the output is written: no partial result on a typo.
    for (const uri of uris) {
      if (!(await ctx.storage.exists(uri))) throw new LannerError("STORAGE_NOT_FOUND", `files: no file at ${uri} in internal storage`);
    }
    async function* joined(): AsyncGenerator<Uint8Array> {
      for (const uri of uris) {
        yield* chunksOf(await ctx.storage.get(uri), ctx.signal);
        if (separator !== undefined && separator.byteLength > 0) yield separator;
      }
    }
    const uri = await ctx.storage.put(outputPath(task, ctx, extension), joined());
    return { outputs: { uri } };
  },
};
