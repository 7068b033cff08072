import { z } from "zod";
import type { TaskDefinition } from "../types.js";
import { runnableProps } from "./props.js";
import { toText } from "./coerce.js";

const properties = runnableProps({
  content: z.unknown(),
  extension: z.string().optional(),
});

/** Writes rendered `content` to a new file in internal storage; outputs `{uri}`. */
export const storageWriteTask: TaskDefinition = {
  types: ["io.kestra.plugin.core.storage.Write", "Write"],
  kind: "runnable",
  properties,
};
void toText;
