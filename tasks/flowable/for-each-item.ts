import { z } from "zod";
import { positiveInt, show } from "../../schemas/primitives.js";
import type { TaskDefinition } from "../types.js";
import { flowableNames } from "./names.js";
import { subflowFields } from "./subflow.js";

/**
 * Splits the file at `items` (a storage URI, usually an expression) into batches and starts one
 * subflow execution per batch, passing the batch file through `inputs` (`{{ taskrun.items }}`).
 */
export const forEachItemTask: TaskDefinition = {
  types: flowableNames("ForEachItem"),
  kind: "flowable",
  properties: z.strictObject({
    items: z.string({ error: (iss) => `expected the URI of a file in internal storage (often "{{ outputs.x.uri }}"), got ${show(iss.input)}` }),
    batch: z.strictObject({
      rows: z.union([positiveInt, z.string()]).optional(),
      bytes: z.string().optional(),
      partitions: positiveInt.optional(),
      separator: z.string().optional(),
    }).default({ rows: 1 }),
    ...subflowFields,
  }),
  childTaskLists: [],
};
