/**
 * Scale-out on the Postgres log: two schedulers — this process and a child process — split the
 * trigger partitions; the child is killed with SIGKILL (no leave, its leases lapse) and the
 * survivor takes its triggers over from what it committed, without firing any date twice.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scheduleExecutionId } from "../../../processors/scheduler/schedule-core.js";
import { PostgresLog } from "../../../topology/postgres/postgres-log.js";
import { topicCatalogue } from "../../../topology/topics.js";
import { createTestSchema, type TestSchema } from "../../harness/postgres.js";
import { creates, deploy, ManualClock, newScheduler, scheduledFlow, until } from "./scheduler-fixture.js";

const here = dirname(fileURLToPath(import.meta.url));
const EVERY_MINUTE = "  - id: minutely\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"* * * * *\"\n";
const at = (hhmm: string) => Date.parse(`2025-06-01T${hhmm}:00Z`);
const LEASE_MS = 1_500;
const HEARTBEAT_MS = 250;

interface Report { id: number | string; owned: number[]; triggers: number; fired: number }

/** The child scheduler: requests go as JSON lines on stdin, answers come back by id. */
class ChildScheduler {
  private readonly waiting = new Map<number | string, (r: Report) => void>();
  private next = 1;
  output = "";
  readonly exited: Promise<unknown>;

  constructor(readonly child: ChildProcess) {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      this.output += `${line}\n`;
      const r = JSON.parse(line) as Report;
      this.waiting.get(r.id)?.(r);
      this.waiting.delete(r.id);
    });
    child.stderr?.on("data", (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve(signal ?? code)));
  }

  answer(id: number | string): Promise<Report> {
    return new Promise((resolve) => this.waiting.set(id, resolve));
  }

  request(now?: number): Promise<Report> {
    const id = this.next++;
    const answered = this.answer(id);
    this.child.stdin!.write(`${JSON.stringify(now === undefined ? { id } : { id, now })}\n`);
    return answered;
  }
}

describe("schedulers on the Postgres log", () => {
  let s: TestSchema;
  beforeAll(async () => {
    s = await createTestSchema("sched");
  });
  afterAll(async () => {
    await s.drop();
  });

  it("split the trigger partitions; when one is killed the other takes over and no date fires twice", async () => {
    const log = await PostgresLog.open({ url: s.url, schema: s.schema, leaseMs: LEASE_MS, heartbeatMs: HEARTBEAT_MS, poolSize: 4 });
    let child: ChildScheduler | undefined;
    const clock = new ManualClock(at("10:00") + 10_000);
    const a = newScheduler(log, clock, "scheduler-a");
    try {
      await log.ensureTopics(topicCatalogue({ executionPartitions: 4 }).specs());
      await a.start();
      const proc = spawn(process.execPath, ["--import", "tsx", join(here, "fixtures", "pg-scheduler.ts")], {
        env: {
          ...process.env, PG_URL: s.url, PG_SCHEMA: s.schema, PG_LEASE_MS: String(LEASE_MS), PG_HEARTBEAT_MS: String(HEARTBEAT_MS),
          MEMBER_ID: "scheduler-b", START_NOW: String(clock.now),
        },
        stdio: ["pipe", "pipe", "pipe"],
      });
      child = new ChildScheduler(proc);
      await child.answer("ready");

      const ids = Array.from({ length: 8 }, (_, i) => `flow${i}`);
      for (const id of ids) await deploy(log, "company.team", id, 1, scheduledFlow(id, EVERY_MINUTE));
      let b: Report = await child.request();
      await until(async () => {
        b = await (child as ChildScheduler).request();
        return a.ownedPartitions().length === 2 && b.owned.length === 2 && a.triggerStates().length + b.triggers === 8;
      }, `both own two partitions and every trigger has a state (child: ${child.output})`, 3_000);
      expect([...a.ownedPartitions(), ...b.owned].sort()).toEqual([0, 1, 2, 3]);
      expect(a.triggerStates().length).toBeGreaterThan(0);
      expect(b.triggers).toBeGreaterThan(0);

      for (const hhmm of ["10:01", "10:02"]) {
        clock.now = at(hhmm) + 500;
        await a.tick();
        b = await child.request(clock.now);
      }
      expect(a.fired + b.fired).toBe(16);
      const firedByChild = b.fired;
      expect(firedByChild).toBeGreaterThan(0);

      // abrupt death: no leave, the child's leases lapse
      child.child.kill("SIGKILL");
      await child.exited;
      await until(() => a.ownedPartitions().length === 4 && a.triggerStates().length === 8, "the survivor owns every partition", 3_000);

      // the survivor decides 10:02 again (as a replay would), then the next minutes
      for (const hhmm of ["10:02", "10:03", "10:04"]) {
        clock.now = at(hhmm) + 30_000;
        await a.tick();
      }
      const made = await creates(log);
      expect(made).toHaveLength(8 * 4);
      expect(new Set(made.map((c) => c.executionId)).size).toBe(8 * 4);
      for (const id of ids) {
        const key = { tenantId: "main", namespace: "company.team", flowId: id, triggerId: "minutely" };
        expect(made.filter((c) => c.flow.id === id).map((c) => c.executionId).sort()).toEqual(
          ["10:01", "10:02", "10:03", "10:04"].map((hhmm) => scheduleExecutionId(key, at(hhmm))).sort(),
        );
      }
    } finally {
      if (child && child.child.exitCode === null && child.child.signalCode === null) child.child.kill("SIGKILL");
      await a.stop();
      await log.close();
    }
  }, 60_000);
});
