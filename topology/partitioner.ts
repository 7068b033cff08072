/**
 * Kafka's default partitioner for keyed records: `toPositive(murmur2(utf8(key))) % partitions`,
 * the same function as Kafka's Java client (`Utils.murmur2`) and kafkajs's default partitioner,
 * so a record produced by an outside Kafka client lands on the partition ours would.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;
const encoder = new TextEncoder();

/** MurmurHash2 (32-bit, Kafka's seed) of `data`, as a signed 32-bit integer like Java's `int`. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const blocks = length >>> 2;
  for (let i = 0; i < blocks; i++) {
    const o = i * 4;
    let k = data[o] | (data[o + 1] << 8) | (data[o + 2] << 16) | (data[o + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  const tail = length & ~3;
  const rest = length & 3;
  // The reference switch falls through over the last 1–3 bytes; the same, spelled out.
  if (rest >= 3) h ^= data[tail + 2] << 16;
  if (rest >= 2) h ^= data[tail + 1] << 8;
  if (rest >= 1) {
    h ^= data[tail];
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's `Utils.toPositive`: clears the sign bit (not `Math.abs`, which differs on MIN_VALUE). */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/** The partition of `key` among `partitions` (> 0). */
export function partitionForKey(key: string, partitions: number): number {
  return toPositive(murmur2(encoder.encode(key))) % partitions;
}
