/**
 * The worker side of ForEachItem: `<id>_split` reads the `items` file and writes one file per
 * batch; `<id>_merge` writes the outputs of the batches' subflow executions to one file. Both run
 * as ordinary jobs so the executor never touches storage.
 */
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { LannerError } from "../../common/errors.js";
import { renderDeep, type RenderServices } from "../../expressions/index.js";
import type { Task } from "../../schemas/flow-types.js";
import { isStorageUri } from "../../storage/paths.js";
import type { Storage } from "../../storage/storage.js";
import { FOR_EACH_ITEM_MERGE, FOR_EACH_ITEM_SPLIT, MAX_BATCHES, parseDataSize } from "../../tasks/flowable/for-each-item.js";
import { emitLine, errorOf, type AttemptOutcome, type TaskScope } from "./run-task.js";
import { envSecret } from "./secrets.js";
import { storagePathOf } from "./storage-reads.js";

/** True when the job is one of ForEachItem's worker-side children. */
export function isForEachItemWork(task: Task): boolean {
  return task.type === FOR_EACH_ITEM_SPLIT || task.type === FOR_EACH_ITEM_MERGE;
}

/** How the split cuts the items: `rows` per batch, about `bytes` per batch, or `partitions` batches. */
export type BatchRule = { rows: number } | { bytes: number } | { partitions: number };

function invalid(message: string): LannerError {
  return new LannerError("FOREACHITEM_INVALID_BATCH", message);
}

function tooMany(n: number): LannerError {
  return new LannerError("FOREACHITEM_TOO_MANY_BATCHES", `the items make ${n} batches or more, above the limit of ${MAX_BATCHES}; use a larger batch (rows, bytes) or fewer partitions`);
}

/** The batch rule from the rendered `batch` property (defaults: one row per batch). */
export function batchRule(batch: Record<string, unknown> | undefined): BatchRule {
  const b = batch ?? {};
  const set = ["rows", "bytes", "partitions"].filter((k) => b[k] !== undefined && b[k] !== null && b[k] !== "");
  if (set.length > 1) throw invalid(`set only one of batch.rows, batch.bytes and batch.partitions, got ${set.join(", ")}`);
  if (b.bytes !== undefined && b.bytes !== null && b.bytes !== "") {
    const n = parseDataSize(String(b.bytes));
    if (n === undefined) throw invalid(`batch.bytes: expected a size such as "10KB", got ${JSON.stringify(b.bytes)}`);
    return { bytes: n };
  }
  if (b.partitions !== undefined && b.partitions !== null && b.partitions !== "") {
    const n = Number(b.partitions);
    if (!Number.isSafeInteger(n) || n < 1) throw invalid(`batch.partitions: expected a whole number ≥ 1, got ${JSON.stringify(b.partitions)}`);
    if (n > MAX_BATCHES) throw tooMany(n);
    return { partitions: n };
  }
  const rows = b.rows === undefined || b.rows === null || b.rows === "" ? 1 : Number(b.rows);
  if (!Number.isSafeInteger(rows) || rows < 1) throw invalid(`batch.rows: expected a whole number ≥ 1, got ${JSON.stringify(b.rows)}`);
  return { rows };
}

/** The extension of the items file, kept on the batch files (`.csv`, `.ion`…), or "". */
function extensionOf(uri: string): string {
  const name = uri.slice(uri.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return "";
  const ext = name.slice(dot);
  return /^\.[A-Za-z0-9]{1,16}$/.test(ext) ? ext : "";
}

/**
 * Yields the lines of a stream as Java's readLine cuts them (at \n, \r\n or \r; a trailing end
 * of line ends the last one), like Kestra's split; the separator is only what batches are
 * written with. Stops when the attempt is aborted.
 */
async function* itemsOf(stream: NodeJS.ReadableStream, signal: AbortSignal): AsyncGenerator<string> {
  const lines = createInterface({ input: Readable.from(stream as AsyncIterable<Uint8Array | string>), crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (signal.aborted) throw signal.reason;
      yield line;
    }
  } finally {
    lines.close();
  }
}

/** Where the split writes and what it reports: batch `k` (from 1) is `<prefix><k><suffix>`. */
export interface SplitResult {
  numberOfBatches: number;
  batchUriPrefix: string;
  batchUriSuffix: string;
  /** URI of a file listing the batch URIs, one per line (Kestra's `splits` output). */
  splits: string;
}

/** Yields the content of each batch in order: items grouped by `rule`, each followed by the separator. */
async function* batchesOf(items: AsyncIterable<string>, rule: BatchRule, separator: string): AsyncGenerator<string> {
  if ("partitions" in rule) {
    const parts: string[][] = Array.from({ length: rule.partitions }, () => []);
    let i = 0;
    for await (const item of items) {
      parts[i].push(item + separator);
      i = (i + 1) % rule.partitions;
    }
    for (const p of parts) if (p.length > 0) yield p.join("");
    return;
  }
  let current: string[] = [];
  let bytes = 0;
  for await (const item of items) {
    const line = item + separator;
    current.push(line);
    bytes += Buffer.byteLength(line);
    if ("rows" in rule ? current.length >= rule.rows : bytes >= rule.bytes) {
      yield current.join("");
      current = [];
      bytes = 0;
    }
  }
  if (current.length > 0) yield current.join("");
}

/**
 * Cuts the file at `itemsUri` into batch files under `dir` (a path relative to `storage`'s
 * scope), one item per line: `rows` items per file, or items until a file reaches `bytes`, or the items dealt
 * round-robin over `partitions` files (empty ones dropped). Each item is written followed by the
 * separator. A first pass counts the batches, so more than MAX_BATCHES is refused
 * (FOREACHITEM_TOO_MANY_BATCHES) before any file is written.
 */
export async function splitItems(storage: Storage, itemsUri: string, rule: BatchRule, separator: string, dir: string, signal: AbortSignal): Promise<SplitResult> {
  const path = storagePathOf(itemsUri);
  let count = 0;
  for await (const batch of batchesOf(itemsOf(await storage.get(path), signal), rule, separator)) {
    void batch;
    if (++count > MAX_BATCHES) throw tooMany(count);
  }
  const ext = extensionOf(itemsUri);
  const uris: string[] = [];
  for await (const content of batchesOf(itemsOf(await storage.get(path), signal), rule, separator)) {
    if (uris.length >= count) throw new LannerError("FOREACHITEM_SPLIT_FAILED", `the items file changed while it was split`);
    uris.push(await storage.put(`${dir}/${uris.length + 1}${ext}`, Buffer.from(content, "utf8")));
  }
  const suffix = `${ext}`;
  let prefix = "";
  if (uris.length > 0) {
    const tail = `1${suffix}`;
    if (!uris[0].endsWith(tail)) throw new LannerError("FOREACHITEM_SPLIT_FAILED", `batch file ${uris[0]} is not named as expected`);
    prefix = uris[0].slice(0, -tail.length);
    uris.forEach((u, k) => {
      if (u !== `${prefix}${k + 1}${suffix}`) throw new LannerError("FOREACHITEM_SPLIT_FAILED", `batch file ${u} is not named as expected`);
    });
  }
  const splits = await storage.put(`${dir}/splits.txt`, Buffer.from(uris.map((u) => `${u}\n`).join(""), "utf8"));
  if (uris.length === 0) prefix = splits.slice(0, -"splits.txt".length);
  return { numberOfBatches: uris.length, batchUriPrefix: prefix, batchUriSuffix: suffix, splits };
}

/** Writes the subflow outputs, one JSON line per batch in batch order; returns the file's URI. */
export async function mergeOutputs(storage: Storage, outputs: unknown[], path: string): Promise<string> {
  return storage.put(path, Buffer.from(outputs.map((o) => `${JSON.stringify(o ?? {})}\n`).join(""), "utf8"));
}

/** Runs a split or merge job to its outcome (a failure is reported, never thrown). */
export async function runForEachItemWork(scope: TaskScope): Promise<AttemptOutcome> {
  const { job } = scope;
  const dir = `tasks/${job.task.id}/${job.taskRunId}`;
  try {
    if (job.task.type === FOR_EACH_ITEM_MERGE) {
      const list = job.vars.subflowOutputs;
      if (!Array.isArray(list)) throw new LannerError("FOREACHITEM_MERGE_FAILED", "the merge job carries no subflow outputs");
      const uri = await mergeOutputs(scope.storage, list, `${dir}/subflow-outputs.jsonl`);
      emitLine(scope, job.task.id, "INFO", `merged the outputs of ${list.length} subflow executions`);
      return { state: "SUCCESS", outputs: { subflowOutputs: uri } };
    }
    const services: RenderServices = { now: Date.now, uuid: randomUUID, secret: (name) => envSecret(name, scope.env.env) };
    const items = renderDeep<unknown>(job.task.items, job.vars, { services });
    if (typeof items !== "string" || !isStorageUri(storagePathOf(items.trim()))) {
      throw new LannerError("FOREACHITEM_INVALID_ITEMS", `items must be the URI of a file in internal storage, got ${JSON.stringify(items)}`);
    }
    const batch = renderDeep<Record<string, unknown> | undefined>(job.task.batch, job.vars, { services });
    const separator = batch?.separator === undefined ? "\n" : String(batch.separator);
    if (separator === "") throw invalid("batch.separator cannot be empty");
    const r = await splitItems(scope.storage, items.trim(), batchRule(batch), separator, dir, scope.signal);
    emitLine(scope, job.task.id, "INFO", `split ${items.trim()} into ${r.numberOfBatches} batches`);
    return { state: "SUCCESS", outputs: { ...r } };
  } catch (err) {
    return { state: "FAILED", error: errorOf(err) };
  }
}
