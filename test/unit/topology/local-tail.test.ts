import { describe, expect, it } from "vitest";
import type { LogRecord } from "../../../topology/log.js";
import { LocalTail } from "../../../topology/postgres/local-tail.js";

const rec = (offset: number, partition = 0): LogRecord => ({
  topic: "t", partition, offset: BigInt(offset), key: "k", value: new Uint8Array([offset]), headers: {}, timestamp: 0,
});
const offsets = (rs: LogRecord[] | undefined) => rs?.map((r) => Number(r.offset));

describe("LocalTail (Postgres reads this process can answer)", () => {
  it("knows nothing at first: every read goes to the table", () => {
    const tail = new LocalTail();
    expect(tail.serve("t", 0, 0n, 10)).toBeUndefined();
    tail.committed(rec(0));
    // held records are served, but the end is not known before a read of the table told it
    expect(offsets(tail.serve("t", 0, 0n, 10))).toEqual([0]);
    expect(tail.serve("t", 0, 1n, 10)).toBeUndefined();
  });

  it("serves committed records contiguously from the asked offset, up to max", () => {
    const tail = new LocalTail();
    for (const o of [3, 4, 5, 7]) tail.committed(rec(o));
    expect(offsets(tail.serve("t", 0, 3n, 10))).toEqual([3, 4, 5]);
    expect(offsets(tail.serve("t", 0, 4n, 1))).toEqual([4]);
    expect(offsets(tail.serve("t", 0, 7n, 10))).toEqual([7]);
    expect(tail.serve("t", 0, 6n, 10)).toBeUndefined();
    expect(tail.serve("t", 1, 3n, 10)).toBeUndefined();
  });

  it("answers nothing-yet past the end a short read found, and local commits move that end", () => {
    const tail = new LocalTail();
    const e = tail.readStarts("t", 0);
    tail.read("t", 0, 0n, [rec(0), rec(1)], 10, e);
    expect(tail.serve("t", 0, 2n, 10)).toEqual([]);
    expect(tail.serve("t", 0, 1n, 10)).toBeUndefined();
    tail.committed(rec(2));
    expect(offsets(tail.serve("t", 0, 2n, 10))).toEqual([2]);
    expect(tail.serve("t", 0, 3n, 10)).toEqual([]);
  });

  it("a full read tells nothing about the end", () => {
    const tail = new LocalTail();
    tail.read("t", 0, 0n, [rec(0), rec(1)], 2, tail.readStarts("t", 0));
    expect(tail.serve("t", 0, 2n, 10)).toBeUndefined();
  });

  it("another process's append forgets the end; a later local commit does not re-establish it", () => {
    const tail = new LocalTail();
    tail.read("t", 0, 0n, [], 10, tail.readStarts("t", 0));
    expect(tail.serve("t", 0, 0n, 10)).toEqual([]);
    tail.grew("t", 0);
    expect(tail.serve("t", 0, 0n, 10)).toBeUndefined();
    // the other process's record may sit after ours: only the table can say
    tail.committed(rec(0));
    expect(tail.serve("t", 0, 1n, 10)).toBeUndefined();
  });

  it("a read that overlapped another process's append does not vouch for the end", () => {
    const tail = new LocalTail();
    const e = tail.readStarts("t", 0);
    tail.grew("t", 0);
    tail.read("t", 0, 0n, [rec(0)], 10, e);
    expect(tail.serve("t", 0, 1n, 10)).toBeUndefined();
    tail.read("t", 0, 0n, [rec(0), rec(1)], 10, tail.readStarts("t", 0));
    expect(tail.serve("t", 0, 2n, 10)).toEqual([]);
  });

  it("keeps a bounded number of records per partition, the newest", () => {
    const tail = new LocalTail(4);
    for (let o = 0; o < 20; o++) tail.committed(rec(o));
    expect(tail.serve("t", 0, 0n, 10)).toBeUndefined();
    expect(offsets(tail.serve("t", 0, 16n, 10))).toEqual([16, 17, 18, 19]);
  });

  it("serves no purged record", () => {
    const tail = new LocalTail();
    for (const o of [0, 1]) tail.committed(rec(o));
    tail.purged("t", 0);
    expect(tail.serve("t", 0, 0n, 10)).toBeUndefined();
  });
});
