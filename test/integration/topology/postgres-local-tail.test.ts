/**
 * The Postgres log answers a local consumer from what this process committed and from the end it
 * knows, without asking the table: records appended by ANOTHER process must still reach it, in
 * offset order and without gaps, however the two processes' appends interleave.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GroupMember, LogRecord, Membership } from "../../../topology/log.js";
import { PostgresLog } from "../../../topology/postgres/postgres-log.js";
import { waitFor } from "../../contracts/log.contract.js";
import { createTestSchema, type TestSchema } from "../../harness/postgres.js";

let s: TestSchema;
const logs: PostgresLog[] = [];
beforeAll(async () => {
  s = await createTestSchema("tail");
});
afterAll(async () => {
  for (const l of logs.splice(0)) await l.close();
  await s.drop();
});

async function open(): Promise<PostgresLog> {
  const log = await PostgresLog.open({ url: s.url, schema: s.schema, poolSize: 3 });
  logs.push(log);
  return log;
}

/** A member that keeps every delivered record (one partition) and commits as it goes. */
class Collector implements GroupMember {
  readonly seen: LogRecord[] = [];
  m: Membership | undefined;
  async onAssign(): Promise<void> {}
  async onRevoke(): Promise<void> {}
  async onRecords(batch: LogRecord[]): Promise<void> {
    this.seen.push(...batch);
    const last = batch[batch.length - 1];
    await this.m?.commit({ produce: [], offsets: [{ topic: last.topic, partition: last.partition, next: last.offset + 1n }] });
  }
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (v: Uint8Array) => new TextDecoder().decode(v);

describe("Postgres log: local tail", () => {
  it("delivers every record of a partition in order, whichever of two processes appended it", async () => {
    const a = await open();
    const b = await open();
    await a.ensureTopics([{ name: "mixed", partitions: 1 }]);
    await b.ensureTopics([{ name: "mixed", partitions: 1 }]);
    const c = new Collector();
    c.m = await a.join("readers", ["mixed"], c);
    await waitFor(() => c.m?.assignment().length === 1, "the partition is assigned");

    const expected: string[] = [];
    // sequential interleavings, each waited for: the consumer is at the end each time
    for (let i = 0; i < 12; i++) {
      const by = i % 3 === 0 ? b : a;
      const v = `${by === a ? "a" : "b"}${i}`;
      expected.push(v);
      await by.append([{ topic: "mixed", key: "k", value: enc(v) }]);
      await waitFor(() => c.seen.length === expected.length, `record ${v} delivered`);
    }
    // concurrent appends from both processes
    const burst = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).append([{ topic: "mixed", key: "k", value: enc(`c${i}`) }]));
    await Promise.all(burst);
    await waitFor(() => c.seen.length === expected.length + 20, "the burst delivered");

    expect(c.seen.map((r) => Number(r.offset))).toEqual(Array.from({ length: expected.length + 20 }, (_, i) => i));
    expect(c.seen.slice(0, expected.length).map((r) => dec(r.value))).toEqual(expected);
    expect(new Set(c.seen.slice(expected.length).map((r) => dec(r.value))).size).toBe(20);
    // what a local consumer was served is what the table holds
    const stored: string[] = [];
    for await (const r of b.readPartition("mixed", 0, 0n)) stored.push(dec(r.value));
    expect(c.seen.map((r) => dec(r.value))).toEqual(stored);
    await c.m.leave();
  });
});
