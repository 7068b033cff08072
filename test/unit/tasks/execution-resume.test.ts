import { afterEach, describe, expect, it } from "vitest";
import { registry } from "../../../tasks/registry.js";
import { executionResumeTask } from "../../../tasks/runnable/storage/execution-resume.js";
import { ExecutorHarness } from "../../harness/executor-harness.js";
import { flowYaml } from "../../harness/fixtures.js";
import { makeRunContext, rejection, runTask, type TestRun } from "./run-context.js";

const TYPE = "io.kestra.plugin.core.execution.Resume";
let run: TestRun;
afterEach(async () => {
  await run?.cleanup();
});

describe("Resume task", () => {
  it("is registered under Kestra's name", () => {
    expect(registry.resolve(TYPE)).toBe(executionResumeTask);
  });

  it("sends a Resume for the current execution by default, with the tenant", async () => {
    run = await makeRunContext();
    await runTask(executionResumeTask, { id: "r", type: TYPE }, run.ctx);
    expect(run.commands).toEqual([{ type: "Resume", executionId: "exec1", tenantId: "main" }]);
  });

  it("renders executionId, namespace, flowId and inputs (a map or a JSON string of one)", async () => {
    run = await makeRunContext({ vars: { target: "abc123", why: "ok" } });
    await runTask(executionResumeTask, {
      id: "r", type: TYPE, executionId: "{{ target }}", namespace: "company.ops", flowId: "approvals", inputs: { reason: "{{ why }}" },
    }, run.ctx);
    await runTask(executionResumeTask, { id: "r", type: TYPE, executionId: "abc123", inputs: "{{ {'n': 1} | json }}" }, run.ctx);
    expect(run.commands).toEqual([
      { type: "Resume", executionId: "abc123", namespace: "company.ops", flowId: "approvals", inputs: { reason: "ok" }, tenantId: "main" },
      { type: "Resume", executionId: "abc123", inputs: { n: 1 }, tenantId: "main" },
    ]);
  });

  it("refuses another flow without an executionId, a blank id and inputs that are not a map", async () => {
    run = await makeRunContext();
    const other = await rejection(runTask(executionResumeTask, { id: "r", type: TYPE, namespace: "company.ops", flowId: "approvals" }, run.ctx));
    expect(other.code).toBe("TASK_INVALID_PROPERTY");
    expect(other.message).toMatch(/^executionId: required/);
    const blank = await rejection(runTask(executionResumeTask, { id: "r", type: TYPE, executionId: "{{ '' }}" }, run.ctx));
    expect(blank.message).toBe("executionId: rendered to an empty string");
    const spaced = await rejection(runTask(executionResumeTask, { id: "r", type: TYPE, executionId: "a b" }, run.ctx));
    expect(spaced.message).toMatch(/^executionId: expected an execution id/);
    const list = await rejection(runTask(executionResumeTask, { id: "r", type: TYPE, executionId: "x", inputs: "[1]" }, run.ctx));
    expect(list.message).toMatch(/^inputs: expected a map/);
    expect(run.commands).toEqual([]);
  });
});

describe("executor: a Resume that names its tenant, namespace or flow", () => {
  it("resumes only an execution that matches what the command names", () => {
    const h = new ExecutorHarness();
    const id = h.start(flowYaml("pause-resume"));
    expect(h.execution(id).state.current).toBe("PAUSED");
    h.send({ type: "Resume", executionId: id, tenantId: "acme", inputs: { reason: "no" } });
    h.send({ type: "Resume", executionId: id, tenantId: "main", namespace: "company.other", inputs: { reason: "no" } });
    h.send({ type: "Resume", executionId: id, tenantId: "main", namespace: "company.team", flowId: "other", inputs: { reason: "no" } });
    expect(h.execution(id).state.current).toBe("PAUSED");
    h.send({ type: "Resume", executionId: id, tenantId: "main", namespace: "company.team", flowId: "pause_resume", inputs: { reason: "yes" } });
    expect(h.execution(id).state.current).toBe("SUCCESS");
    expect(h.taskRuns(id, "after")[0].outputs).toEqual({ value: "yes" });
  });
});
