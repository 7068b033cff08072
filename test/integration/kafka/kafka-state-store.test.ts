/**
 * State stores on Kafka move with their partition: the store is written inside each commit's
 * transaction to its changelog topic, so a process that gains the partition — with its own,
 * empty local copy — reads exactly what the previous owner committed, and nothing it aborted.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AssignedPartition, GroupMember, LogRecord, TopicPartition } from "../../../topology/log.js";
import { KafkaLog } from "../../../topology/kafka/kafka-log.js";
import { ensureKafka, randomPrefix } from "../../harness/kafka.js";
import { waitFor } from "../../contracts/log.contract.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

class Owner implements GroupMember {
  readonly owned = new Map<number, AssignedPartition>();
  handler: ((batch: LogRecord[]) => Promise<void>) | undefined;
  async onAssign(a: AssignedPartition[]): Promise<void> {
    for (const x of a) this.owned.set(x.partition, x);
  }
  async onRevoke(r: TopicPartition[]): Promise<void> {
    for (const x of r) this.owned.delete(x.partition);
  }
  async onRecords(batch: LogRecord[]): Promise<void> {
    await this.handler?.(batch);
  }
}

describe("Kafka state stores", () => {
  const dirs: string[] = [];
  const logs: KafkaLog[] = [];
  let brokers = "";
  const prefix = randomPrefix("store");
  const open = async () => {
    const dir = mkdtempSync(join(tmpdir(), "lanner-kstore-"));
    dirs.push(dir);
    const log = await KafkaLog.open({ brokers: [brokers], topicPrefix: prefix, dataDir: dir, sessionTimeoutMs: 3_000, heartbeatIntervalMs: 300 });
    logs.push(log);
    return log;
  };

  beforeAll(async () => {
    brokers = await ensureKafka();
  }, 600_000);
  afterAll(async () => {
    for (const l of logs) await l.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("a process that gains a partition restores the store its previous owner committed, checkpoint included", async () => {
    const a = await open();
    await a.ensureTopics([{ name: "in", partitions: 2 }, { name: "events", partitions: 2 }]);
    const oa = new Owner();
    const ma = await a.join("proc", ["in"], oa);
    oa.handler = async (batch) => {
      const last = batch[batch.length - 1];
      await ma.commit(
        { produce: batch.map((r) => ({ topic: "events", key: r.key, value: r.value, partition: r.partition })), offsets: [{ topic: "in", partition: last.partition, next: last.offset + 1n }] },
        { store: "counts", partition: last.partition, puts: batch.map((r) => [r.key, r.value]), deletes: ["gone"], changelogTopic: "events" },
      );
    };
    await waitFor(() => oa.owned.size === 2, "a owns both partitions");
    await a.append([
      { topic: "in", key: "x", value: enc("1"), partition: 0 },
      { topic: "in", key: "y", value: enc("2"), partition: 0 },
      { topic: "in", key: "z", value: enc("3"), partition: 1 },
    ]);
    await waitFor(async () => (await a.committed("proc", "in", 0)) === 2n && (await a.committed("proc", "in", 1)) === 1n, "a committed both partitions");
    const events0: bigint[] = [];
    for await (const r of a.readPartition("events", 0, 0n)) events0.push(r.offset);
    await ma.leave();

    // Another process, another (empty) local copy: the store comes from the changelog.
    const b = await open();
    await b.ensureTopics([{ name: "in", partitions: 2 }, { name: "events", partitions: 2 }]);
    const ob = new Owner();
    const mb = await b.join("proc", ["in"], ob);
    await waitFor(() => ob.owned.size === 2, "b owns both partitions");
    expect(ob.owned.get(0)?.next).toBe(2n);
    const s0 = b.stateStore("counts", 0);
    expect(dec(await s0.get("x"))).toBe("1");
    expect(dec(await s0.get("y"))).toBe("2");
    expect(await s0.get("z")).toBeUndefined();
    expect(await s0.checkpoint()).toBe(events0[events0.length - 1] + 1n);
    expect(dec(await b.stateStore("counts", 1).get("z"))).toBe("3");
    const entries: string[] = [];
    for await (const [k, v] of s0.entries()) entries.push(`${k}=${dec(v)}`);
    expect(entries).toEqual(["x=1", "y=2"]);
    await mb.leave();
  });

  it("a rejected commit leaves neither records, offsets nor state behind; the next one writes all three", async () => {
    const a = await open();
    await a.ensureTopics([{ name: "in2", partitions: 1 }, { name: "out2", partitions: 1 }]);
    const oa = new Owner();
    const ma = await a.join("proc2", ["in2"], oa);
    await waitFor(() => oa.owned.size === 1, "assignment");
    // a state batch no store can hold: the whole unit is refused, its records included
    await expect(
      ma.commit({ produce: [{ topic: "out2", key: "k", value: enc("v") }], offsets: [{ topic: "in2", partition: 0, next: 1n }] }, { store: "bad/name", partition: 0, puts: [["k", enc("v")]], deletes: [] }),
    ).rejects.toMatchObject({ code: "STATE_STORE_NAME_INVALID" });
    let n = 0;
    for await (const _ of a.readPartition("out2", 0, 0n)) n++;
    expect(n).toBe(0);
    expect(await a.committed("proc2", "in2", 0)).toBe(0n);
    await ma.commit({ produce: [{ topic: "out2", key: "k", value: enc("v") }], offsets: [{ topic: "in2", partition: 0, next: 1n }] }, { store: "ok", partition: 0, puts: [["k", enc("v")]], deletes: [] });
    for await (const _ of a.readPartition("out2", 0, 0n)) n++;
    expect(n).toBe(1);
    expect(dec(await a.stateStore("ok", 0).get("k"))).toBe("v");
    await ma.leave();
  });
});
