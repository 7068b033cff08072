/**
 * Consumer groups for the in-process backends (memory, embedded): every member of a group in
 * this process gets a range of the group's partition numbers, and owns partition p of every
 * topic it reads (the topics of a group are co-partitioned, as on Postgres and like Kafka's range
 * assignor); joins and leaves rebalance (revoke first, after the in-flight batch and accepted
 * commits settled, then assign). It also remembers when each group was last active, for expiry.
 */
import { randomUUID } from "node:crypto";
import type { StateBatch } from "../../stores/state-store.js";
import { newDelivery, rangeAssign, startDelivery, stopDelivery, tpKey, Wakeups, type Delivery, type DeliverySource } from "../delivery.js";
import { closedError, fencedError, groupPartitionsMismatchError } from "../errors.js";
import type { AppendResult, AssignedPartition, Commit, GroupMember, JoinOptions, LogRecord, Membership } from "../log.js";

export { tpKey } from "../delivery.js";

/** What a local backend gives the group coordinator. */
export interface LocalBackend {
  readonly backend: string;
  /** Partition count of a known topic; throws `UNKNOWN_TOPIC` otherwise. */
  partitionsOf(topic: string): number;
  /**
   * Up to `max` records of the partition from `from` (inclusive), in offset order: durable ones,
   * or with `ahead` also those accepted by the writer and not yet durable.
   */
  readBatch(topic: string, partition: number, from: bigint, max: number, ahead?: boolean): Promise<LogRecord[]>;
  /** The group's committed next offset (0 when none). */
  committed(group: string, topic: string, partition: number): Promise<bigint>;
  /**
   * Records that `group` reads `topics`: retention must wait for it — unless `ephemeral`, then it
   * must not (and a durable subscription of the group is dropped).
   */
  subscribe(group: string, topics: string[], ephemeral: boolean): Promise<void>;
  /** Deletes the group's committed offsets and subscriptions (an ephemeral group's last member left). */
  forgetGroup(group: string): Promise<void>;
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
  /** Set by the latest join: the group's offsets go when its last member leaves. */
  ephemeral: boolean;
}

export class LocalGroups {
  private readonly groups = new Map<string, LocalGroup>();
  private readonly wakeups = new Wakeups();
  /** Epoch ms of each group's last join, commit or leave in this process. */
  private readonly lastActive = new Map<string, number>();
  private readonly since = Date.now();
  private closed = false;

  constructor(private readonly backend: LocalBackend) {}

  /**
   * Of `groups`, those with no member here and no join, commit or leave since `before` (epoch
   * ms). A group not seen since this process started counts as active at the start: it expires
   * no earlier than it should.
   */
  idle(groups: Iterable<string>, before: number): string[] {
    const out: string[] = [];
    for (const g of new Set(groups)) {
      if ((this.groups.get(g)?.members.length ?? 0) > 0) continue;
      if ((this.lastActive.get(g) ?? this.since) < before) out.push(g);
    }
    return out;
  }

  /** Forgets the activity of a group whose offsets were deleted. */
  forget(group: string): void {
    this.lastActive.delete(group);
  }

  /** Records of (topic, partition) became visible: wake its delivery loops. */
  notify(topic: string, partition: number): void {
    this.wakeups.notify(topic, partition);
  }

  async join(group: string, topics: string[], impl: GroupMember, options: JoinOptions = {}): Promise<Membership> {
    if (this.closed) throw closedError(this.backend.backend);
    const counts: Record<string, number> = {};
    for (const t of topics) counts[t] = this.backend.partitionsOf(t);
    for (const m of this.groups.get(group)?.members ?? []) for (const t of m.topics) counts[t] ??= this.backend.partitionsOf(t);
    if (new Set(Object.values(counts)).size > 1) throw groupPartitionsMismatchError(group, counts);
    const ephemeral = options.ephemeral === true;
    await this.backend.subscribe(group, topics, ephemeral);
    let g = this.groups.get(group);
    if (g === undefined) {
      g = { name: group, members: [], departed: [], chain: Promise.resolve(), ephemeral };
      this.groups.set(group, g);
    }
    g.ephemeral = ephemeral;
    this.lastActive.set(group, Date.now());
    const m: LocalMember = {
      id: options.memberId ?? randomUUID(),
      group: g,
      topics: [...new Set(topics)],
      impl,
      maxBatch: options.maxBatch ?? DEFAULT_MAX_BATCH,
      owned: new Map(),
      source: {
        wakeups: this.wakeups,
        read: (t, p, from, max) => this.backend.readBatch(t, p, from, max, options.readAhead === true),
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
        this.lastActive.set(joined.name, Date.now());
        await this.rebalance(joined);
        if (joined.ephemeral && joined.members.length === 0) {
          // Its commits settled in the rebalance: nothing can re-create the offsets after this.
          await this.backend.forgetGroup(joined.name);
          this.lastActive.delete(joined.name);
        }
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
    this.lastActive.set(m.group.name, Date.now());
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

  /**
   * Range assignment of the group's partition numbers among its members in join order; a member
   * gets partition p of each topic it reads, so co-partitioned topics stay together.
   */
  private target(g: LocalGroup): Map<LocalMember, Set<string>> {
    const out = new Map<LocalMember, Set<string>>();
    const first = g.members.find((m) => m.topics.length > 0)?.topics[0];
    const ranges = rangeAssign(first === undefined ? 0 : this.backend.partitionsOf(first), g.members.length);
    g.members.forEach((m, i) => {
      const keys = new Set<string>();
      for (const p of ranges[i]) for (const topic of m.topics) keys.add(tpKey(topic, p));
      out.set(m, keys);
    });
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
