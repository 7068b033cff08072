/**
 * Delivery of one owned partition to one group member, shared by every backend: read a batch
 * from the member's position, hand it over, wait for it to resolve (backpressure), repeat; when
 * nothing is left, sleep until woken — by an in-process notification (memory, embedded, local
 * commits) or a Postgres NOTIFY — never a polling timer. A failed batch is reported, and the
 * partition is re-delivered from its committed offset after a bounded back-off.
 */
import type { GroupMember, LogRecord, TopicPartition } from "./log.js";

export const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** Per-partition wake-ups with a version counter, so a wake-up between a read and a wait is never lost. */
export class Wakeups {
  private readonly versions = new Map<string, number>();
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Records of (topic, partition) may have become visible. */
  notify(topic: string, partition: number): void {
    const key = tpKey(topic, partition);
    this.versions.set(key, (this.versions.get(key) ?? 0) + 1);
    const set = this.waiters.get(key);
    if (set === undefined) return;
    this.waiters.delete(key);
    for (const wake of set) wake();
  }

  /** Wakes every waiter (e.g. after a reconnect, when notifications may have been missed). */
  notifyAll(): void {
    for (const key of [...this.waiters.keys()]) {
      const [topic, p] = key.split("\u0000");
      this.notify(topic, Number(p));
    }
  }

  version(key: string): number {
    return this.versions.get(key) ?? 0;
  }

  /** Resolves at the next notify of `key` or when `d` is interrupted. */
  wait(key: string, d: Delivery): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = this.waiters.get(key);
      if (set === undefined) {
        set = new Set();
        this.waiters.set(key, set);
      }
      const wake = () => {
        set?.delete(wake);
        d.interrupt = undefined;
        resolve();
      };
      set.add(wake);
      d.interrupt = wake;
    });
  }
}

/** The delivery state of one owned partition. */
export interface Delivery {
  tp: TopicPartition;
  /** Next offset to deliver. */
  position: bigint;
  stopped: boolean;
  /** Ends the current wait (wake-up or back-off) early. */
  interrupt?: () => void;
  /** Settles when the loop has ended (after any in-flight batch resolved). */
  done?: Promise<void>;
}

export interface DeliverySource {
  wakeups: Wakeups;
  read(topic: string, partition: number, from: bigint, max: number): Promise<LogRecord[]>;
  committed(topic: string, partition: number): Promise<bigint>;
  /** True once the backend is closed or dead: loops end. */
  halted(): boolean;
}

const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 2_000;

export function newDelivery(tp: TopicPartition, position: bigint): Delivery {
  return { tp: { ...tp }, position, stopped: false };
}

/** Starts the loop of `d` (sets `d.done`). */
export function startDelivery(d: Delivery, member: GroupMember, maxBatch: number, src: DeliverySource): void {
  d.done = run(d, member, maxBatch, src);
}

/** Stops the loop of `d` and waits for its in-flight batch to resolve. */
export async function stopDelivery(d: Delivery): Promise<void> {
  d.stopped = true;
  d.interrupt?.();
  await d.done;
}

async function run(d: Delivery, member: GroupMember, maxBatch: number, src: DeliverySource): Promise<void> {
  const key = tpKey(d.tp.topic, d.tp.partition);
  const live = () => !d.stopped && !src.halted();
  let backoff = BACKOFF_MIN_MS;
  const fail = async (err: unknown, rewind: boolean) => {
    if (!live()) return;
    member.onError?.(err, { ...d.tp });
    await pause(d, backoff);
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    if (!rewind || !live()) return;
    try {
      d.position = await src.committed(d.tp.topic, d.tp.partition);
    } catch (readErr) {
      member.onError?.(readErr, { ...d.tp });
    }
  };
  while (live()) {
    const version = src.wakeups.version(key);
    let batch: LogRecord[];
    try {
      batch = await src.read(d.tp.topic, d.tp.partition, d.position, maxBatch);
    } catch (err) {
      await fail(err, false);
      continue;
    }
    if (!live()) return;
    if (batch.length === 0) {
      if (src.wakeups.version(key) === version) await src.wakeups.wait(key, d);
      continue;
    }
    try {
      await member.onRecords(batch);
      d.position = batch[batch.length - 1].offset + 1n;
      backoff = BACKOFF_MIN_MS;
    } catch (err) {
      await fail(err, true);
    }
  }
}

/** A back-off after a failure (wake-ups do not end it; stopping does). */
function pause(d: Delivery, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      d.interrupt = undefined;
      resolve();
    }
    d.interrupt = done;
  });
}

/** Range assignment: partition `p` of an `n`-partition topic among `k` members, in member order. */
export function rangeAssign(n: number, members: number): number[][] {
  const per = Math.floor(n / members);
  const extra = n % members;
  const out: number[][] = [];
  let p = 0;
  for (let i = 0; i < members; i++) {
    const count = per + (i < extra ? 1 : 0);
    out.push(Array.from({ length: count }, () => p++));
  }
  return out;
}
