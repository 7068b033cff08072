/**
 * Consumer groups for the in-process backends (memory, embedded): every member of a group in
 * this process gets a range of each subscribed topic's partitions; joins and leaves rebalance
 * (revoke first, after the in-flight batch and accepted commits settled, then assign).
 */
import { randomUUID } from "node:crypto";
import type { StateBatch } from "../../stores/state-store.js";
import { newDelivery, rangeAssign, startDelivery, stopDelivery, tpKey, Wakeups, type Delivery, type DeliverySource } from "../delivery.js";
import { closedError, fencedError } from "../errors.js";
import type { AppendResult, AssignedPartition, Commit, GroupMember, JoinOptions, LogRecord, Membership } from "../log.js";

export { tpKey } from "../delivery.js";

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

const DEFAULT_MAX_BATCH = 256;

interface LocalMember {
  id: string;
  group: LocalGroup;
  topics: string[];
  impl: GroupMember;
  maxBatch: number;
  owned: Map<string, Delivery>;
  source: DeliverySource;
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
  private readonly wakeups = new Wakeups();
  private closed = false;

  constructor(private readonly backend: LocalBackend) {}

  /** Records of (topic, partition) became visible: wake its delivery loops. */
  notify(topic: string, partition: number): void {
    this.wakeups.notify(topic, partition);
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
      source: {
        wakeups: this.wakeups,
        read: (t, p, from, max) => this.backend.readBatch(t, p, from, max),
        committed: (t, p) => this.backend.committed(group, t, p),
        halted: () => this.closed,
      },
      pending: new Set(),
      active: true,
    };
    g.members.push(m);
    const joined = g;
    await this.rebalance(joined);
    return {
      memberId: m.id,
      assignment: () => [...m.owned.values()].map((d) => ({ ...d.tp })),
      commit: (c, state) => this.commit(m, c, state),
      leave: async () => {
        if (!m.active) return;
        m.active = false;
        joined.members = joined.members.filter((x) => x !== m);
        joined.departed.push(m);
        await this.rebalance(joined);
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
      const ranges = rangeAssign(this.backend.partitionsOf(topic), subs.length);
      subs.forEach((m, i) => {
        for (const p of ranges[i]) out.get(m)?.add(tpKey(topic, p));
      });
    }
    return out;
  }

  private async doRebalance(g: LocalGroup): Promise<void> {
    if (this.closed) return;
    const target = this.target(g);
    const owners = [...g.members, ...g.departed.splice(0)];
    for (const m of owners) {
      const keep = target.get(m) ?? new Set<string>();
      const revoked = [...m.owned.entries()].filter(([k]) => !keep.has(k));
      if (revoked.length === 0) continue;
      await Promise.all(revoked.map(([, d]) => stopDelivery(d)));
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
        const d = newDelivery({ topic, partition }, next);
        m.owned.set(k, d);
        deliveries.push(d);
        added.push({ topic, partition, next });
      }
      if (added.length === 0) continue;
      await m.impl.onAssign(added);
      for (const d of deliveries) if (!d.stopped) startDelivery(d, m.impl, m.maxBatch, m.source);
    }
  }

  /** Stops every delivery loop without calling members back. */
  async close(): Promise<void> {
    this.closed = true;
    const all: Delivery[] = [];
    for (const g of this.groups.values()) for (const m of [...g.members, ...g.departed]) all.push(...m.owned.values());
    await Promise.allSettled(all.map((d) => stopDelivery(d)));
  }
}
