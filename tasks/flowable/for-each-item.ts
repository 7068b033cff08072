import { z } from "zod";
import { positiveInt, show } from "../../schemas/primitives.js";
import type { Task } from "../../schemas/flow-types.js";
import type { TaskDefinition } from "../types.js";
import { CORE_FLOW, flowableNames } from "./names.js";
import { subflowFields } from "./subflow.js";

/** Most batches one ForEachItem may start (each one is a subflow execution). */
export const MAX_BATCHES = 10_000;

const FOR_EACH_ITEM = `${CORE_FLOW}ForEachItem`;

/**
 * Kestra's internal child tasks of ForEachItem, under their Kestra type names: the split and the
 * merge run on a worker, the executable starts the subflow executions on the executor.
 */
export const FOR_EACH_ITEM_SPLIT = `${FOR_EACH_ITEM}$ForEachItemSplit`;
export const FOR_EACH_ITEM_EXECUTABLE = `${FOR_EACH_ITEM}$ForEachItemExecutable`;
export const FOR_EACH_ITEM_MERGE = `${FOR_EACH_ITEM}$ForEachItemMergeOutputs`;

const DATA_SIZE = /^\s*(\d+)\s*(B|KB|MB|GB|TB)?\s*$/i;
const UNIT: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/** Bytes in a data size as Kestra writes it (`512`, `10KB`, `1MB`; binary units); undefined when malformed. */
export function parseDataSize(text: string): number | undefined {
  const m = DATA_SIZE.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]) * UNIT[(m[2] ?? "B").toUpperCase()];
  return n > 0 && Number.isSafeInteger(n) ? n : undefined;
}

const batchSchema = z.strictObject({
  rows: z.union([positiveInt, z.string()]).optional(),
  bytes: z.string().optional().refine((b) => b === undefined || b.includes("{{") || parseDataSize(b) !== undefined, {
    error: (iss) => `expected a size such as "10KB" or "1MB", got ${show(iss.input)}`,
  }),
  partitions: positiveInt.optional(),
  separator: z.string().min(1, { error: "the separator cannot be empty" }).optional(),
}).refine((b) => [b.rows, b.bytes, b.partitions].filter((v) => v !== undefined).length <= 1, {
  error: "set only one of batch.rows, batch.bytes and batch.partitions",
});

/**
 * Splits the file at `items` (a storage URI, usually an expression) into batches and starts one
 * subflow execution per batch, passing the batch file through `inputs` (`{{ taskrun.items }}`).
 * It runs as three internal child task runs, like Kestra's: `<id>_split`, `<id>_items` and
 * `<id>_merge` (see `forEachItemChildren`).
 */
export const forEachItemTask: TaskDefinition = {
  types: flowableNames("ForEachItem"),
  kind: "flowable",
  properties: z.strictObject({
    items: z.string({ error: (iss) => `expected the URI of a file in internal storage (often "{{ outputs.x.uri }}"), got ${show(iss.input)}` }),
    batch: batchSchema.default({ rows: 1 }),
    ...subflowFields,
  }),
  childTaskLists: [],
};

/** The three internal children of a ForEachItem task, in the order they run. */
export interface ForEachItemChildren {
  split: Task;
  items: Task;
  merge: Task;
}

const childrenCache = new WeakMap<Task, ForEachItemChildren>();

/**
 * The internal child tasks of a ForEachItem task (the same objects on every call for the same
 * task, so caches keyed by task identity hold). `split` carries `items` and `batch`; `items`
 * carries the subflow properties; `merge` has no properties of its own. The task's retry,
 * timeout and worker group apply to the worker-side children.
 */
export function forEachItemChildren(task: Task): ForEachItemChildren {
  let c = childrenCache.get(task);
  if (c) return c;
  const workerSide: Partial<Task> = {};
  if (task.workerGroup) workerSide.workerGroup = task.workerGroup;
  if (task.retry) workerSide.retry = task.retry;
  if (task.timeout) workerSide.timeout = task.timeout;
  if (task.logLevel) workerSide.logLevel = task.logLevel;
  const subflow: Record<string, unknown> = {};
  for (const key of Object.keys(subflowFields)) if (task[key] !== undefined) subflow[key] = task[key];
  c = {
    split: { ...workerSide, id: `${task.id}_split`, type: FOR_EACH_ITEM_SPLIT, items: task.items, batch: task.batch ?? { rows: 1 } },
    items: { ...subflow, id: `${task.id}_items`, type: FOR_EACH_ITEM_EXECUTABLE },
    merge: { ...workerSide, id: `${task.id}_merge`, type: FOR_EACH_ITEM_MERGE },
  };
  childrenCache.set(task, c);
  return c;
}
