/**
 * Rebuilds projections from the log into fresh storage and swaps it in atomically (`lanner sys
 * reindex`). A one-off indexer (its own ephemeral group, from offset 0) writes into the fresh
 * tables / indices until it has caught up with the log; the fresh storage then replaces the live
 * one in one step (a table swap in one SQL transaction, an alias swap on Elasticsearch); the same
 * indexer then goes on writing into the live storage until it has caught up again, so records
 * appended while the swap happened are in it too. The writes are idempotent (versioned by log
 * offset), so the live indexer running at the same time does no harm.
 */
import type { Logger } from "pino";
import { LannerError } from "../common/errors.js";
import type { RecordCodec } from "../processors/executor/shell/records.js";
import type { Log } from "../topology/log.js";
import { Indexer, type IndexedKind, type IndexerTopics } from "./indexer.js";
import type { Repository } from "./repository.js";

/** Fresh storage for a reindex. */
export interface ReindexTarget {
  /** A repository writing into the fresh, empty storage of the kinds being rebuilt. */
  repository: Repository;
  /** Atomically replaces the live storage of those kinds with the fresh one (the old one is dropped). */
  swap(): Promise<void>;
  /** Drops the fresh storage (the reindex failed or was abandoned). */
  abort(): Promise<void>;
}

/** A repository that can prepare fresh storage for a reindex. */
export interface Reindexable {
  /** Creates empty storage for `kinds` beside the live one. */
  stageReindex(kinds: readonly IndexedKind[]): Promise<ReindexTarget>;
}

export function isReindexable(r: unknown): r is Reindexable {
  return typeof r === "object" && r !== null && typeof (r as Partial<Reindexable>).stageReindex === "function";
}

export interface ReindexOptions {
  log: Log;
  codec: RecordCodec;
  logger: Logger;
  /** The live repository (SQL or Elasticsearch). */
  repository: Repository & Reindexable;
  kinds: readonly IndexedKind[];
  topics?: Partial<IndexerTopics>;
  /** Longest a catch-up phase may take (ms); default one hour. */
  timeoutMs?: number;
  /** Called with the lag while catching up (progress). */
  onProgress?: (phase: "rebuild" | "catch-up", lag: bigint) => void;
}

export interface ReindexResult {
  kinds: IndexedKind[];
  events: number;
  logLines: number;
  flows: number;
  triggers: number;
  deadLetters: number;
}

/** Forwards every call to `target.current`, so the indexer can be pointed elsewhere mid-flight. */
function switchable(initial: Repository): { repository: Repository; point(to: Repository): void } {
  const box = { current: initial };
  const repository = new Proxy(initial, {
    get(_t, prop) {
      const v: unknown = Reflect.get(box.current, prop);
      return typeof v === "function" ? (v as (...args: unknown[]) => unknown).bind(box.current) : v;
    },
  });
  return { repository, point: (to) => (box.current = to) };
}

async function caughtUp(indexer: Indexer, phase: "rebuild" | "catch-up", timeoutMs: number, onProgress?: ReindexOptions["onProgress"]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = -1n;
  while (Date.now() < deadline) {
    const lag = await indexer.lag();
    if (lag !== last) onProgress?.(phase, lag);
    last = lag;
    if (lag === 0n) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new LannerError("REINDEX_TIMEOUT", `reindex: the ${phase} did not catch up with the log within ${timeoutMs} ms (lag ${last})`, { retriable: true });
}

/** Rebuilds `kinds` from the log and swaps them in; resolves with what was indexed. */
export async function reindex(opts: ReindexOptions): Promise<ReindexResult> {
  const kinds = [...new Set(opts.kinds)];
  const timeoutMs = opts.timeoutMs ?? 3_600_000;
  const target = await opts.repository.stageReindex(kinds);
  const sw = switchable(target.repository);
  const indexer = new Indexer({
    log: opts.log, codec: opts.codec, logger: opts.logger, repository: sw.repository, topics: opts.topics, kinds,
    group: `reindex-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`, ephemeral: true,
    retryInitialMs: 100, retryMaxMs: 2_000,
  });
  let swapped = false;
  try {
    await indexer.start();
    await caughtUp(indexer, "rebuild", timeoutMs, opts.onProgress);
    await target.swap();
    swapped = true;
    // Writes that raced the swap failed on the moved storage and are retried against the live one.
    sw.point(opts.repository);
    await caughtUp(indexer, "catch-up", timeoutMs, opts.onProgress);
    const s = indexer.stats;
    return { kinds, events: s.events, logLines: s.logLines, flows: s.flows, triggers: s.triggers, deadLetters: s.deadLetters };
  } catch (err) {
    if (!swapped) await target.abort().catch(() => undefined);
    throw err;
  } finally {
    await indexer.stop();
    await target.repository.close().catch(() => undefined);
  }
}
