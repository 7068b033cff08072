import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MemoryStateStore } from "../../../stores/memory-state-store.js";
import { restore, type Fold } from "../../../stores/restore.js";
import type { StateStore } from "../../../stores/state-store.js";
import { EmbeddedLog } from "../../../topology/embedded/embedded-log.js";
import type { Log } from "../../../topology/log.js";
import { MemoryLog } from "../../../topology/memory/memory-log.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

/** A changelog of "key:+n" (add n to a counter) and "key:del" events. */
const fold: Fold = async (record, get) => {
  const [op, arg] = dec(record.value)?.split(":") ?? [];
  if (op === "del") return { deletes: [record.key] };
  const current = Number(dec(await get(record.key)) ?? "0");
  return { puts: [[record.key, enc(String(current + Number(arg)))]] };
};

async function entries(store: StateStore): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const [k, v] of store.entries()) out[k] = dec(v) ?? "";
  return out;
}

async function scenario(log: Log, store: () => StateStore): Promise<void> {
  await log.ensureTopics([{ name: "changelog", partitions: 1 }]);
  const events: Array<[string, string]> = [];
  for (let i = 0; i < 2500; i++) events.push([`k${i % 7}`, "add:1"]);
  events.push(["k3", "del:"]);
  await log.append(events.map(([key, v]) => ({ topic: "changelog", key, value: enc(v), partition: 0 })));

  const s = store();
  expect(await restore(s, log, "changelog", 0, fold, { chunk: 300 })).toBe(2501);
  expect(await s.checkpoint()).toBe(2501n);
  const state = await entries(s);
  expect(state).toEqual({ k0: "358", k1: "357", k2: "357", k4: "357", k5: "357", k6: "357" });

  // Resumes from the checkpoint: only the new records are folded.
  await log.append([
    { topic: "changelog", key: "k0", value: enc("add:10"), partition: 0 },
    { topic: "changelog", key: "k3", value: enc("add:2"), partition: 0 },
  ]);
  expect(await restore(s, log, "changelog", 0, fold)).toBe(2);
  expect(dec(await s.get("k0"))).toBe("368");
  expect(dec(await s.get("k3"))).toBe("2");
  expect(await s.checkpoint()).toBe(2503n);
  expect(await restore(s, log, "changelog", 0, fold)).toBe(0);

  // A cleared store rebuilds the same state from the beginning.
  const before = await entries(s);
  await s.clear();
  expect(await restore(s, log, "changelog", 0, fold, { chunk: 1 })).toBe(2503);
  expect(await entries(s)).toEqual(before);
}

describe("restore", () => {
  it("rebuilds a memory store from a memory log", async () => {
    const log = new MemoryLog();
    await scenario(log, () => new MemoryStateStore("counters", 0));
    await log.close();
  });

  it("rebuilds a classic-level store from the embedded log", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lanner-restore-"));
    const log = await EmbeddedLog.open({ dataDir: dir });
    try {
      await scenario(log, () => log.stateStore("counters", 0));
    } finally {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
