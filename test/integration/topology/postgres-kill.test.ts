/**
 * Abrupt death on the Postgres log: a member's process is killed with SIGKILL (no leave, no
 * lease release); the surviving member takes its partitions over once the leases lapse — pairs
 * of co-partitioned topics together — and resumes from the dead member's committed offsets.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AssignedPartition, LogRecord, TopicPartition } from "../../../topology/log.js";
import { PostgresLog } from "../../../topology/postgres/postgres-log.js";
import { createTestSchema, type TestSchema } from "../../harness/postgres.js";
import { waitFor } from "../../contracts/log.contract.js";

const here = dirname(fileURLToPath(import.meta.url));
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const key = (tp: TopicPartition) => `${tp.topic}:${tp.partition}`;

interface ChildView {
  owned: Set<string>;
  seen: string[];
  committed: Map<string, bigint>;
  output: string;
}

function spawnMember(env: Record<string, string>): { child: ChildProcess; view: ChildView; exited: Promise<NodeJS.Signals | number | null> } {
  const child = spawn(process.execPath, ["--import", "tsx", join(here, "fixtures", "pg-member.ts")], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const view: ChildView = { owned: new Set(), seen: [], committed: new Map(), output: "" };
  let buffered = "";
  child.stdout?.on("data", (d: Buffer) => {
    buffered += d.toString();
    view.output += d.toString();
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const m = JSON.parse(line) as {
        assigned?: TopicPartition[]; revoked?: TopicPartition[]; seen?: string; committed?: { topic: string; partition: number; next: string };
      };
      for (const a of m.assigned ?? []) view.owned.add(key(a));
      for (const r of m.revoked ?? []) view.owned.delete(key(r));
      if (m.seen !== undefined) view.seen.push(m.seen);
      if (m.committed !== undefined) view.committed.set(key(m.committed), BigInt(m.committed.next));
    }
  });
  child.stderr?.on("data", (d: Buffer) => (view.output += d.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on("exit", (code, signal) => resolve(signal ?? code)));
  return { child, view, exited };
}

describe("Postgres log: a member killed with SIGKILL", () => {
  let s: TestSchema;
  beforeAll(async () => {
    s = await createTestSchema("kill");
  });
  afterAll(async () => {
    await s.drop();
  });

  it("the survivor takes the dead member's partition pairs over and resumes from its committed offsets", async () => {
    const leaseMs = 2_000;
    const heartbeatMs = 250;
    const log = await PostgresLog.open({ url: s.url, schema: s.schema, leaseMs, heartbeatMs, poolSize: 3 });
    const cmd = "commands";
    const res = "results";
    const group = "executor";
    await log.ensureTopics([{ name: cmd, partitions: 4 }, { name: res, partitions: 4 }]);
    const { child, view, exited } = spawnMember({
      PG_URL: s.url, PG_SCHEMA: s.schema, PG_GROUP: group, PG_TOPICS: `${cmd},${res}`,
      PG_LEASE_MS: String(leaseMs), PG_HEARTBEAT_MS: String(heartbeatMs), PG_APP_NAME: `lanner-kill-${randomUUID().slice(0, 8)}`,
    });
    try {
      await waitFor(() => view.owned.size === 8, `the child owns every partition pair:\n${view.output}`);

      // The survivor: commits everything it is given; its ownership must stay in pairs.
      const owned = new Map<string, AssignedPartition>();
      const received: LogRecord[] = [];
      const unpaired: string[] = [];
      const paired = () => {
        for (const x of owned.values()) for (const t of [cmd, res]) if (!owned.has(`${t}:${x.partition}`)) unpaired.push(`${t}:${x.partition}`);
      };
      const membership = await log.join(group, [cmd, res], {
        onAssign: async (a) => {
          for (const x of a) owned.set(key(x), x);
          paired();
        },
        onRevoke: async (r) => {
          for (const x of r) owned.delete(key(x));
          paired();
        },
        onRecords: async (batch) => {
          received.push(...batch);
          const last = batch[batch.length - 1];
          await membership.commit({ produce: [], offsets: [{ topic: last.topic, partition: last.partition, next: last.offset + 1n }] });
        },
      });
      await waitFor(() => owned.size === 4 && view.owned.size === 4, "the two members split the pairs");
      const childParts = [...new Set([...view.owned].map((k) => Number(k.split(":")[1])))];
      expect(childParts).toHaveLength(2);
      for (const p of childParts) for (const t of [cmd, res]) expect(view.owned.has(`${t}:${p}`)).toBe(true);

      // Work for everybody; then records the child sees but never commits.
      await log.append([cmd, res].flatMap((topic) => [0, 1, 2, 3].flatMap((partition) => [0, 1, 2].map((i) => ({ topic, partition, key: "k", value: enc(`c-${topic}-${partition}-${i}`) })))));
      await waitFor(() => received.length === 12 && view.committed.size === 4 && [...view.committed.values()].every((n) => n === 3n), `committed by both:\n${view.output}`);
      await log.append(childParts.flatMap((partition) => [cmd, res].map((topic) => ({ topic, partition, key: "k", value: enc(`hold-${topic}-${partition}`) }))));
      await waitFor(() => view.seen.filter((v) => v.startsWith("hold")).length === 4, "the child saw the held records");
      for (const p of childParts) for (const t of [cmd, res]) expect(await log.committed(group, t, p)).toBe(3n);

      child.kill("SIGKILL");
      expect(await exited).toBe("SIGKILL");
      await waitFor(() => owned.size === 8, "the survivor takes the dead member's pairs over");
      expect(unpaired).toEqual([]);
      for (const p of childParts) for (const t of [cmd, res]) expect(owned.get(`${t}:${p}`)?.next).toBe(3n);
      // Exactly what the dead member had not committed is delivered again, nothing it had.
      await waitFor(() => received.length === 16, "the held records reach the survivor");
      expect(received.slice(12).map((r) => dec(r.value)).sort()).toEqual(childParts.flatMap((p) => [`hold-${cmd}-${p}`, `hold-${res}-${p}`]).sort());
      await log.append([{ topic: cmd, partition: childParts[0], key: "k", value: enc("after") }]);
      await waitFor(() => received.some((r) => dec(r.value) === "after"), "delivery after the takeover");
      for (const p of childParts) for (const t of [cmd, res]) await waitFor(async () => (await log.committed(group, t, p)) === (await log.endOffset(t, p)), "the survivor commits");
      await membership.leave();
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await log.close();
    }
  }, 60_000);
});
