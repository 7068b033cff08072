/**
 * Key layout of the executor's state store (one store per partition, name `executor`):
 *
 * - `live/<executionId>`: the JSON snapshot of an execution still in progress (loaded on assign).
 * - `final/<executionId>`: the JSON state of an execution that ended and was dropped from memory;
 *   loaded again only when an input arrives for it (a restart, a late result).
 * - `done/<executionId>`: a tiny marker `{state}` of an ended execution, so that a duplicate
 *   CreateExecution stays a no-op without loading anything.
 * - `timer/<at, 15 digits>/<executionId>/<timerId>`: the partition's timer index, in due order.
 * - `conc/<flowKey>`: the flow-concurrency reducer's state of a flow whose key hashes here.
 * - `lost/<workerId>`: when liveness declared a worker lost (epoch ms): a Started result it sent
 *   before that may be read after the WorkerLost, and its attempt is then resubmitted at once.
 */

export const STORE_NAME = "executor";

export const liveKey = (executionId: string) => `live/${executionId}`;
export const finalKey = (executionId: string) => `final/${executionId}`;
export const doneKey = (executionId: string) => `done/${executionId}`;
export const concurrencyKey = (flowKey: string) => `conc/${flowKey}`;
export const lostWorkerKey = (workerId: string) => `lost/${workerId}`;

export const LIVE_PREFIX = "live/";
export const TIMER_PREFIX = "timer/";
export const LOST_PREFIX = "lost/";

/** Epoch ms padded so that the byte order of keys is the due order (15 digits reach year 33658). */
export function timerKey(at: number, executionId: string, timerId: string): string {
  const ms = Math.max(0, Math.floor(at));
  return `${TIMER_PREFIX}${String(ms).padStart(15, "0")}/${executionId}/${timerId}`;
}

/** Parses a timer index key; undefined when it is not one. Timer ids may contain `/`. */
export function parseTimerKey(key: string): { at: number; executionId: string; timerId: string } | undefined {
  if (!key.startsWith(TIMER_PREFIX)) return undefined;
  const rest = key.slice(TIMER_PREFIX.length);
  const a = rest.indexOf("/");
  if (a !== 15) return undefined;
  const b = rest.indexOf("/", a + 1);
  if (b < 0) return undefined;
  const at = Number(rest.slice(0, a));
  if (!Number.isFinite(at)) return undefined;
  return { at, executionId: rest.slice(a + 1, b), timerId: rest.slice(b + 1) };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** States and markers are stored as UTF-8 JSON. */
export function toBytes(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function fromBytes(bytes: Uint8Array): unknown {
  return JSON.parse(decoder.decode(bytes));
}
