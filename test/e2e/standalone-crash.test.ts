/**
 * The real binary, every role in one process on the embedded backend: deploy a flow over the API,
 * start ten executions, `kill -9` the server while their Sleep tasks run, start it again on the
 * same data directory, and every execution ends SUCCESS. Then, with the server stopped, the
 * `executions` topic is read straight from the embedded log: each task run was created once and
 * ended exactly once, the interrupted Sleeps got a second attempt, and every history replays.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EmbeddedLog } from "../../topology/embedded/embedded-log.js";
import { startLanner, type LannerProcess } from "../harness/lanner-process.js";
import { ApiClient, checkHistory, readHistories } from "./helpers.js";

const FLOW = `id: crash
namespace: company.e2e
inputs:
  - id: n
    type: INT
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "execution {{ inputs.n }} starts"
  - id: shell
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "shell {{ inputs.n }}"
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT4S
  - id: done
    type: io.kestra.plugin.core.debug.Return
    format: "done {{ inputs.n }}"
outputs:
  - id: result
    type: STRING
    value: "{{ outputs.done.value }}"
`;

const COUNT = 10;
const WAIT_MS = 90_000;

/*
 * The attempts that were running when the process died belong to a worker that no longer
 * exists; the restarted server's liveness declares it lost only after the liveness timeout
 * (default 8 s), measured from its last heartbeat. A short timeout and heartbeat keep this test
 * quick without changing what it proves: resubmission happens through the normal WorkerLost path.
 */
const ENV = { LANNER_LIVENESS_TIMEOUT_MS: "1500", LANNER_HEARTBEAT_INTERVAL_MS: "300" };

describe("standalone server survives kill -9 (embedded backend)", () => {
  const dir = mkdtempSync(join(tmpdir(), "lanner-e2e-crash-"));
  const dataDir = join(dir, "data");
  const started: LannerProcess[] = [];
  const start = async () => {
    const p = await startLanner(["server", "standalone", "--data-dir", dataDir, "--port", "0"], { env: ENV });
    started.push(p);
    return p;
  };

  afterAll(async () => {
    for (const p of started) await p.crash();
    rmSync(dir, { recursive: true, force: true });
  });

  it("finishes every execution after a crash mid-flight, each task run completed exactly once", { timeout: 180_000 }, async () => {
    const first = await start();
    const api1 = new ApiClient(first.url ?? "");
    expect(await api1.deployFlow(FLOW)).toBe(1);
    const ids = await api1.executeMany("company.e2e", "crash", COUNT, 5, (i) => ({ n: i }));
    expect(new Set(ids).size).toBe(COUNT);

    // Crash once at least half of them are inside their Sleep: attempts that started and cannot
    // end. (Not all: a worker's slots and a loaded machine make "all at once" a race.)
    const napping = await ApiClient.until("executions inside their Sleep task", async () => {
      const all = await Promise.all(ids.map((id) => api1.getExecution(id)));
      const inNap = all.filter((e) => e.taskRunList?.some((t) => t.taskId === "nap" && t.state.current === "RUNNING"));
      return inNap.length >= COUNT / 2 ? inNap.map((e) => e.id) : undefined;
    }, WAIT_MS);
    await first.crash();
    expect(first.child.signalCode).toBe("SIGKILL");

    const second = await start();
    const api2 = new ApiClient(second.url ?? "");
    const ended = await api2.waitTerminal(ids, WAIT_MS);
    for (const [i, id] of ids.entries()) {
      const e = ended.get(id);
      expect(e?.state.current, `execution ${id}`).toBe("SUCCESS");
      expect(e?.outputs).toEqual({ result: `done ${i}` });
    }
    await second.stop();
    expect(await second.exited).toBe(0);

    const log = await EmbeddedLog.open({ dataDir });
    try {
      const histories = await readHistories(log);
      for (const id of ids) {
        const events = histories.get(id) ?? [];
        const check = checkHistory(events);
        expect(check.problems, `history of ${id}`).toEqual([]);
        expect(check.state.execution.state.current).toBe("SUCCESS");
        const ends = events.filter((e) => e.type === "TaskRunStateChanged" && e.state === "SUCCESS");
        expect(ends).toHaveLength(4);
        if (napping.includes(id)) {
          // the Sleep that was running at the crash was resubmitted as attempt 2, which ended it
          expect(check.attemptsByTask.get("nap"), `attempts of nap in ${id}`).toEqual([1, 2]);
          const nap = Object.values(check.state.taskRuns).find((t) => t.taskId === "nap");
          expect(nap?.attempts.map((a) => a.state.current)).toEqual(["FAILED", "SUCCESS"]);
        }
      }
    } finally {
      await log.close();
    }
  });
});
