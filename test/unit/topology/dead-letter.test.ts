import { describe, expect, it } from "vitest";
import { decode, encode, type Envelope } from "../../../schemas/avro/envelope-codec.js";
import { DEAD_LETTER_HEADERS, decodeOrDeadLetter } from "../../../topology/dead-letter.js";
import type { LogRecord } from "../../../topology/log.js";
import { MemoryLog } from "../../../topology/memory/memory-log.js";
import { topicCatalogue } from "../../../topology/topics.js";

describe("dead letters", () => {
  it("a processor sends undecodable records to dead-letters with the reason and source, and keeps going", async () => {
    const log = new MemoryLog();
    const topics = topicCatalogue({ executionPartitions: 1 });
    await log.ensureTopics(topics.specs());
    const commands = topics.name("execution-commands");
    const handled: Envelope[] = [];
    let done = 0;
    const membership = await log.join("executor", [commands], {
      onAssign: async () => undefined,
      onRevoke: async () => undefined,
      onRecords: async (batch: LogRecord[]) => {
        for (const r of batch) {
          const d = decodeOrDeadLetter(r, (b) => decode(b).value, topics.name("dead-letters"));
          if (d.ok) handled.push(d.value);
          await membership.commit({
            produce: d.ok ? [] : [d.deadLetter],
            offsets: [{ topic: r.topic, partition: r.partition, next: r.offset + 1n }],
          });
          done++;
        }
      },
    });
    await log.append([
      { topic: commands, key: "x1", value: encode("ExecutionCommand", { id: "c1", executionId: "x1", kind: "Create", payload: {} }) },
      { topic: commands, key: "x2", value: Uint8Array.from([9, 9, 9, 9, 9, 9]), headers: { origin: "test" } },
      { topic: commands, key: "x3", value: encode("ExecutionCommand", { id: "c3", executionId: "x3", kind: "Kill", payload: {} }) },
    ]);
    for (let i = 0; i < 1000 && done < 3; i++) await new Promise((r) => setImmediate(r));
    expect(done).toBe(3);
    expect(handled.map((h) => h.id)).toEqual(["c1", "c3"]);
    expect(await log.committed("executor", commands, 0)).toBe(3n);
    const dead: LogRecord[] = [];
    for await (const r of log.readPartition(topics.name("dead-letters"), 0, 0n)) dead.push(r);
    expect(dead).toHaveLength(1);
    expect(dead[0].key).toBe("x2");
    expect(Array.from(dead[0].value)).toEqual([9, 9, 9, 9, 9, 9]);
    expect(dead[0].headers).toMatchObject({
      origin: "test",
      [DEAD_LETTER_HEADERS.topic]: commands,
      [DEAD_LETTER_HEADERS.partition]: "0",
      [DEAD_LETTER_HEADERS.offset]: "1",
    });
    expect(dead[0].headers[DEAD_LETTER_HEADERS.reason]).toMatch(/Undecodable record: magic byte is 9/);
    await membership.leave();
    await log.close();
  });
});
