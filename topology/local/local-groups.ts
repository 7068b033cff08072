/**
 * Consumer groups for the in-process backends (memory, embedded): every member of a group in
 * this process gets a range of each subscribed topic's partitions; joins and leaves rebalance.
 * Delivery is one loop per owned partition, woken in-process when records become visible (never
 * a polling sleep), with one batch in flight at a time (backpressure).
 */
import { randomUUID } from "node:crypto";
import type { StateBatch } from "../../stores/state-store.js";
import { closedError, fencedError } from "../errors.js";
import type {
  AppendResult,
  AssignedPartition,
  Commit,
  GroupMember,
  JoinOptions,
  LogRecord,
  Membership,
  TopicPartition,
} from "../log.js";

/** What a local backend gives the group coordinator. */
export interface LocalBackend {
  readonly backend: string;
  /** Partition count of a known topic; throws `UNKNOWN_TOPIC` otherwise. */
  partitionsOf(topic: string): number;
  /** Up to `max` visible records of the partition from `from` (inclusive), in offset order. */
  readBatch(topic: string, partition: number, from: bigint, max: number): Promise<LogRecord[]>;
  /** The group's committed next offset (0 when none). */
  committed(group: string, topic: string, partition: number): Promise<bigint>;
  /** Records that `group` reads `topics` (retention must wait for it). */
  subscribe(group: string, topics: string[]): Promise<void>;
  /** Appends, commits and writes state atomically; fencing was checked by the caller. */
  commitUnit(group: string, c: Commit, state: StateBatch[]): Promise<AppendResult[]>;
}

export const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

const DEFAULT_MAX_BATCH = 256;
const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 2_000;

interface Delivery {
  tp: TopicPartition;
  position: bigint;
  stopped: boolean;
  /** Resolves the current wait (wake-up, back-off) early. */
  interrupt?: () => void;
  done?: Promise<void>;
}

interface LocalMember {
  id: string;
  group: LocalGroup;
  topics: string[];
  impl: GroupMember;
  maxBatch: number;
  owned: Map<string, Delivery>;
  pending: Set<Promise<unknown>>;
  active: boolean;
}

interface LocalGroup {
  name: string;
  members: LocalMember[];
  /** Members that left and still own partitions until the next rebalance revokes them. */
  departed: LocalMember[];
  /** Rebalances run one after the other. */
  chain: Promise<void>;
}

export class LocalGroups {
  private readonly groups = new Map<string, LocalGroup>();
  private readonly versions = new Map<string, number>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private closed = false;

  constructor(private readonly backend: LocalBackend) {}

  /** Records of (topic, partition) became visible: wake its delivery loops. */
  notify(topic: string, partition: number): void {
    const key = tpKey(topic, partition);
    this.versions.set(key, (this.versions.get(key) ?? 0) + 1);
    const set = this.waiters.get(key);
    if (set === undefined) return;
    this.waiters.delete(key);
    for (const wake of set) wake();
  }

  async join(group: string, topics: string[], impl: GroupMember, options: JoinOptions = {}): Promise<Membership> {
    if (this.closed) throw closedError(this.backend.backend);
    for (const t of topics) this.backend.partitionsOf(t);
    await this.backend.subscribe(group, topics);
    let g = this.groups.get(group);
    if (g === undefined) {
      g = { name: group, members: [], departed: [], chain: Promise.resolve() };
      this.groups.set(group, g);
    }
    const m: LocalMember = {
      id: options.memberId ?? randomUUID(),
      group: g,
      topics: [...new Set(topics)],
      impl,
      maxBatch: options.maxBatch ?? DEFAULT_MAX_BATCH,
      owned: new Map(),
      pending: new Set(),
      active: true,
    };
    g.members.push(m);
    await this.rebalance(g);
    return {
      memberId: m.id,
      assignment: () => [...m.owned.values()].map((d) => ({ ...d.tp })),
      commit: (c, state) => this.commit(m, c, state),
      leave: async () => {
        if (!m.active) return;
        m.active = false;
        g.members = g.members.filter((x) => x !== m);
        g.departed.push(m);
        await this.rebalance(g);
      },
    };
  }

  private commit(m: LocalMember, c: Commit, state?: StateBatch | StateBatch[]): Promise<AppendResult[]> {
    if (this.closed) return Promise.reject(closedError(this.backend.backend));
    for (const tp of [...c.offsets, ...(c.fence ?? [])]) {
      if (!m.active || !m.owned.has(tpKey(tp.topic, tp.partition))) {
        return Promise.reject(fencedError(m.group.name, tp.topic, tp.partition, m.id));
      }
    }
    const states = state === undefined ? [] : Array.isArray(state) ? state : [state];
    const p = this.backend.commitUnit(m.group.name, c, states);
    // A rebalance waits for commits already accepted, so a new owner reads their offsets.
    m.pending.add(p);
    const forget = () => m.pending.delete(p);
    p.then(forget, forget);
    return p;
  }

  private rebalance(g: LocalGroup): Promise<void> {
    const run = g.chain.then(() => this.doRebalance(g));
    g.chain = run.catch(() => undefined);
    return run;
  }

  /** Range assignment per topic among the members subscribed to it, in join order. */
  private target(g: LocalGroup): Map<LocalMember, Set<string>> {
    const out = new Map<LocalMember, Set<string>>();
    for (const m of g.members) out.set(m, new Set());
    const topics = new Set(g.members.flatMap((m) => m.topics));
    for (const topic of topics) {
      const subs = g.members.filter((m) => m.topics.includes(topic));
      const n = this.backend.partitionsOf(topic);
      const per = Math.floor(n / subs.length);
      const extra = n % subs.length;
      let p = 0;
      subs.forEach((m, i) => {
        const count = per + (i < extra ? 1 : 0);
        for (let j = 0; j < count; j++, p++) out.get(m)?.add(tpKey(topic, p));
      });
    }
    return out;
  }

  private async doRebalance(g: LocalGroup): Promise<void> {
    if (this.closed) return;
    const target = this.target(g);
    // Everyone that owned partitions: current members and the one that just left.
    const owners = [...g.members, ...g.departed.splice(0)];
    for (const m of owners) {
      const keep = target.get(m) ?? new Set<string>();
      const revoked = [...m.owned.entries()].filter(([k]) => !keep.has(k));
      if (revoked.length === 0) continue;
      await Promise.all(revoked.map(([, d]) => this.stopDelivery(d)));
      await Promise.allSettled([...m.pending]);
      for (const [k] of revoked) m.owned.delete(k);
      await m.impl.onRevoke(revoked.map(([, d]) => ({ ...d.tp })));
    }
    for (const m of g.members) {
      const want = target.get(m) ?? new Set<string>();
      const added: AssignedPartition[] = [];
      const deliveries: Delivery[] = [];
      for (const k of want) {
        if (m.owned.has(k)) continue;
        const [topic, ps] = k.split("\u0000");
        const partition = Number(ps);
        const next = await this.backend.committed(g.name, topic, partition);
        const d: Delivery = { tp: { topic, partition }, position: next, stopped: false };
        m.owned.set(k, d);
        deliveries.push(d);
        added.push({ topic, partition, next });
      }
      if (added.length === 0) continue;
      await m.impl.onAssign(added);
      for (const d of deliveries) if (!d.stopped) d.done = this.deliver(m, d);
    }
  }

  private async stopDelivery(d: Delivery): Promise<void> {
    d.stopped = true;
    d.interrupt?.();
    await d.done;
  }

  private async deliver(m: LocalMember, d: Delivery): Promise<void> {
    const key = tpKey(d.tp.topic, d.tp.partition);
    let backoff = BACKOFF_MIN_MS;
    while (!d.stopped && !this.closed) {
      const version = this.versions.get(key) ?? 0;
      let batch: LogRecord[];
      try {
        batch = await this.backend.readBatch(d.tp.topic, d.tp.partition, d.position, m.maxBatch);
      } catch (err) {
        if (d.stopped || this.closed) return;
        m.impl.onError?.(err, { ...d.tp });
        await this.pause(d, backoff);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
        continue;
      }
      if (d.stopped) return;
      if (batch.length === 0) {
        if ((this.versions.get(key) ?? 0) === version) await this.waitForRecords(key, d);
        continue;
      }
      try {
        await m.impl.onRecords(batch);
        d.position = batch[batch.length - 1].offset + 1n;
        backoff = BACKOFF_MIN_MS;
      } catch (err) {
        m.impl.onError?.(err, { ...d.tp });
        if (d.stopped || this.closed) return;
        await this.pause(d, backoff);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
        try {
          d.position = await this.backend.committed(m.group.name, d.tp.topic, d.tp.partition);
        } catch (readErr) {
          m.impl.onError?.(readErr, { ...d.tp });
        }
      }
    }
  }

  private waitForRecords(key: string, d: Delivery): Promise<void> {
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

  /** A back-off after a failure (not a polling sleep: wake-ups do not end it, stop does). */
  private pause(d: Delivery, ms: number): Promise<void> {
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

  /** Stops every delivery loop without calling members back. */
  async close(): Promise<void> {
    this.closed = true;
    const all: Delivery[] = [];
    for (const g of this.groups.values()) for (const m of g.members) all.push(...m.owned.values());
    for (const d of all) {
      d.stopped = true;
      d.interrupt?.();
    }
    await Promise.allSettled(all.map((d) => d.done));
  }
}
