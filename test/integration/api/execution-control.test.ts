/**
 * Execution control over the API against every role in one process (embedded log, PGlite read
 * side): pause/resume with inputs, kill, restart, replay, labels, delete, bulk kill, output file
 * download, and live follow (SSE over real HTTP) that ends with the execution and resumes from
 * Last-Event-ID. Waits use the follow stream or the repository's terminal waiters, never sleeps.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../cli/config.js";
import { silentLogger } from "../../../common/logger.js";
import type { Execution, State } from "../../../processors/executor/model.js";
import { startRoles, type RolesHandle } from "../../../processors/runtime/roles.js";
import { readSse } from "./sse-client.js";

const PAUSING = `id: pausing
namespace: company.control
tasks:
  - id: before
    type: io.kestra.plugin.core.debug.Return
    format: "one"
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "approved={{ outputs.wait.onResume.approved }}"
`;

const SLEEPING = `id: sleeping
namespace: company.control
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT10M
`;

const FAILING = `id: failing
namespace: company.control
tasks:
  - id: ok
    type: io.kestra.plugin.core.debug.Return
    format: "fine"
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "broken on purpose"
`;

const WRITING = `id: writing
namespace: company.control
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "a"
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: "file body"
    extension: ".txt"
`;

interface Answer {
  status: number;
  body: unknown;
  text: string;
}

describe("execution control (standalone, embedded backend)", () => {
  let dir: string;
  let roles: RolesHandle;
  let url: string;

  const http = async (path: string, init: RequestInit = {}): Promise<Answer> => {
    const res = await fetch(`${url}${path}`, init);
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, body, text };
  };
  const post = (path: string, body?: unknown, method = "POST") =>
    http(path, body === undefined ? { method } : { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const create = async (flowId: string): Promise<Execution> => {
    const r = await post(`/api/v1/executions/company.control/${flowId}`, {});
    expect(r.status).toBe(200);
    return r.body as Execution;
  };
  /** Follows the execution until `until` holds; resolves with that state of it. */
  const followUntil = async (id: string, until: (e: Execution) => boolean): Promise<Execution> => {
    let found: Execution | undefined;
    await readSse(`${url}/api/v1/executions/${id}/follow`, (m) => {
      if (m.event !== "message") return false;
      const e = JSON.parse(m.data) as Execution;
      if (until(e)) found = e;
      return found !== undefined;
    });
    if (!found) throw new Error(`execution ${id} ended without reaching the expected state`);
    return found;
  };
  const inState = (s: State) => (e: Execution) => e.state.current === s;
  /** Re-reads the stored execution on every change the indexer announces, until `until` holds (also after it ended). */
  const storedUntil = async (id: string, until: (e: Execution) => boolean): Promise<Execution> => {
    const feed = roles.webserver?.changes;
    const repository = roles.repository;
    if (!feed || !repository) throw new Error("no webserver or repository");
    let wake: () => void = () => undefined;
    let changed = false;
    const off = feed.subscribe(id, () => {
      changed = true;
      wake();
    });
    try {
      for (let round = 0; round < 10_000; round++) {
        changed = false;
        const e = await repository.getExecution(id);
        if (e && until(e)) return e;
        if (!changed) await new Promise<void>((resolve) => (wake = resolve));
      }
      throw new Error(`execution ${id} never reached the expected state`);
    } finally {
      off();
    }
  };
  const ended = async (id: string): Promise<Execution> => {
    const e = await roles.repository?.waitForTerminal(id, 60_000);
    if (!e) throw new Error(`execution ${id} did not end`);
    return e;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "lanner-control-"));
    const config = loadConfig({ env: {}, overrides: [[["dataDir"], join(dir, "data")], [["port"], 0], [["partitions"], 2]] });
    roles = await startRoles(config, ["executor", "worker", "liveness", "indexer", "webserver"], {
      logger: silentLogger(), onFatal: (err) => { throw err; }, workerStopTimeoutMs: 1_000,
    });
    url = roles.url ?? "";
    for (const flow of [PAUSING, SLEEPING, FAILING, WRITING]) {
      const r = await http("/api/v1/flows", { method: "POST", headers: { "content-type": "application/x-yaml" }, body: flow });
      expect(r.status).toBe(200);
    }
  });
  afterAll(async () => {
    await roles?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("pauses at a Pause task, refuses a second resume, resumes with inputs; follow ends with the execution and resumes from Last-Event-ID", async () => {
    const created = await create("pausing");
    const messages: Array<{ id?: string; state: string }> = [];
    const following = readSse(`${url}/api/v1/executions/${created.id}/follow`, (m) => {
      if (m.event === "message") messages.push({ id: m.id, state: (JSON.parse(m.data) as Execution).state.current });
      return false;
    });
    const paused = await followUntil(created.id, inState("PAUSED"));
    expect(paused.taskRunList.find((t) => t.taskId === "wait")?.state.current).toBe("PAUSED");
    expect((await post(`/api/v1/executions/${created.id}/pause`)).status).toBe(409);
    expect(await post(`/api/v1/executions/${created.id}/resume`, ["not", "an", "object"])).toMatchObject({ status: 422, body: { errors: [{ path: "body" }] } });

    expect((await post(`/api/v1/executions/${created.id}/resume`, { approved: true })).status).toBe(200);
    const done = await ended(created.id);
    expect(done.state.current).toBe("SUCCESS");
    expect(done.taskRunList.find((t) => t.taskId === "wait")?.outputs).toMatchObject({ onResume: { approved: true } });

    const all = await following;
    expect(all.length).toBeGreaterThan(2);
    expect(all.at(-1)?.event).toBe("end");
    expect(messages.map((m) => m.state)).toContain("PAUSED");
    expect(messages.at(-1)?.state).toBe("SUCCESS");
    const ids = messages.map((m) => BigInt(m.id ?? "-1"));
    expect([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(ids);

    // Reconnecting after the PAUSED message replays only what came after it.
    const pausedAt = messages.find((m) => m.state === "PAUSED");
    const again = await readSse(`${url}/api/v1/executions/${created.id}/follow`, () => false, { "last-event-id": String(pausedAt?.id) });
    const againIds = again.filter((m) => m.event === "message").map((m) => BigInt(m.id ?? "-1"));
    expect(againIds.length).toBeGreaterThan(0);
    expect(againIds.every((i) => i > BigInt(pausedAt?.id ?? "0"))).toBe(true);
    expect(again.at(-1)?.event).toBe("end");

    // The ended execution: a follow sends its last state at once and ends.
    const after = await readSse(`${url}/api/v1/executions/${created.id}/follow`, () => false);
    expect(after.map((m) => m.event)).toEqual(["message", "end"]);
    expect((await post(`/api/v1/executions/${created.id}/resume`, {})).status).toBe(409);
  });

  it("answers the event history and the execution as of any event", async () => {
    const done = await ended((await create("failing")).id);
    const r = await http(`/api/v1/executions/${done.id}/events`);
    expect(r.status).toBe(200);
    const history = r.body as Array<{ offset: string; seq: number; type: string; date: string; appended: string; cause?: string; actor?: string }>;
    expect(history[0]).toMatchObject({ seq: 1, type: "ExecutionCreated" });
    expect(history[0].cause).toBeUndefined();
    expect(history.map((h) => h.seq)).toEqual(history.map((_, i) => i + 1));
    expect(history.every((h) => !Number.isNaN(Date.parse(h.date)) && !Number.isNaN(Date.parse(h.appended)))).toBe(true);
    // The reason an event carries is its cause; an attempt names the worker that started it.
    expect(history.filter((h) => h.type === "ExecutionStateChanged").every((h) => typeof h.cause === "string" && h.cause !== "")).toBe(true);
    expect(history.find((h) => h.type === "TaskRunStateChanged" && h.cause !== undefined)).toBeDefined();
    const started = history.filter((h) => h.type === "AttemptStarted");
    expect(started.length).toBeGreaterThan(0);
    expect(started.every((h) => /^worker:.+/.test(h.actor ?? ""))).toBe(true);
    const running = history.find((h) => h.type === "ExecutionStateChanged" && (h as { event: { state: string } } & typeof h).event.state === "RUNNING");
    const then = await http(`/api/v1/executions/${done.id}?asOf=${running?.offset}`);
    expect(then.body).toMatchObject({ id: done.id, state: { current: "RUNNING" } });
    expect((await http(`/api/v1/executions/${done.id}?asOf=${history.at(-1)?.offset}`)).body).toMatchObject({ state: { current: "FAILED" } });
    expect((await http(`/api/v1/executions/${done.id}?asOf=soon`)).status).toBe(400);
    expect((await http("/api/v1/executions/unknownExecution/events")).status).toBe(404);
  });

  it("follows log lines over SSE until the execution ends, and downloads them as text", async () => {
    const created = await create("pausing");
    const lines: string[] = [];
    const following = readSse(`${url}/api/v1/logs/${created.id}/follow`, (m) => {
      if (m.event === "message") lines.push((JSON.parse(m.data) as { message: string }).message);
      return false;
    });
    await followUntil(created.id, inState("PAUSED"));
    await post(`/api/v1/executions/${created.id}/resume`, { approved: false });
    await ended(created.id);
    const all = await following;
    expect(all.at(-1)?.event).toBe("end");
    expect(lines).toContain("approved=false");
    const text = await http(`/api/v1/logs/${created.id}/download`);
    expect(text.status).toBe(200);
    expect(text.text).toMatch(/INFO\s+\[after\] approved=false/);
  });

  it("kills a running execution (202), then refuses to kill it again (409)", async () => {
    const created = await create("sleeping");
    await followUntil(created.id, (e) => e.taskRunList.some((t) => t.state.current === "RUNNING"));
    expect((await http(`/api/v1/executions/${created.id}/kill`, { method: "DELETE" })).status).toBe(202);
    expect((await ended(created.id)).state.current).toBe("KILLED");
    expect((await http(`/api/v1/executions/${created.id}/kill`, { method: "DELETE" })).status).toBe(409);
    expect((await http(`/api/v1/executions/${created.id}/kill?isOnKillCascade=maybe`, { method: "DELETE" })).status).toBe(400);
  });

  it("restarts a FAILED execution from its failed task run, same id", async () => {
    const created = await create("failing");
    const failed = await ended(created.id);
    expect(failed.state.current).toBe("FAILED");
    expect((await post(`/api/v1/executions/${created.id}/restart`)).status).toBe(200);
    const restarted = await storedUntil(created.id, (e) => e.state.histories.filter((h) => h.state === "FAILED").length === 2);
    expect(restarted.state.histories.map((h) => h.state)).toContain("RESTARTED");
    const boom = restarted.taskRunList.find((t) => t.taskId === "boom");
    expect(boom?.state.histories.map((h) => h.state)).toContain("RESTARTED");
    expect(restarted.taskRunList.find((t) => t.taskId === "ok")?.state.histories.map((h) => h.state)).not.toContain("RESTARTED");
    const sleeping = await create("sleeping");
    expect((await post(`/api/v1/executions/${sleeping.id}/restart`)).status).toBe(409);
    await http(`/api/v1/executions/${sleeping.id}/kill`, { method: "DELETE" });
    await ended(sleeping.id);
  });

  it("replays an ended execution from a task run as a new execution", async () => {
    const source = await ended((await create("failing")).id);
    const boom = source.taskRunList.find((t) => t.taskId === "boom");
    const ok = source.taskRunList.find((t) => t.taskId === "ok");
    const r = await post(`/api/v1/executions/${source.id}/replay?taskRunId=${boom?.id}`);
    expect(r.status).toBe(200);
    const replay = r.body as Execution;
    expect(replay.id).not.toBe(source.id);
    expect(replay.originalId).toBe(source.originalId);
    const done = await ended(replay.id);
    expect(done.state.current).toBe("FAILED");
    // `ok` came before the replayed task run: copied as it was, not run again.
    const copied = done.taskRunList.find((t) => t.taskId === "ok");
    expect(copied?.outputs).toEqual(ok?.outputs);
    expect(copied?.id).not.toBe(ok?.id);
    expect(await post(`/api/v1/executions/${source.id}/replay?taskRunId=nope`)).toMatchObject({ status: 400, body: { errors: [{ path: "query.taskRunId" }] } });
    expect((await post(`/api/v1/executions/${source.id}/replay?taskRunId=${boom?.id}&revision=99`)).status).toBe(404);
  });

  it("sets the labels of a running execution", async () => {
    const running = await create("sleeping");
    await followUntil(running.id, inState("RUNNING"));
    expect((await post(`/api/v1/executions/${running.id}/labels`, [{ key: "reviewed", value: "yes" }])).status).toBe(200);
    const relabelled = await followUntil(running.id, (e) => e.labels.some((l) => l.key === "reviewed"));
    expect(relabelled.labels).toContainEqual({ key: "reviewed", value: "yes" });
    expect(await post(`/api/v1/executions/${running.id}/labels`, [{ key: "", value: 1 }])).toMatchObject({ status: 422, body: { errors: expect.any(Array) } });
    await http(`/api/v1/executions/${running.id}/kill`, { method: "DELETE" });
    await ended(running.id);
  });

  it("downloads an output file of the execution only, deletes an ended execution", async () => {
    const created = await create("writing");
    const done = await ended(created.id);
    expect(done.state.current).toBe("SUCCESS");

    const uri = String(done.taskRunList.find((t) => t.taskId === "write")?.outputs?.uri);
    expect(uri).toContain(`/executions/${created.id}/`);
    const file = await http(`/api/v1/executions/${created.id}/file?path=${encodeURIComponent(uri)}`);
    expect(file).toMatchObject({ status: 200, text: "file body" });
    const other = await ended((await create("writing")).id);
    const otherUri = String(other.taskRunList.find((t) => t.taskId === "write")?.outputs?.uri);
    expect((await http(`/api/v1/executions/${created.id}/file?path=${encodeURIComponent(otherUri)}`)).status).toBe(404);
    expect((await http(`/api/v1/executions/${created.id}/file?path=${encodeURIComponent("lanner:///../../etc/passwd")}`)).status).toBe(400);
    expect((await http(`/api/v1/executions/${created.id}/file`)).status).toBe(400);

    expect((await http(`/api/v1/executions/${created.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await http(`/api/v1/executions/${created.id}`)).status).toBe(404);
    expect((await http(`/api/v1/executions/${created.id}/file?path=${encodeURIComponent(uri)}`)).status).toBe(404);
    expect((await http(`/api/v1/executions/${created.id}`, { method: "DELETE" })).status).toBe(404);
  });

  it("kills by ids (skipping ended and unknown ones) and deletes by query", async () => {
    const a = await create("sleeping");
    const b = await create("sleeping");
    const finished = await ended((await create("failing")).id);
    await followUntil(a.id, inState("RUNNING"));
    await followUntil(b.id, inState("RUNNING"));
    const killed = await post("/api/v1/executions/kill/by-ids", [a.id, b.id, finished.id, "unknownId"], "DELETE");
    expect(killed).toMatchObject({ status: 200, body: { count: 2 } });
    expect((await ended(a.id)).state.current).toBe("KILLED");
    expect((await ended(b.id)).state.current).toBe("KILLED");
    expect((await post("/api/v1/executions/kill/by-ids", [], "DELETE")).status).toBe(422);

    const deleted = await http("/api/v1/executions/by-query?flowId=sleeping&state=KILLED", { method: "DELETE" });
    expect(deleted.status).toBe(200);
    expect((deleted.body as { count: number }).count).toBeGreaterThanOrEqual(2);
    expect((await http(`/api/v1/executions/${a.id}`)).status).toBe(404);
    expect((await http(`/api/v1/executions/${finished.id}`)).status).toBe(200);
  });
});
