/**
 * Which worker groups have a live worker, from the heartbeats seen. The executor shell asks it
 * before dispatching a job, so that a job whose group nobody serves is visible (a WARN line in
 * the task run's logs and a metric) instead of waiting silently in `worker-jobs`.
 *
 * Fed either by the liveness role of the same process (`observe`) or, in a process without
 * liveness, by `follow(log)`, which reads the `heartbeats` topic every half heartbeat interval.
 */
import type { Log } from "../../topology/log.js";
import { groupName, type Heartbeat } from "./heartbeat.js";

/** How many of the latest heartbeat records `follow` reads at start. */
const RECENT = 10_000n;

interface Seen {
  group: string;
  lastSeen: number;
  status: Heartbeat["status"];
}

export class WorkerGroupWatch {
  private readonly workers = new Map<string, Seen>();
  private readonly lost = new Set<string>();
  private readonly startedAt: number;
  private follower: NodeJS.Timeout | undefined;
  private following = false;

  /**
   * @param timeoutMs silence after which a worker no longer counts as live (liveness.timeoutMs).
   * @param clock wall clock.
   */
  constructor(
    readonly timeoutMs: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.startedAt = clock();
  }

  /** Records a heartbeat (a newer one replaces an older one of the same worker). */
  observe(hb: Heartbeat, receivedAt: number = this.clock()): void {
    const prev = this.workers.get(hb.workerId);
    // liveness counts silence from when the heartbeat arrived, so clock skew between hosts does not matter
    const lastSeen = Math.max(receivedAt, prev?.lastSeen ?? 0);
    this.workers.set(hb.workerId, { group: groupName(hb.group), lastSeen, status: hb.status });
  }

  /** Marks a worker as lost (declared by liveness): it no longer counts, whatever it says next. */
  markLost(workerId: string): void {
    this.lost.add(workerId);
    this.workers.delete(workerId);
  }

  /** True when liveness declared this worker lost. */
  isLost(workerId: string): boolean {
    return this.lost.has(workerId);
  }

  /** Number of live workers (heard within the timeout, not STOPPED, not lost) serving `group`. */
  liveWorkers(group: string | undefined, now: number = this.clock()): number {
    const g = groupName(group);
    let n = 0;
    for (const [id, w] of this.workers) {
      if (w.group === g && w.status !== "STOPPED" && now - w.lastSeen <= this.timeoutMs && !this.lost.has(id)) n++;
    }
    return n;
  }

  /**
   * Live workers per group (groups with none that were seen at least once appear with 0).
   */
  liveByGroup(now: number = this.clock()): Map<string, number> {
    const out = new Map<string, number>();
    for (const w of this.workers.values()) if (!out.has(w.group)) out.set(w.group, 0);
    for (const g of out.keys()) out.set(g, this.liveWorkers(g, now));
    return out;
  }

  /**
   * False while the watch may not have heard every live worker yet (less than one timeout since
   * it started and no worker of `group` seen): callers must not warn then.
   */
  knows(group: string | undefined, now: number = this.clock()): boolean {
    if (now - this.startedAt >= this.timeoutMs) return true;
    const g = groupName(group);
    for (const w of this.workers.values()) if (w.group === g) return true;
    return false;
  }

  /**
   * Follows the `heartbeats` topic (every partition) from `decode`d records: reads what is new
   * every `everyMs`. Starts from the latest records (younger than one timeout).
   */
  follow(log: Log, decode: (value: Uint8Array) => Heartbeat | undefined, everyMs: number, topic = "heartbeats"): void {
    if (this.follower) return;
    const positions: bigint[] = [];
    const since = this.clock() - this.timeoutMs;
    const tick = async () => {
      if (this.following) return;
      this.following = true;
      try {
        const n = log.partitionsOf(topic);
        for (let p = 0; p < n; p++) {
          const end = await log.endOffset(topic, p);
          // the last heartbeats suffice (a few per worker within one timeout): skip the older history
          positions[p] ??= end > RECENT ? end - RECENT : 0n;
          if (end <= positions[p]) continue;
          for await (const rec of log.readPartition(topic, p, positions[p])) {
            positions[p] = rec.offset + 1n;
            if (rec.timestamp < since) continue;
            const hb = decode(rec.value);
            if (hb) this.observe(hb);
          }
        }
      } catch {
        // a failed read is retried at the next tick; the log reports fatal failures itself
      } finally {
        this.following = false;
      }
    };
    void tick();
    this.follower = setInterval(() => void tick(), Math.max(50, everyMs));
    this.follower.unref();
  }

  /** Stops following the topic. */
  stop(): void {
    if (this.follower) clearInterval(this.follower);
    this.follower = undefined;
  }
}
