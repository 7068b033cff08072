/**
 * The Log contract: every backend (memory, embedded, Postgres, later Kafka) must pass it.
 * Each case uses its own randomly named topics and groups, so one storage serves the suite.
 */
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { LannerError } from "../../common/errors.js";
import type { AssignedPartition, GroupMember, Log, LogRecord, TopicPartition } from "../../topology/log.js";
import { partitionForKey, toPositive } from "../../topology/partitioner.js";

export interface LogFactory {
  /** Opens a handle on the suite's storage. */
  open(): Promise<Log>;
  /** Persistent backends: closes `log` and opens the same storage again. */
  reopen?(log: Log): Promise<Log>;
  /** Multi-process backends: kills a handle abruptly (its connections destroyed, no leave). */
  crash?(log: Log): Promise<void>;
  /** Multi-process backends: true when a second handle may be open at the same time. */
  peers?: boolean;
  /** Drops the suite's storage. */
  cleanup?(): Promise<void>;
  /**
   * True when a commit leaves a marker that takes an offset after its records (Kafka's
   * transaction markers): offsets written by commits are then not dense, and the end offset of
   * a partition written by commits lies past its last record. Such backends are checked against
   * the records themselves; dense backends against the end offset as well.
   */
  commitMarkers?: boolean;
  /** What the backend declares as `Log.commitsInOrder` (one ordered writer in the process). */
  commitsInOrder: boolean;
}

/** Bounded waiting for an asynchronous condition (never a timing assertion). */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, Math.min(5 * 2 ** Math.min(i, 6), 100)));
  }
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const uniq = (p: string) => `${p}-${randomUUID().slice(0, 8)}`;
const tpk = (tp: TopicPartition) => `${tp.topic}:${tp.partition}`;

/** The offsets of a partition's records, read whole. */
async function offsetsOf(log: Log, topic: string, partition: number, from = 0n): Promise<bigint[]> {
  const out: bigint[] = [];
  for await (const r of log.readPartition(topic, partition, from)) out.push(r.offset);
  return out;
}

/** A member that records what it is given; `gate` can hold a batch to test backpressure. */
class Recorder implements GroupMember {
  readonly records: LogRecord[] = [];
  readonly batches: LogRecord[][] = [];
  readonly owned = new Map<string, AssignedPartition>();
  readonly revoked: TopicPartition[] = [];
  gate: Promise<void> | undefined;
  handler: ((batch: LogRecord[]) => Promise<void>) | undefined;

  async onAssign(a: AssignedPartition[]): Promise<void> {
    for (const x of a) this.owned.set(tpk(x), x);
  }
  async onRevoke(r: TopicPartition[]): Promise<void> {
    for (const x of r) this.owned.delete(tpk(x));
    this.revoked.push(...r);
  }
  async onRecords(batch: LogRecord[]): Promise<void> {
    this.batches.push(batch);
    this.records.push(...batch);
    if (this.gate !== undefined) await this.gate;
    if (this.handler !== undefined) await this.handler(batch);
  }
  values(): string[] {
    return this.records.map((r) => dec(r.value));
  }
}

/**
 * Watches the members of one group on co-partitioned topics: after every assignment or
 * revocation each member must own partition p of every topic or of none, and a partition it is
 * given must not be owned by another live member.
 */
class PairCheck {
  readonly violations: string[] = [];
  private readonly members = new Map<Recorder, string>();
  private readonly deadOnes = new Set<Recorder>();

  constructor(private readonly topics: string[]) {}

  member(name: string): Recorder {
    const r = new Recorder();
    this.members.set(r, name);
    const assign = r.onAssign.bind(r);
    const revoke = r.onRevoke.bind(r);
    r.onAssign = async (a) => {
      for (const x of a) {
        for (const [other, n] of this.members) {
          if (other !== r && !this.deadOnes.has(other) && other.owned.has(tpk(x))) this.violations.push(`${name} got ${tpk(x)} still owned by ${n}`);
        }
      }
      await assign(a);
      this.paired(r);
    };
    r.onRevoke = async (x) => {
      await revoke(x);
      this.paired(r);
    };
    return r;
  }

  /** A member whose process died: its ownership no longer counts. */
  dead(r: Recorder): void {
    this.deadOnes.add(r);
  }

  total(rs: Recorder[]): number {
    return rs.reduce((n, r) => n + r.owned.size, 0);
  }

  /** Every partition pair is owned by exactly one of `rs`. */
  expectCovered(rs: Recorder[], partitions: number): void {
    for (const t of this.topics) {
      for (let p = 0; p < partitions; p++) {
        const owners = rs.filter((r) => r.owned.has(`${t}:${p}`)).map((r) => this.members.get(r));
        expect(owners, `${t}:${p}`).toHaveLength(1);
      }
    }
  }

  private paired(r: Recorder): void {
    const parts = new Set([...r.owned.values()].map((x) => x.partition));
    for (const p of parts) {
      for (const t of this.topics) if (!r.owned.has(`${t}:${p}`)) this.violations.push(`${this.members.get(r)} owns partition ${p} but not of ${t}`);
    }
  }
}

async function expectCode(p: Promise<unknown>, code: string): Promise<LannerError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(LannerError);
    expect((err as LannerError).code).toBe(code);
    return err as LannerError;
  }
  throw new Error(`expected a rejection with code ${code}`);
}

export function logContract(name: string, factory: LogFactory): void {
  describe(`Log contract: ${name}`, () => {
    const open: Log[] = [];
    const openLog = async () => {
      const l = await factory.open();
      open.push(l);
      return l;
    };
    afterAll(async () => {
      for (const l of open) await l.close().catch(() => undefined);
      await factory.cleanup?.();
    });

    it("ensureTopics is idempotent and refuses a partition-count change", async () => {
      const log = await openLog();
      const t = uniq("topics");
      await log.ensureTopics([{ name: t, partitions: 3 }]);
      await log.ensureTopics([{ name: t, partitions: 3 }]);
      expect(log.partitionsOf(t)).toBe(3);
      await expectCode(log.ensureTopics([{ name: t, partitions: 4 }]), "TOPIC_PARTITIONS_MISMATCH");
      expect(() => log.partitionsOf(uniq("absent"))).toThrow(LannerError);
      await expectCode(log.append([{ topic: uniq("absent"), key: "k", value: enc("v") }]), "UNKNOWN_TOPIC");
      await expectCode(log.ensureTopics([{ name: "bad/name", partitions: 1 }]), "TOPIC_NAME_INVALID");
    });

    it("keyed records land on Kafka's murmur2 partition", async () => {
      const log = await openLog();
      const t = uniq("keyed");
      await log.ensureTopics([{ name: t, partitions: 8 }]);
      // Hashes computed by Kafka's Java Utils.murmur2 (kafkajs's Java-compatible partitioner vectors).
      const javaHashes: Record<string, number> = { "0": 971027396, "1": -1993445489, "128": -326012175, "100:48069": 1009543857 };
      const keys = Object.keys(javaHashes);
      const res = await log.append(keys.map((k) => ({ topic: t, key: k, value: enc(k) })));
      keys.forEach((k, i) => {
        expect(res[i].partition).toBe(toPositive(javaHashes[k]) % 8);
        expect(res[i].partition).toBe(partitionForKey(k, 8));
      });
      const explicit = await log.append([{ topic: t, key: "0", value: enc("x"), partition: 5 }]);
      expect(explicit[0].partition).toBe(5);
      await expectCode(log.append([{ topic: t, key: "0", value: enc("x"), partition: 8 }]), "BAD_PARTITION");
    });

    it("appends keep order with dense offsets per partition; headers and bytes round-trip", async () => {
      const log = await openLog();
      const t = uniq("order");
      await log.ensureTopics([{ name: t, partitions: 2 }]);
      const first = await log.append(Array.from({ length: 5 }, (_, i) => ({ topic: t, key: `k${i}`, value: enc(`a${i}`), partition: 0 })));
      expect(first.map((r) => r.offset)).toEqual([0n, 1n, 2n, 3n, 4n]);
      // Concurrent appends still give dense, distinct offsets.
      const many = await Promise.all(
        Array.from({ length: 10 }, (_, i) => log.append([{ topic: t, key: `c${i}`, value: enc(`c${i}`), partition: 0 }])),
      );
      const offsets = many.map((r) => r[0].offset).sort((a, b) => (a < b ? -1 : 1));
      expect(offsets).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(i + 5)));
      expect(await log.endOffset(t, 0)).toBe(15n);
      expect(await log.endOffset(t, 1)).toBe(0n);

      const bytes = Uint8Array.from([0, 255, 1, 128, 7]);
      await log.append([{ topic: t, key: "h", value: bytes, headers: { type: "Started", "x-ü": "välue" }, partition: 1, timestamp: 1234 }]);
      const read: LogRecord[] = [];
      for await (const r of log.readPartition(t, 1, 0n)) read.push(r);
      expect(read).toHaveLength(1);
      expect(read[0]).toMatchObject({ topic: t, partition: 1, offset: 0n, key: "h", headers: { type: "Started", "x-ü": "välue" }, timestamp: 1234 });
      expect(Array.from(read[0].value)).toEqual(Array.from(bytes));

      const all: LogRecord[] = [];
      for await (const r of log.readPartition(t, 0, 0n)) all.push(r);
      expect(all.map((r) => r.offset)).toEqual(Array.from({ length: 15 }, (_, i) => BigInt(i)));
      expect(all.slice(0, 5).map((r) => dec(r.value))).toEqual(["a0", "a1", "a2", "a3", "a4"]);
    });

    it("readPartition starts at the given offset and ends at the current end", async () => {
      const log = await openLog();
      const t = uniq("read");
      await log.ensureTopics([{ name: t, partitions: 1 }]);
      await log.append(Array.from({ length: 700 }, (_, i) => ({ topic: t, key: "k", value: enc(String(i)) })));
      const got: string[] = [];
      for await (const r of log.readPartition(t, 0, 650n)) got.push(dec(r.value));
      expect(got).toEqual(Array.from({ length: 50 }, (_, i) => String(650 + i)));
      let n = 0;
      for await (const _ of log.readPartition(t, 0, 0n)) n++;
      expect(n).toBe(700);
      for await (const _ of log.readPartition(t, 0, 700n)) throw new Error("nothing expected past the end");
    });

    it("a group's members split the partitions and rebalance on join and leave", async () => {
      const log = await openLog();
      const t = uniq("split");
      const g = uniq("group");
      await log.ensureTopics([{ name: t, partitions: 4 }]);
      const a = new Recorder();
      const ma = await log.join(g, [t], a);
      await waitFor(() => a.owned.size === 4, "first member owns all 4 partitions");
      const b = new Recorder();
      const mb = await log.join(g, [t], b);
      await waitFor(() => a.owned.size === 2 && b.owned.size === 2, "two members own 2 partitions each");
      const union = new Set([...a.owned.keys(), ...b.owned.keys()]);
      expect(union.size).toBe(4);
      expect(ma.assignment()).toHaveLength(2);
      expect(a.revoked).toHaveLength(2);

      // Records flow to the owner of each partition, each exactly once.
      await log.append(Array.from({ length: 40 }, (_, i) => ({ topic: t, key: `key-${i}`, value: enc(String(i)) })));
      await waitFor(() => a.records.length + b.records.length === 40, "40 records delivered");
      for (const r of a.records) expect(a.owned.has(tpk(r))).toBe(true);
      for (const r of b.records) expect(b.owned.has(tpk(r))).toBe(true);

      await mb.leave();
      await waitFor(() => a.owned.size === 4, "the remaining member takes all partitions back");
      expect(b.owned.size).toBe(0);
      await ma.leave();
    });

    it("delivers appended records to a waiting member promptly (woken, not polled)", async () => {
      const log = await openLog();
      const t = uniq("wake");
      await log.ensureTopics([{ name: t, partitions: 2 }]);
      const r = new Recorder();
      const m = await log.join(uniq("g"), [t], r);
      await waitFor(() => r.owned.size === 2, "assignment");
      for (let i = 0; i < 5; i++) {
        let resolve!: () => void;
        const delivered = new Promise<void>((res) => (resolve = res));
        r.handler = async (batch) => {
          if (batch.some((x) => dec(x.value) === `w${i}`)) resolve();
        };
        await log.append([{ topic: t, key: `w${i}`, value: enc(`w${i}`) }]);
        await delivered;
      }
      expect(r.values()).toEqual(["w0", "w1", "w2", "w3", "w4"]);
      await m.leave();
    });

    it("holds the next batch of a partition until the previous one resolved (backpressure)", async () => {
      const log = await openLog();
      const t = uniq("bp");
      await log.ensureTopics([{ name: t, partitions: 1 }]);
      const r = new Recorder();
      let release!: () => void;
      r.gate = new Promise<void>((res) => (release = res));
      const m = await log.join(uniq("g"), [t], r, { maxBatch: 2 });
      await waitFor(() => r.owned.size === 1, "assignment");
      await log.append([{ topic: t, key: "a", value: enc("1") }]);
      await waitFor(() => r.batches.length === 1, "first batch");
      await log.append(Array.from({ length: 5 }, (_, i) => ({ topic: t, key: "a", value: enc(String(i + 2)) })));
      // While the first batch is held, a round trip through the log delivers nothing more.
      await log.endOffset(t, 0);
      await log.append([{ topic: t, key: "a", value: enc("7") }]);
      await log.endOffset(t, 0);
      expect(r.batches).toHaveLength(1);
      r.gate = undefined;
      release();
      await waitFor(() => r.records.length === 7, "the rest after release");
      expect(r.values()).toEqual(["1", "2", "3", "4", "5", "6", "7"]);
      expect(Math.max(...r.batches.map((b) => b.length))).toBeLessThanOrEqual(2);
      await m.leave();
    });

    it("read-ahead members get every record once and in order; other members only records already durable", async () => {
      const log = await openLog();
      expect(log.commitsInOrder).toBe(factory.commitsInOrder);
      const input = uniq("ra-in");
      const output = uniq("ra-out");
      await log.ensureTopics([{ name: input, partitions: 1 }, { name: output, partitions: 1 }]);
      // A processor copies each input record to `output` and commits; its commits are placed
      // without waiting where the log writes them in order, as the executor and workers do.
      const processor = new Recorder();
      const pm = await log.join(uniq("g"), [input], processor, { readAhead: true });
      processor.handler = async (batch) => {
        const last = batch[batch.length - 1];
        const placed = pm.commit({
          produce: batch.map((x) => ({ topic: output, key: x.key, value: x.value })),
          offsets: [{ topic: input, partition: 0, next: last.offset + 1n }],
        });
        if (log.commitsInOrder) placed.catch(() => undefined);
        else await placed;
      };
      const ahead = new Recorder();
      const reader = new Recorder();
      const am = await log.join(uniq("g"), [output], ahead, { readAhead: true });
      // `endOffset` is the end of what is durable: a plain member is never handed a record past it.
      const seenBeforeDurable: string[] = [];
      reader.handler = async (batch) => {
        const end = await log.endOffset(output, 0);
        for (const x of batch) if (x.offset >= end) seenBeforeDurable.push(dec(x.value));
      };
      const rm = await log.join(uniq("g"), [output], reader);
      await waitFor(() => processor.owned.size === 1 && ahead.owned.size === 1 && reader.owned.size === 1, "assignments");
      const values = Array.from({ length: 40 }, (_, i) => `r${i}`);
      for (const v of values) await log.append([{ topic: input, key: "k", value: enc(v) }]);
      await waitFor(() => ahead.records.length >= 40 && reader.records.length >= 40, "every record copied and read");
      expect(ahead.values()).toEqual(values);
      expect(reader.values()).toEqual(values);
      expect(seenBeforeDurable).toEqual([]);
      await Promise.all([pm.leave(), am.leave(), rm.leave()]);
    });

    it("commits placed without waiting land in the order they were placed where commitsInOrder holds", async () => {
      const log = await openLog();
      expect(log.commitsInOrder).toBe(factory.commitsInOrder);
      const input = uniq("ord-in");
      const output = uniq("ord-out");
      const g = uniq("g");
      await log.ensureTopics([{ name: input, partitions: 1 }, { name: output, partitions: 1 }]);
      const r = new Recorder();
      const m = await log.join(g, [input], r);
      await waitFor(() => r.owned.size === 1, "assignment");
      await log.append(Array.from({ length: 30 }, (_, i) => ({ topic: input, key: "k", value: enc(`i${i}`) })));
      await waitFor(() => r.records.length === 30, "30 inputs");
      // One commit per input: placed back to back where the log promises their order, one after
      // the other elsewhere; either way they land in that order.
      const commitOf = (x: LogRecord) => m.commit({ produce: [{ topic: output, key: "k", value: x.value }], offsets: [{ topic: input, partition: 0, next: x.offset + 1n }] });
      const results = [];
      if (log.commitsInOrder) results.push(...(await Promise.all(r.records.map(commitOf))));
      else for (const x of r.records) results.push(await commitOf(x));
      const out: string[] = [];
      for await (const x of log.readPartition(output, 0, 0n)) out.push(dec(x.value));
      expect(out).toEqual(r.values());
      const offsets = results.map((x) => x[0].offset);
      expect(offsets).toEqual([...offsets].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      expect(await log.committed(g, input, 0)).toBe(30n);
      await m.leave();
    });

    it("commits produce, offsets and state atomically, and resumes from committed offsets", async () => {
      const log = await openLog();
      const input = uniq("in");
      const output = uniq("out");
      const g = uniq("g");
      await log.ensureTopics([
        { name: input, partitions: 2 },
        { name: output, partitions: 2 },
      ]);
      const r = new Recorder();
      const membership = await log.join(g, [input], r);
      r.handler = async (batch) => {
        const last = batch[batch.length - 1];
        await membership.commit(
          {
            produce: batch.map((x) => ({ topic: output, key: x.key, value: x.value, headers: { from: String(x.offset) } })),
            offsets: [{ topic: input, partition: last.partition, next: last.offset + 1n }],
          },
          { store: "counts", partition: last.partition, puts: batch.map((x) => [x.key, x.value]), deletes: [], changelogTopic: output },
        );
      };
      await waitFor(() => r.owned.size === 2, "assignment");
      await log.append(Array.from({ length: 20 }, (_, i) => ({ topic: input, key: `k${i}`, value: enc(`v${i}`) })));
      await waitFor(
        async () => (await offsetsOf(log, output, 0)).length + (await offsetsOf(log, output, 1)).length === 20,
        "20 records produced",
      );
      for (const p of [0, 1]) {
        expect(await log.committed(g, input, p)).toBe(await log.endOffset(input, p));
        const store = log.stateStore("counts", p);
        // the checkpoint is the offset after the last record of the changelog partition
        const written = await offsetsOf(log, output, p);
        expect(await store.checkpoint()).toBe(written.length === 0 ? 0n : written[written.length - 1] + 1n);
        if (factory.commitMarkers !== true) expect(await store.checkpoint()).toBe(await log.endOffset(output, p));
      }
      const k3 = partitionForKey("k3", 2);
      expect(dec((await log.stateStore("counts", k3).get("k3")) ?? enc("missing"))).toBe("v3");
      await membership.leave();

      // A new member of the same group starts after the committed offsets: nothing is redelivered.
      const r2 = new Recorder();
      const m2 = await log.join(g, [input], r2);
      await waitFor(() => r2.owned.size === 2, "reassignment");
      expect([...r2.owned.values()].map((a) => a.next).reduce((x, y) => x + y)).toBe(20n);
      await log.append([{ topic: input, key: "late", value: enc("late") }]);
      await waitFor(() => r2.records.length === 1, "only the new record");
      expect(r2.values()).toEqual(["late"]);
      await m2.leave();
    });

    it("fences a member that lost a partition: its commit changes nothing", async () => {
      const log = await openLog();
      const input = uniq("in");
      const output = uniq("out");
      const g = uniq("g");
      await log.ensureTopics([
        { name: input, partitions: 2 },
        { name: output, partitions: 1 },
      ]);
      const a = new Recorder();
      const ma = await log.join(g, [input], a);
      await waitFor(() => a.owned.size === 2, "a owns both");
      const b = new Recorder();
      const mb = await log.join(g, [input], b);
      await waitFor(() => a.owned.size === 1 && b.owned.size === 1, "split");
      const lost = [...b.owned.values()][0];
      const kept = [...a.owned.values()][0];
      const before = await log.endOffset(output, 0);
      const err = await expectCode(
        ma.commit(
          { produce: [{ topic: output, key: "zombie", value: enc("z") }], offsets: [{ topic: input, partition: lost.partition, next: 7n }] },
          { store: "fenced", partition: lost.partition, puts: [["x", enc("1")]], deletes: [], offset: 9n },
        ),
        "FENCED",
      );
      expect(err.retriable).toBe(true);
      await expectCode(ma.commit({ produce: [{ topic: output, key: "zombie", value: enc("z") }], offsets: [], fence: [{ topic: input, partition: lost.partition }] }), "FENCED");
      expect(await log.endOffset(output, 0)).toBe(before);
      expect(await log.committed(g, input, lost.partition)).toBe(0n);
      expect(await log.stateStore("fenced", lost.partition).get("x")).toBeUndefined();
      expect(await log.stateStore("fenced", lost.partition).checkpoint()).toBeUndefined();

      // A commit that fails validation (unknown partition) also leaves nothing behind.
      await expectCode(
        ma.commit({ produce: [{ topic: output, key: "ok", value: enc("ok") }, { topic: output, key: "bad", value: enc("b"), partition: 3 }], offsets: [{ topic: input, partition: kept.partition, next: 1n }] }),
        "BAD_PARTITION",
      );
      expect(await log.endOffset(output, 0)).toBe(before);
      expect(await log.committed(g, input, kept.partition)).toBe(0n);

      // The owner commits fine; after leaving, a commit is fenced.
      await ma.commit({ produce: [{ topic: output, key: "ok", value: enc("ok") }], offsets: [{ topic: input, partition: kept.partition, next: 0n }] });
      const okOffsets = await offsetsOf(log, output, 0, before);
      expect(okOffsets).toEqual([before]);
      if (factory.commitMarkers !== true) expect(await log.endOffset(output, 0)).toBe(before + 1n);
      else expect(await log.endOffset(output, 0)).toBeGreaterThan(before);
      await ma.leave();
      await expectCode(ma.commit({ produce: [], offsets: [{ topic: input, partition: kept.partition, next: 0n }] }), "FENCED");
      await mb.leave();
    });

    it("purge drops old records already committed by every reading group, never uncommitted ones", async () => {
      const log = await openLog();
      const t = uniq("ret");
      const keep = uniq("keep");
      await log.ensureTopics([
        { name: t, partitions: 1, retentionMs: 1_000 },
        { name: keep, partitions: 1 },
      ]);
      const g1 = uniq("g1");
      const g2 = uniq("g2");
      const r1 = new Recorder();
      const r2 = new Recorder();
      const m1 = await log.join(g1, [t], r1);
      const m2 = await log.join(g2, [t], r2);
      await waitFor(() => r1.owned.size === 1 && r2.owned.size === 1, "assignments");
      await log.append(Array.from({ length: 10 }, (_, i) => ({ topic: t, key: "k", value: enc(String(i)), timestamp: 1_000 + i })));
      await log.append([{ topic: keep, key: "k", value: enc("old"), timestamp: 1 }]);
      await m1.commit({ produce: [], offsets: [{ topic: t, partition: 0, next: 8n }] });
      await m2.commit({ produce: [], offsets: [{ topic: t, partition: 0, next: 4n }] });
      // Old enough for all of them; only offsets < 4 are committed by both groups.
      expect(await log.purge(1_000_000)).toBe(4);
      const left: bigint[] = [];
      for await (const r of log.readPartition(t, 0, 0n)) left.push(r.offset);
      expect(left).toEqual([4n, 5n, 6n, 7n, 8n, 9n]);
      expect(await log.endOffset(t, 0)).toBe(10n);
      // Committed but not old enough: kept.
      await m2.commit({ produce: [], offsets: [{ topic: t, partition: 0, next: 10n }] });
      expect(await log.purge(1_000 + 6 + 1_000)).toBe(2);
      const left2: bigint[] = [];
      for await (const r of log.readPartition(t, 0, 0n)) left2.push(r.offset);
      expect(left2).toEqual([6n, 7n, 8n, 9n]);
      // A topic without retention is never purged.
      let kept = 0;
      for await (const _ of log.readPartition(keep, 0, 0n)) kept++;
      expect(kept).toBe(1);
      // Appends continue after the purged offsets.
      expect((await log.append([{ topic: t, key: "k", value: enc("10") }]))[0].offset).toBe(10n);
      await m1.leave();
      await m2.leave();
    });

    it("a group's topics are co-partitioned: members own matching partitions of every topic through joins and leaves", async () => {
      const log = await openLog();
      const commands = uniq("cmd");
      const results = uniq("res");
      const other = uniq("other");
      const g = uniq("g");
      await log.ensureTopics([
        { name: commands, partitions: 6 },
        { name: results, partitions: 6 },
        { name: other, partitions: 3 },
      ]);
      const check = new PairCheck([commands, results]);
      const a = check.member("a");
      const ma = await log.join(g, [commands, results], a);
      await waitFor(() => a.owned.size === 12, "a owns every partition of both topics");
      const b = check.member("b");
      const mb = await log.join(g, [commands, results], b);
      await waitFor(() => a.owned.size === 6 && b.owned.size === 6, "a and b own 3 partition pairs each");
      const c = check.member("c");
      const mc = await log.join(g, [commands, results], c);
      await waitFor(() => a.owned.size === 4 && b.owned.size === 4 && c.owned.size === 4, "three members own 2 pairs each");
      check.expectCovered([a, b, c], 6);
      await mb.leave();
      await waitFor(() => a.owned.size === 6 && c.owned.size === 6 && b.owned.size === 0, "b's pairs move to a and c");
      check.expectCovered([a, c], 6);
      expect(check.violations).toEqual([]);

      // A topic with another partition count cannot join the group, alone or next to the others.
      await expectCode(log.join(g, [other], new Recorder()), "GROUP_PARTITIONS_MISMATCH");
      await expectCode(log.join(uniq("g"), [commands, other], new Recorder()), "GROUP_PARTITIONS_MISMATCH");
      await ma.leave();
      await mc.leave();
      expect(check.violations).toEqual([]);
    });

    it("purge does not wait for expired groups nor for ephemeral ones; an ephemeral group's offsets go when it leaves", async () => {
      const log = await openLog();
      const t = uniq("exp");
      await log.ensureTopics([{ name: t, partitions: 1, retentionMs: 1_000 }]);
      await log.append(Array.from({ length: 10 }, (_, i) => ({ topic: t, key: "k", value: enc(String(i)), timestamp: 1_000 + i })));
      // Other cases' topics may share the storage: count what is left of this one.
      const first = async () => {
        for await (const r of log.readPartition(t, 0, 0n)) return r.offset;
        return await log.endOffset(t, 0);
      };
      const gone = uniq("gone");
      const live = uniq("live");
      const eph = uniq("eph");
      const rg = new Recorder();
      const mg = await log.join(gone, [t], rg);
      const rl = new Recorder();
      const ml = await log.join(live, [t], rl);
      const re = new Recorder();
      const me = await log.join(eph, [t], re, { ephemeral: true });
      await waitFor(() => rg.owned.size === 1 && rl.owned.size === 1 && re.owned.size === 1, "assignments");
      await mg.commit({ produce: [], offsets: [{ topic: t, partition: 0, next: 3n }] });
      await ml.commit({ produce: [], offsets: [{ topic: t, partition: 0, next: 5n }] });
      // The group that will never come back leaves; it still holds purging back for now.
      await mg.leave();
      // The ephemeral group committed nothing and does not count.
      await log.purge();
      expect(await first()).toBe(3n);
      expect(await log.committed(gone, t, 0)).toBe(3n);

      // Two days later the departed group has expired; the live group has not, however old its commit.
      const later = Date.now() + 2 * 24 * 3600_000;
      await log.purge(later);
      expect(await first()).toBe(5n);
      expect(await log.committed(gone, t, 0)).toBe(0n);
      expect(await log.committed(live, t, 0)).toBe(5n);

      await me.commit({ produce: [], offsets: [{ topic: t, partition: 0, next: 7n }] });
      expect(await log.committed(eph, t, 0)).toBe(7n);
      await me.leave();
      expect(await log.committed(eph, t, 0)).toBe(0n);
      // Still nothing uncommitted by the live group is dropped.
      await log.purge(later);
      expect(await first()).toBe(5n);
      await ml.commit({ produce: [], offsets: [{ topic: t, partition: 0, next: 10n }] });
      await log.purge(later);
      expect(await first()).toBe(10n);
      expect(await log.endOffset(t, 0)).toBe(10n);
      await ml.leave();
    });

    it("state stores commit with the log and see every resolved write", async () => {
      const log = await openLog();
      const s = log.stateStore(uniq("store"), 3);
      expect(log.stateStore(s.name, 3)).toBe(s);
      await s.write({ store: s.name, partition: 3, puts: [["a", enc("1")], ["b", enc("2")]], deletes: [], offset: 5n });
      await s.write({ store: s.name, partition: 3, puts: [["c", enc("3")]], deletes: ["a"] });
      expect(await s.checkpoint()).toBe(5n);
      const entries: string[] = [];
      for await (const [k, v] of s.entries()) entries.push(`${k}=${dec(v)}`);
      expect(entries).toEqual(["b=2", "c=3"]);
    });

    if (factory.reopen !== undefined) {
      const reopen = factory.reopen.bind(factory);
      it("keeps records, topics, committed offsets and state across a reopen", async () => {
        let log = await openLog();
        const t = uniq("durable");
        const g = uniq("g");
        await log.ensureTopics([{ name: t, partitions: 2 }]);
        await log.append(Array.from({ length: 6 }, (_, i) => ({ topic: t, key: `k${i}`, value: enc(String(i)) })));
        const r = new Recorder();
        const m = await log.join(g, [t], r);
        await waitFor(() => r.owned.size === 2, "assignment");
        await m.commit({ produce: [], offsets: [{ topic: t, partition: 0, next: 1n }] }, { store: "s", partition: 0, puts: [["k", enc("v")]], deletes: [], offset: 1n });
        await m.leave();
        const end0 = await log.endOffset(t, 0);
        log = await reopen(log);
        open.push(log);
        expect(log.partitionsOf(t)).toBe(2);
        expect(await log.endOffset(t, 0)).toBe(end0);
        expect(await log.committed(g, t, 0)).toBe(1n);
        expect(dec((await log.stateStore("s", 0).get("k")) ?? enc("?"))).toBe("v");
        expect(await log.stateStore("s", 0).checkpoint()).toBe(1n);
        const res = await log.append([{ topic: t, key: "x", value: enc("x"), partition: 0 }]);
        expect(res[0].offset).toBe(end0);
      });
    }

    if (factory.peers === true && factory.crash !== undefined) {
      const crash = factory.crash.bind(factory);
      it("two processes split partitions; one takes over when the other dies", async () => {
        const p1 = await openLog();
        const p2 = await openLog();
        const t = uniq("lease");
        const g = uniq("g");
        await p1.ensureTopics([{ name: t, partitions: 4 }]);
        await p2.ensureTopics([{ name: t, partitions: 4 }]);
        const a = new Recorder();
        const b = new Recorder();
        const ma = await p1.join(g, [t], a);
        a.handler = async (batch) => {
          const last = batch[batch.length - 1];
          await ma.commit({ produce: [], offsets: [{ topic: t, partition: last.partition, next: last.offset + 1n }] });
        };
        await waitFor(() => a.owned.size === 4, "first process owns all");
        const mb = await p2.join(g, [t], b);
        b.handler = async (batch) => {
          const last = batch[batch.length - 1];
          await mb.commit({ produce: [], offsets: [{ topic: t, partition: last.partition, next: last.offset + 1n }] });
        };
        await waitFor(() => a.owned.size === 2 && b.owned.size === 2, "the processes split the partitions");
        await p1.append(Array.from({ length: 20 }, (_, i) => ({ topic: t, key: `k${i}`, value: enc(String(i)) })));
        await waitFor(() => a.records.length + b.records.length === 20, "all delivered once");
        // A record is handed over before its commit: wait for the commits, then kill.
        await waitFor(async () => {
          for (let p = 0; p < 4; p++) if ((await p2.committed(g, t, p)) !== (await p2.endOffset(t, p))) return false;
          return true;
        }, "every delivered record committed");
        const aOwned = [...a.owned.values()];
        await crash(p1);
        await waitFor(() => b.owned.size === 4, "the survivor takes over the dead one's partitions");
        // The survivor resumes the dead one's partitions from their committed offsets.
        for (const x of aOwned) expect(b.owned.get(tpk(x))?.next).toBe(await p2.endOffset(t, x.partition));
        await p2.append([{ topic: t, key: "after", value: enc("after") }]);
        await waitFor(() => b.values().includes("after"), "delivery after takeover");
        // The dead one cannot commit any more (fenced, or its connection is gone): nothing changes.
        const before = await p2.committed(g, t, aOwned[0].partition);
        await expect(ma.commit({ produce: [], offsets: [{ topic: t, partition: aOwned[0].partition, next: 0n }] })).rejects.toBeInstanceOf(LannerError);
        expect(await p2.committed(g, t, aOwned[0].partition)).toBe(before);
        await mb.leave();
      }, 60_000);

      it("co-partitioned pairs stay together when a process dies and its partitions are taken over", async () => {
        const p1 = await openLog();
        const p2 = await openLog();
        const commands = uniq("cmd");
        const results = uniq("res");
        const g = uniq("g");
        for (const p of [p1, p2]) await p.ensureTopics([{ name: commands, partitions: 4 }, { name: results, partitions: 4 }]);
        const check = new PairCheck([commands, results]);
        const a = check.member("a");
        const b = check.member("b");
        const c = check.member("c");
        const ma = await p1.join(g, [commands, results], a);
        const mb = await p2.join(g, [commands, results], b);
        const mc = await p2.join(g, [commands, results], c);
        await waitFor(() => check.total([a, b, c]) === 8 && a.owned.size > 0 && b.owned.size > 0 && c.owned.size > 0, "three members share the 4 pairs");
        check.expectCovered([a, b, c], 4);
        // a's process dies: its recorder keeps what it owned (nobody tells a dead process).
        check.dead(a);
        await crash(p1);
        await waitFor(() => b.owned.size + c.owned.size === 8, "b and c take over a's pairs");
        check.expectCovered([b, c], 4);
        expect(check.violations).toEqual([]);
        await mb.leave();
        await waitFor(() => c.owned.size === 8, "c owns every pair");
        expect(check.violations).toEqual([]);
        await mc.leave();
        await ma.leave().catch(() => undefined);
      }, 60_000);
    }
  });
}
