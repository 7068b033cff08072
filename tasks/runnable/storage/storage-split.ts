import { Readable } from "node:stream";
import { createInterface } from "node:readline";
import { z } from "zod";
import { LannerError } from "../../../common/errors.js";
import type { TaskDefinition } from "../../types.js";
import { toNumber, toText } from "../coerce.js";
import { dynNumber, parseProps, runnableProps } from "../props.js";
import { chunksOf, extensionOf, outputPath, renderStorageUri, SpoolFile } from "./storage-files.js";

/** Most files one Split writes (by bytes or rows); a tiny limit on a big file is refused, not obeyed. */
export const MAX_SPLIT_FILES = 10_000;
/** Most partitions: each is an open file while the source streams through. */
export const MAX_SPLIT_PARTITIONS = 1_000;

const UNITS: Record<string, number> = { "": 1, B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };

/** Parses a readable size such as "10KB", "1MB", "512" (bytes); units are powers of 1024. */
export function parseReadableBytes(value: unknown): number {
  const text = toText(value).trim();
  const m = /^(\d+)\s*(B|KB|MB|GB)?$/i.exec(text);
  const n = m ? Number(m[1]) * UNITS[(m[2] ?? "").toUpperCase()] : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new LannerError("TASK_INVALID_PROPERTY", `bytes: expected a size such as 10KB, 1MB or 512, got ${JSON.stringify(text)}`);
  }
  return n;
}

function positiveInt(value: unknown, property: string, max: number): number {
  const n = toNumber(value, property);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new LannerError("TASK_INVALID_PROPERTY", `${property}: expected a whole number from 1 to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

const properties = runnableProps({
  from: z.string(),
  bytes: z.union([z.string(), z.number()]).optional(),
  partitions: dynNumber.optional(),
  rows: dynNumber.optional(),
  separator: z.string().optional(),
}).superRefine((p, ctx) => {
  const set = (["bytes", "partitions", "rows"] as const).filter((k) => p[k] !== undefined);
  if (set.length !== 1) {
    ctx.addIssue({
      code: "custom",
      path: set.length === 0 ? [] : [set[1]],
      message: set.length === 0 ? "one of bytes, partitions or rows is required" : `only one of bytes, partitions or rows may be set, got ${set.join(", ")}`,
    });
  }
});

/** Lines of a storage file (ends: \n, \r\n or \r, as Java's readLine), stopping when the attempt is aborted. */
function linesOf(stream: NodeJS.ReadableStream, signal: AbortSignal): AsyncIterable<string> {
  return createInterface({ input: Readable.from(chunksOf(stream, signal)), crlfDelay: Infinity });
}

/**
 * Splits a text file of internal storage into several, line by line, each line followed by
 * `separator`: a new file every `rows` lines, or once a file holds `bytes` bytes, or
 * round-robin over `partitions` files. Outputs the new files' `uris`, in order.
 */
export const storageSplitTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.storage.Split", "io.kestra.core.tasks.storages.Split"],
  kind: "runnable",
  properties,
  async run(task, ctx) {
    const props = parseProps(properties, task);
    const from = renderStorageUri(ctx, props.from, "from");
    const separator = props.separator === undefined ? "\n" : toText(ctx.render(props.separator));
    const extension = extensionOf(from);
    const bytes = props.bytes === undefined ? undefined : parseReadableBytes(ctx.render(props.bytes));
    const rows = props.rows === undefined ? undefined : positiveInt(ctx.render(props.rows), "rows", Number.MAX_SAFE_INTEGER);
    const partitions = props.partitions === undefined ? undefined : positiveInt(ctx.render(props.partitions), "partitions", MAX_SPLIT_PARTITIONS);
    const source = await ctx.storage.get(from);
    const files: SpoolFile[] = [];
    try {
      if (partitions !== undefined) {
        for (let i = 0; i < partitions; i++) files.push(await SpoolFile.create(ctx.workingDir));
        let index = 0;
        for await (const line of linesOf(source, ctx.signal)) {
          await files[index].write(Buffer.from(line + separator, "utf8"));
          index = (index + 1) % partitions;
        }
      } else {
        let current: SpoolFile | undefined;
        let lines = 0;
        for await (const line of linesOf(source, ctx.signal)) {
          const full = current === undefined || (bytes !== undefined ? current.size >= bytes : lines >= (rows ?? Infinity));
          if (full) {
            if (files.length >= MAX_SPLIT_FILES) {
              throw new LannerError("STORAGE_SPLIT_TOO_MANY_FILES", `Split would write more than ${MAX_SPLIT_FILES} files; use a larger ${bytes !== undefined ? "bytes" : "rows"} value`);
            }
            await current?.close();
            current = await SpoolFile.create(ctx.workingDir);
            files.push(current);
            lines = 0;
          }
          await current!.write(Buffer.from(line + separator, "utf8"));
          lines++;
        }
      }
      const uris: string[] = [];
      for (const f of files) uris.push(await f.store(ctx, outputPath(task, ctx, extension)));
      return { outputs: { uris } };
    } finally {
      for (const f of files) await f.close().catch(() => undefined);
    }
  },
};
