import { afterEach, describe, expect, it } from "vitest";
import { registry } from "../../../tasks/registry.js";
import { logTask } from "../../../tasks/runnable/log.js";
import { returnTask } from "../../../tasks/runnable/return.js";
import { echoTask } from "../../../tasks/runnable/echo.js";
import { outputValuesTask } from "../../../tasks/runnable/output-values.js";
import { failTask } from "../../../tasks/runnable/fail.js";
import { labelsTask } from "../../../tasks/runnable/labels.js";
import { storageWriteTask } from "../../../tasks/runnable/storage-write.js";
import { runnableDefinitions } from "../../../tasks/runnable/index.js";
import { readFileBytes } from "../../../storage/read-all.js";
import { makeRunContext, rejection, runTask, type TestRun } from "./run-context.js";

let run: TestRun;
afterEach(async () => {
  await run.cleanup();
});

describe("registry and schemas", () => {
  it("resolves canonical names, aliases and short names to the same definition", async () => {
    run = await makeRunContext();
    expect(registry.resolve("io.kestra.core.tasks.log.Log")).toBe(logTask);
    expect(registry.resolve("Log")).toBe(logTask);
    expect(registry.canonical("io.kestra.core.tasks.debugs.Return")).toBe("io.kestra.plugin.core.debug.Return");
    expect(registry.canonical("io.kestra.plugin.fs.http.Request")).toBe("io.kestra.plugin.core.http.Request");
    for (const def of runnableDefinitions) {
      expect(def.kind).toBe("runnable");
      expect(typeof def.run).toBe("function");
      expect(def.types[0]).toMatch(/^io\.kestra\./);
    }
  });

  it("rejects unknown properties and lets the common task fields through", async () => {
    run = await makeRunContext();
    const ok = logTask.properties.safeParse({
      id: "a",
      type: "io.kestra.plugin.core.log.Log",
      message: "hi",
      timeout: "PT1S",
      retry: { type: "constant", interval: "PT1S" },
      allowFailure: true,
      runIf: "{{ true }}",
    });
    expect(ok.success).toBe(true);
    const bad = logTask.properties.safeParse({ id: "a", type: "Log", message: "hi", mesage: "typo" });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain("mesage");
    expect(logTask.properties.safeParse({ id: "a", type: "Log" }).success).toBe(false);
  });

  it("refuses task runners other than the local process", async () => {
    run = await makeRunContext();
    const def = registry.resolve("io.kestra.plugin.scripts.shell.Commands");
    const res = def?.properties.safeParse({
      id: "a",
      type: "io.kestra.plugin.scripts.shell.Commands",
      commands: ["echo"],
      taskRunner: { type: "io.kestra.plugin.scripts.runner.docker.Docker" },
    });
    expect(res?.success).toBe(false);
    expect(JSON.stringify(res?.error?.issues)).toContain("only the process runner");
  });
});

describe("Log", () => {
  it("logs one rendered message at INFO by default", async () => {
    run = await makeRunContext({ vars: { inputs: { name: "Ada" } } });
    const res = await runTask(logTask, { id: "l", type: logTask.types[0], message: "Hello {{ inputs.name }}" }, run.ctx);
    expect(res).toEqual({});
    expect(run.logs).toEqual([{ level: "INFO", message: "Hello Ada" }]);
  });

  it("logs a list of messages at the given level", async () => {
    run = await makeRunContext();
    await runTask(logTask, { id: "l", type: "Log", message: ["one", "two"], level: "WARN" }, run.ctx);
    expect(run.logs).toEqual([
      { level: "WARN", message: "one" },
      { level: "WARN", message: "two" },
    ]);
  });

  it("fails with a clear error on a level that does not exist", async () => {
    run = await makeRunContext();
    const err = await rejection(runTask(logTask, { id: "l", type: "Log", message: "x", level: "LOUD" }, run.ctx));
    expect(err.code).toBe("TASK_INVALID_PROPERTY");
    expect(err.message).toContain("level");
  });
});

describe("Return and Echo", () => {
  it("Return outputs the rendered format as value", async () => {
    run = await makeRunContext({ vars: { flow: { id: "f1" } } });
    const res = await runTask(returnTask, { id: "r", type: "Return", format: "flow={{ flow.id }}" }, run.ctx);
    expect(res.outputs).toEqual({ value: "flow=f1" });
  });

  it("Echo logs the rendered format at its level", async () => {
    run = await makeRunContext({ vars: { x: "y" } });
    await runTask(echoTask, { id: "e", type: "io.kestra.core.tasks.debugs.Echo", format: "x is {{ x }}", level: "DEBUG" }, run.ctx);
    expect(run.logs).toEqual([{ level: "DEBUG", message: "x is y" }]);
  });
});

describe("OutputValues", () => {
  it("renders the values deeply", async () => {
    run = await makeRunContext({ vars: { a: "A" } });
    const res = await runTask(
      outputValuesTask,
      { id: "o", type: "OutputValues", values: { s: "{{ a }}", n: 3, nested: { list: ["{{ a }}", true] } } },
      run.ctx,
    );
    expect(res.outputs).toEqual({ values: { s: "A", n: 3, nested: { list: ["A", true] } } });
  });
});

describe("Fail", () => {
  it("fails with the default message when there is no condition", async () => {
    run = await makeRunContext();
    const err = await rejection(runTask(failTask, { id: "f", type: "Fail" }, run.ctx));
    expect(err.message).toBe("Task failure");
    expect(err.code).toBe("TASK_FAIL");
  });

  it("fails only when the rendered condition is truthy", async () => {
    run = await makeRunContext({ vars: { yes: "true", no: "false", zero: "0", empty: "" } });
    const err = await rejection(runTask(failTask, { id: "f", type: "Fail", condition: "{{ yes }}", errorMessage: "bad {{ yes }}" }, run.ctx));
    expect(err.message).toBe("bad true");
    const typed = await rejection(runTask(failTask, { id: "f", type: "Fail", condition: "{{ 1 + 1 == 2 }}" }, run.ctx));
    expect(typed.message).toBe("Task failure");
    for (const c of ["{{ no }}", "{{ zero }}", "{{ empty }}", "{{ 1 == 2 }}", false]) {
      const res = await runTask(failTask, { id: "f", type: "Fail", condition: c }, run.ctx);
      expect(res).toEqual({});
    }
  });
});

describe("Labels", () => {
  it("accepts a map and a list and outputs a list of key/value", async () => {
    run = await makeRunContext({ vars: { v: "prod" } });
    const a = await runTask(labelsTask, { id: "l", type: "Labels", labels: { env: "{{ v }}", n: 1 } }, run.ctx);
    expect(a.outputs).toEqual({ labels: [{ key: "env", value: "prod" }, { key: "n", value: "1" }] });
    const b = await runTask(labelsTask, { id: "l", type: "Labels", labels: [{ key: "team", value: "{{ v }}" }] }, run.ctx);
    expect(b.outputs).toEqual({ labels: [{ key: "team", value: "prod" }] });
  });

  it("accepts an expression that renders to JSON and refuses other strings", async () => {
    run = await makeRunContext({ vars: { m: { a: "b" } } });
    const a = await runTask(labelsTask, { id: "l", type: "Labels", labels: "{{ m }}" }, run.ctx);
    expect(a.outputs).toEqual({ labels: [{ key: "a", value: "b" }] });
    const err = await rejection(runTask(labelsTask, { id: "l", type: "Labels", labels: "nope" }, run.ctx));
    expect(err.code).toBe("TASK_INVALID_PROPERTY");
  });
});

describe("storage Write", () => {
  it("writes the rendered content under the task run and outputs its URI", async () => {
    run = await makeRunContext({ vars: { who: "world" } });
    const res = await runTask(storageWriteTask, { id: "w", type: "Write", content: "hello {{ who }}", extension: ".txt" }, run.ctx);
    const uri = String(res.outputs?.uri);
    expect(uri).toMatch(/^lanner:\/\/\/main\/company\/team\/flow1\/executions\/exec1\/tasks\/w\/tr1\/[0-9a-f-]+\.txt$/);
    expect((await readFileBytes(run.storage, uri)).toString()).toBe("hello world");
    expect(res.outputs?.size).toBe(11);
  });

  it("refuses an extension that could change the path", async () => {
    run = await makeRunContext();
    const err = await rejection(runTask(storageWriteTask, { id: "w", type: "Write", content: "x", extension: "/../../x" }, run.ctx));
    expect(err.code).toBe("TASK_INVALID_PROPERTY");
  });
});

describe("run-time property check", () => {
  it("reports a task that skipped validation with a readable error", async () => {
    run = await makeRunContext();
    const err = await rejection(logTask.run?.({ id: "l", type: "Log", message: 42 }, run.ctx) ?? Promise.resolve());
    expect(err.code).toBe("TASK_INVALID_PROPERTY");
    expect(err.message).toMatch(/^invalid task properties: message: /);
  });
});
