/**
 * Deterministic ids: a task run's id is a pure function of the execution id, its place in the
 * task tree and its loop slot, so replaying the log rebuilds the very same ids. 128 bits from two
 * FNV-1a 64-bit hashes (different offset bases, each finished with an avalanche mix), written as
 * 22 base62 characters — the length and alphabet of Kestra's ids.
 */

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const TWO32 = 0x1_0000_0000;

/**
 * FNV-1a 64 over UTF-16 code units (low byte, then high byte), as [hi, lo] 32-bit halves, then a
 * fmix-style finish. The two bytes of a unit are unrolled: this runs for every task run created.
 */
function fnv1a64(s: string, hiSeed: number, loSeed: number): [number, number] {
  let hi = hiSeed >>> 0;
  let lo = loSeed >>> 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // Multiply by the 64-bit FNV prime 2^40 + 0x1b3, modulo 2^64, in 32-bit integer steps:
    // lo * 2^40 adds lo << 8 to hi, and lo * 0x1b3 (< 2^41) carries its bits above 32 into hi —
    // computed from lo's 16-bit halves, without the float division and fmod they would cost.
    lo = (lo ^ (c & 0xff)) >>> 0;
    hi = (Math.imul(hi, 0x1b3) + ((lo << 8) >>> 0) + (((lo >>> 16) * 0x1b3 + (((lo & 0xffff) * 0x1b3) >>> 16)) >>> 16)) >>> 0;
    lo = Math.imul(lo, 0x1b3) >>> 0;
    lo = (lo ^ (c >>> 8)) >>> 0;
    hi = (Math.imul(hi, 0x1b3) + ((lo << 8) >>> 0) + (((lo >>> 16) * 0x1b3 + (((lo & 0xffff) * 0x1b3) >>> 16)) >>> 16)) >>> 0;
    lo = Math.imul(lo, 0x1b3) >>> 0;
  }
  // avalanche: FNV's last bytes only touch low bits otherwise
  let h1 = hi ^ (lo >>> 1);
  let h2 = lo ^ Math.imul(hi, 0x9e3779b1);
  h1 = Math.imul(h1 ^ (h1 >>> 16), 0x85ebca6b);
  h1 = Math.imul(h1 ^ (h1 >>> 13), 0xc2b2ae35);
  h1 = (h1 ^ (h1 >>> 16)) >>> 0;
  h2 = Math.imul(h2 ^ (h2 >>> 15), 0x2c1b3c6d);
  h2 = Math.imul(h2 ^ (h2 >>> 12), 0x297a2d39);
  h2 = (h2 ^ (h2 >>> 15) ^ h1) >>> 0;
  return [h1, h2];
}

/** 128-bit hash of `s` as four 32-bit words, most significant first. */
export function hash128(s: string): [number, number, number, number] {
  const [a, b] = fnv1a64(s, 0xcbf29ce4, 0x84222325);
  const [c, d] = fnv1a64(s, 0x6c62272e, 0x07bb0142);
  return [a, b, c, d];
}

/**
 * Recently derived ids. The decider asks for the same task-run ids on every step of an execution
 * (each step walks the flow's task list), so most lookups repeat; the id is a pure function of
 * its input, so a bounded memo changes nothing but the time. Cleared whole when full.
 */
const recentIds = new Map<string, string>();
const RECENT_IDS_MAX = 50_000;

/** A 22-character base62 id derived from `s` alone. */
export function deterministicId(s: string): string {
  const known = recentIds.get(s);
  if (known !== undefined) return known;
  const id = computeId(s);
  if (recentIds.size >= RECENT_IDS_MAX) recentIds.clear();
  recentIds.set(s, id);
  return id;
}

function computeId(s: string): string {
  const words = hash128(s);
  // 16-bit limbs, most significant first: each long-division step stays a small integer (< 2^22)
  const limbs = new Array<number>(8);
  for (let i = 0; i < 4; i++) {
    limbs[2 * i] = words[i] >>> 16;
    limbs[2 * i + 1] = words[i] & 0xffff;
  }
  let out = "";
  for (let k = 0; k < 22; k++) {
    let rem = 0;
    for (let i = 0; i < 8; i++) {
      const cur = rem * 0x10000 + limbs[i];
      const q = (cur / 62) | 0;
      limbs[i] = q;
      rem = cur - q * 62;
    }
    out = BASE62[rem] + out;
  }
  return out;
}

/** A number in [0, 1) derived from `s` (deterministic "random" retry delays). */
export function unitFromHash(s: string): number {
  const [a] = hash128(s);
  return a / TWO32;
}

/**
 * Id of the task run for `taskId` under `parentTaskRunId` (undefined at the flow's top level) in
 * loop slot `slot` (ForEach group index or WaitFor iteration).
 */
export function taskRunId(executionId: string, parentTaskRunId: string | undefined, taskId: string, slot?: number): string {
  return deterministicId(`${executionId}/${parentTaskRunId ?? ""}/${taskId}/${slot ?? ""}`);
}

/** Id of the execution a Subflow task run starts (stable, so a redelivered action is a duplicate). */
export function childExecutionId(parentExecutionId: string, parentTaskRunId: string): string {
  return deterministicId(`subflow/${parentExecutionId}/${parentTaskRunId}`);
}

/** Id of the execution a CREATE_NEW_EXECUTION retry starts. */
export function retryExecutionId(executionId: string, taskRunId: string): string {
  return deterministicId(`retry/${executionId}/${taskRunId}`);
}

/**
 * Id of the subflow execution ForEachItem starts for batch `index` (0-based) of its `_items` task
 * run, in restart generation `generation`: stable, so a redelivered create is a duplicate.
 */
export function batchExecutionId(executionId: string, taskRunId: string, generation: number, index: number): string {
  return deterministicId(`foreachitem/${executionId}/${taskRunId}/${generation}/${index}`);
}
