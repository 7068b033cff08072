import { z } from "zod";
import { LannerError } from "../../../common/errors.js";
import type { TaskDefinition } from "../../types.js";
import { toText } from "../coerce.js";
import { parseProps, runnableProps } from "../props.js";
import { extensionOf, outputPath, readBounded, renderStorageUri } from "./storage-files.js";

/** Largest file Reverse reads: it holds the file in memory to walk its lines backwards. */
export const MAX_REVERSE_BYTES = 64 * 1024 * 1024;

/** Java charset names (as Kestra flows write them) and the Node encodings that read them. */
const CHARSETS: Record<string, BufferEncoding> = {
  "UTF-8": "utf8",
  UTF8: "utf8",
  "UTF-16LE": "utf16le",
  "ISO-8859-1": "latin1",
  LATIN1: "latin1",
  "US-ASCII": "ascii",
  ASCII: "ascii",
};

function encodingOf(charset: string): BufferEncoding {
  const enc = CHARSETS[charset.trim().toUpperCase()];
  if (enc === undefined) throw new LannerError("TASK_INVALID_PROPERTY", `charset: expected one of ${Object.keys(CHARSETS).join(", ")}, got ${JSON.stringify(charset)}`);
  return enc;
}

const properties = runnableProps({
  from: z.string(),
  separator: z.string().optional(),
  charset: z.string().optional(),
});

/**
 * Writes the lines of a text file of internal storage in reverse order, each followed by
 * `separator`; outputs the new file's `uri` (same extension as `from`). A final line ending
 * ends the last line; it does not start an empty one.
 */
export const storageReverseTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.storage.Reverse", "io.kestra.core.tasks.storages.Reverse"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    const from = renderStorageUri(ctx, props.from, "from");
    const separator = props.separator === undefined ? "\n" : toText(ctx.render(props.separator));
    const encoding = encodingOf(props.charset === undefined ? "UTF-8" : toText(ctx.render(props.charset)));
    const text = (await readBounded(ctx, from, MAX_REVERSE_BYTES, "from")).toString(encoding);
    const lines = text.split(/\r\n|\n|\r/);
    if (lines[lines.length - 1] === "") lines.pop();
    lines.reverse();
    const out = Buffer.from(lines.map((l) => l + separator).join(""), encoding);
    const uri = await ctx.storage.put(outputPath(task, ctx, extensionOf(from)), out);
    return { outputs: { uri } };
  },
};
