import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installErrorHandlers } from "../../../api/http-errors.js";
import { registerTriggerRoutes } from "../../../api/routes/triggers.js";
import { registerWebhookRoutes } from "../../../api/routes/webhooks.js";
import { backfill, listTriggers } from "../../../cli/trigger-commands.js";
import { silentLogger } from "../../../common/logger.js";
import type { Scheduler } from "../../../processors/scheduler/scheduler.js";
import { MemoryRepository } from "../../../projections/memory/memory-repository.js";
import { parseFlowOrThrow } from "../../../schemas/flow-parser.js";
import { MemoryLog } from "../../../topology/memory/memory-log.js";
import { topicCatalogue } from "../../../topology/topics.js";
import { codec, creates, deploy, ManualClock, newScheduler, scheduledFlow, until } from "./scheduler-fixture.js";

const HOURLY = "  - id: hourly\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 * * * *\"\n";
const HOOKED = `id: hooked
namespace: company.team
inputs:
  - id: who
    type: STRING
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: "secret-{{ flow.id }}"
    inputs:
      who: "{{ trigger.body.name }}"
`;

describe("trigger and webhook routes", () => {
  let app: FastifyInstance;
  let log: MemoryLog;
  let scheduler: Scheduler;
  const repository = new MemoryRepository();
  const clock = new ManualClock(Date.parse("2025-06-01T09:30:00Z"));

  beforeAll(async () => {
    log = new MemoryLog();
    await log.ensureTopics(topicCatalogue({ executionPartitions: 2 }).specs());
    for (const [id, source] of [["sched", scheduledFlow("sched", HOURLY)], ["hooked", HOOKED]]) {
      await repository.saveFlow({ tenantId: "main", namespace: "company.team", id }, source, { ...parseFlowOrThrow(source), tenantId: "main" });
      await deploy(log, "company.team", id, 1, source);
    }
    const off = `id: off\nnamespace: company.team\ndisabled: true\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: k\n`;
    await repository.saveFlow({ tenantId: "main", namespace: "company.team", id: "off" }, off, { ...parseFlowOrThrow(off), tenantId: "main" });
    scheduler = newScheduler(log, clock);
    await scheduler.start();
    app = Fastify();
    installErrorHandlers(app, silentLogger());
    const common = { log, codec, repository, tenantOf: () => "main" };
    registerTriggerRoutes(app, { ...common, topic: "triggers" });
    registerWebhookRoutes(app, { ...common, commandsTopic: "execution-commands" });
    await app.ready();
    await until(() => scheduler.triggerStates().length === 1, "the schedule has a state");
  });
  afterAll(async () => {
    await app.close();
    await scheduler.stop();
  });

  it("starts an execution from a webhook whose rendered key matches, with the body, headers and parameters", async () => {
    const r = await app.inject({ method: "POST", url: "/api/v1/executions/webhook/company.team/hooked/secret-hooked?x=1", payload: { name: "ada" } });
    expect(r.statusCode).toBe(200);
    const id = (r.json() as { id: string }).id;
    const made = (await creates(log)).find((c) => c.executionId === id);
    expect(made).toMatchObject({ inputs: { who: "ada" }, trigger: { body: { name: "ada" }, parameters: { x: "1" }, headers: { "content-type": "application/json" } } });
    const text = await app.inject({ method: "PUT", url: "/api/v1/executions/webhook/company.team/hooked/secret-hooked", headers: { "content-type": "application/octet-stream" }, payload: '{"name":"bob"}' });
    expect(text.statusCode).toBe(200);
    expect((await creates(log)).find((c) => c.executionId === (text.json() as { id: string }).id)).toMatchObject({ inputs: { who: "bob" } });
    // a body without the required input's value: a clear 422
    const empty = await app.inject({ method: "PUT", url: "/api/v1/executions/webhook/company.team/hooked/secret-hooked", headers: { "content-type": "text/plain" }, payload: "raw" });
    expect(empty.statusCode).toBe(422);
    expect(empty.json()).toMatchObject({ code: "INPUTS_INVALID" });
  });

  it("answers the same 404 for an unknown flow, a disabled flow and a wrong key", async () => {
    const bodies = [];
    for (const url of ["company.team/nope/secret-nope", "company.team/off/k", "company.team/hooked/wrong", "company.team/sched/anything"]) {
      const r = await app.inject({ method: "GET", url: `/api/v1/executions/webhook/${url}` });
      expect(r.statusCode).toBe(404);
      bodies.push(r.body);
    }
    expect(new Set(bodies).size).toBe(1);
  });

  it("lists triggers with their state, runs a backfill asked through the API and shows its progress", async () => {
    clock.set("2025-06-01T10:00:00Z");
    await scheduler.tick();
    const search = await app.inject({ method: "GET", url: "/api/v1/triggers/search?namespace=company" });
    expect(search.json()).toMatchObject({ total: 1, results: [{ triggerContext: { flowId: "sched", triggerId: "hourly", date: "2025-06-01T10:00:00.000Z", nextExecutionDate: "2025-06-01T11:00:00.000Z", disabled: false, backfill: null } }] });

    const bad = await app.inject({ method: "PUT", url: "/api/v1/triggers/backfill/start", payload: { namespace: "company.team", flowId: "sched", triggerId: "hourly", backfill: { start: "yesterday" } } });
    expect(bad.statusCode).toBe(422);
    expect(bad.json()).toMatchObject({ code: "BACKFILL_INVALID" });
    const missing = await app.inject({ method: "PUT", url: "/api/v1/triggers/backfill/start", payload: { namespace: "company.team", flowId: "sched", triggerId: "nope", backfill: { start: "2025-06-01T00:00:00Z" } } });
    expect(missing.statusCode).toBe(404);

    const start = await app.inject({ method: "PUT", url: "/api/v1/triggers/backfill/start", payload: { namespace: "company.team", flowId: "sched", triggerId: "hourly", backfill: { start: "2025-06-01T07:00:00Z", end: "2025-06-01T10:00:00Z" } } });
    expect(start.statusCode).toBe(200);
    await until(async () => (await creates(log)).filter((c) => c.flow.id === "sched").length === 4, "the backfill ran");
    const after = await app.inject({ method: "GET", url: "/api/v1/triggers/search?flowId=sched" });
    expect(after.json()).toMatchObject({ results: [{ triggerContext: { backfill: { total: 4, executed: 3, skipped: 1, done: true, progress: 1 } } }] });

    const disable = await app.inject({ method: "POST", url: "/api/v1/triggers/company.team/sched/hourly/disable" });
    expect(disable.statusCode).toBe(200);
    await until(() => scheduler.triggerStates()[0]?.disabled === true, "the trigger is disabled");
    const listed = await app.inject({ method: "GET", url: "/api/v1/triggers/search?namespace=company.team" });
    expect(listed.json()).toMatchObject({ results: [{ triggerContext: { disabled: true } }] });
  });

  it("lanner trigger list and backfill talk to these routes", async () => {
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(`ERR ${l}`) };
    expect(await listTriggers("company.team", url, io)).toBe(0);
    expect(lines).toEqual([expect.stringMatching(/^company\.team\.sched hourly last \S+ next \S+/)]);
    lines.length = 0;
    expect(await backfill("company.team", "sched", "hourly", { inputs: [], labels: [], action: "start", server: url }, io)).toBe(2);
    expect(await backfill("company.team", "sched", "nope", { start: "2025-06-01T00:00:00Z", inputs: [], labels: [], action: "start", server: url }, io)).toBe(1);
    expect(await backfill("company.team", "sched", "hourly", { inputs: [], labels: [], action: "pause", server: url }, io)).toBe(0);
    expect(lines).toEqual([
      expect.stringMatching(/^ERR --start is required/),
      "ERR company.team.sched nope: no Schedule trigger nope on flow company.team.sched",
      "company.team.sched hourly: backfill pause requested",
    ]);
  });
});
