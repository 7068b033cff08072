import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { LannerError } from "../../../common/errors.js";
import { FlowValidationError, parseFlow, parseFlowOrThrow } from "../../../schemas/flow-parser.js";
import type { Flow, Task } from "../../../schemas/flow-types.js";
import { childTasks, walkTasks } from "../../../schemas/task-tree.js";
import { flowableDefinitions } from "../../../tasks/flowable/index.js";
import { registry, TaskRegistry } from "../../../tasks/registry.js";
import type { TaskDefinition } from "../../../tasks/types.js";

const fixture = (name: string): string => readFileSync(join(import.meta.dirname, "../../fixtures/valid-flows", name), "utf8");

function parse(text: string, reg?: TaskRegistry): Flow {
  const r = parseFlow(text, reg ? { registry: reg } : {});
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.line}:${e.column}: ${e.message}`).join("\n"));
  return r.flow;
}

function errorsOf(text: string, reg?: TaskRegistry): string[] {
  const r = parseFlow(text, reg ? { registry: reg } : {});
  if (r.ok) throw new Error("expected the flow to be invalid");
  return r.errors.map((e) => `${e.line}:${e.column}: ${e.message}`);
}

const byId = (flow: Flow, id: string): Task => {
  for (const { task } of walkTasks(flow)) if (task.id === id) return task;
  throw new Error(`no task ${id}`);
};

// A tiny runnable for tests that must not depend on the built-in runnables.
const echo: TaskDefinition = {
  types: ["test.Echo", "Echo2"],
  kind: "runnable",
  properties: z.strictObject({ text: z.string(), level: z.string().optional(), extra: z.record(z.string(), z.unknown()).optional() }),
};
const testRegistry = (): TaskRegistry => new TaskRegistry([...flowableDefinitions, echo]);

describe("parseFlow: valid flows", () => {
  it("parses every flowable type with the default registry and fills defaults", () => {
    const flow = parse(fixture("all-flowables.yml"));
    expect(flow.id).toBe("all-flowables");
    expect(flow.revision).toBe(3);
    expect(flow.labels).toEqual([{ key: "env", value: "prod" }, { key: "owner", value: "data" }]);
    expect(flow.inputs.map((i) => [i.id, i.type, i.required])).toEqual([["items", "ARRAY", true], ["mode", "SELECT", true]]);
    expect(flow.variables).toEqual({ greeting: "hello" });
    expect(flow.tasks.map((t) => t.type)).toEqual([
      "io.kestra.plugin.core.flow.Sequential", "io.kestra.plugin.core.flow.Parallel", "io.kestra.plugin.core.flow.If",
      "io.kestra.plugin.core.flow.Switch", "io.kestra.plugin.core.flow.ForEach", "io.kestra.plugin.core.flow.Dag",
      "io.kestra.plugin.core.flow.AllowFailure", "io.kestra.plugin.core.flow.WaitFor", "io.kestra.plugin.core.flow.Pause",
      "io.kestra.plugin.core.flow.Subflow", "io.kestra.plugin.core.flow.ForEachItem", "io.kestra.plugin.core.flow.WorkingDirectory",
    ]);
    expect(byId(flow, "par").concurrent).toBe(2);
    expect(byId(flow, "each").concurrencyLimit).toBe(0);
    expect(byId(flow, "graph").concurrent).toBe(0);
    expect(byId(flow, "poll").checkFrequency).toEqual({ interval: "PT5S", maxIterations: 10, maxDuration: "PT1H" });
    expect(byId(flow, "poll").failOnMaxReached).toBe(false);
    expect(byId(flow, "child")).toMatchObject({ wait: true, transmitFailed: true, inheritLabels: false, inputs: { x: 1 } });
    expect(byId(flow, "batches").batch).toEqual({ rows: 10 });
    expect((byId(flow, "approve").onResume as Array<{ id: string; required: boolean }>)[0]).toMatchObject({ id: "approved", type: "BOOLEAN", required: true });
    expect((byId(flow, "pick").cases as Record<string, Task[]>).fast[0].id).toBe("case_fast");
    expect((byId(flow, "wd").errors as Task[])[0].id).toBe("wd_failed");
    expect(flow.errors[0].id).toBe("on_error");
    expect(flow.finally[0].id).toBe("at_end");
    expect(flow.afterExecution[0].id).toBe("after");
    expect(flow.outputs).toEqual([{ id: "result", type: "STRING", value: "{{ outputs.p1.value }}" }]);
    expect(flow.concurrency).toEqual({ limit: 2, behavior: "CANCEL" });
    expect(flow.retry).toEqual({ type: "constant", interval: "PT10S", maxAttempt: 2, behavior: "CREATE_NEW_EXECUTION" });
    expect(flow.disabled).toBe(false);
    expect(flow.triggers.map((t) => t.type)).toEqual([
      "io.kestra.plugin.core.trigger.Schedule", "io.kestra.plugin.core.trigger.Flow", "io.kestra.plugin.core.trigger.Webhook",
    ]);
    expect(flow.triggers[0]).toMatchObject({ cron: "0 2 * * *", withSeconds: false, timezone: "Europe/Paris", recoverMissedSchedules: "LAST" });
    // Expressions stay unrendered.
    expect(byId(flow, "log1").message).toBe("{{ vars.greeting }}");
  });

  it("walks every task, nested ones included, parents first", () => {
    const flow = parse(fixture("all-flowables.yml"));
    const ids = [...walkTasks(flow)].map((w) => w.task.id);
    expect(ids).toEqual([
      "seq", "log1", "par", "p1", "p2", "branch", "fast", "slow", "pick", "case_fast", "case_default", "each", "inner",
      "graph", "d1", "d2", "tolerant", "may_fail", "poll", "check", "approve", "child", "batches", "wd", "sh", "wd_failed",
      "on_error", "at_end", "after",
    ]);
    expect(new Set(ids).size).toBe(ids.length);
    const dag = childTasks(byId(flow, "graph"));
    expect(dag.map((c) => [c.list, c.index, c.task.id, c.dependsOn])).toEqual([["tasks", 0, "d1", []], ["tasks", 1, "d2", ["d1"]]]);
    expect(childTasks(byId(flow, "pick")).map((c) => [c.list, c.key, c.task.id])).toEqual([["cases", "fast", "case_fast"], ["defaults", undefined, "case_default"]]);
    expect(childTasks(byId(flow, "log1"))).toEqual([]);
  });

  it("resolves old packages, old field spellings and short names to the canonical forms", () => {
    const flow = parse(fixture("legacy-aliases.yml"));
    expect(flow.labels).toEqual([{ key: "team", value: "data" }]);
    expect(flow.inputs[0]).toMatchObject({ id: "flag", type: "BOOLEAN", required: false });
    expect(flow.pluginDefaults).toEqual([{ type: "io.kestra.core.tasks.log.Log", forced: false, values: { level: "WARN" } }]);
    expect(byId(flow, "seq").type).toBe("io.kestra.plugin.core.flow.Sequential");
    expect(byId(flow, "hello")).toEqual({ id: "hello", type: "io.kestra.plugin.core.log.Log", message: "hello", level: "WARN" });
    expect(byId(flow, "each_seq")).toMatchObject({ type: "io.kestra.plugin.core.flow.ForEach", values: ["a", "b"], concurrencyLimit: 1 });
    expect(byId(flow, "each_seq").value).toBeUndefined();
    expect(byId(flow, "each_par")).toMatchObject({ type: "io.kestra.plugin.core.flow.ForEach", values: '["a", "b"]', concurrencyLimit: 0 });
    expect(byId(flow, "in_par").type).toBe("io.kestra.plugin.core.debug.Return");
    expect(byId(flow, "wait")).toMatchObject({ type: "io.kestra.plugin.core.flow.Pause", delay: "PT1S" });
    expect(byId(flow, "old_subflow")).toMatchObject({ type: "io.kestra.plugin.core.flow.Subflow", wait: false, transmitFailed: false });
    expect(byId(flow, "short").type).toBe("io.kestra.plugin.core.flow.Sequential");
    expect(byId(flow, "short_log")).toMatchObject({ type: "io.kestra.plugin.core.log.Log", level: "WARN" });
    expect((byId(flow, "short").finally as Task[])[0].id).toBe("short_finally");
    expect(flow.triggers[0].type).toBe("io.kestra.plugin.core.trigger.Schedule");
  });

  it("reads task common fields, retry spellings, seconds cron and prefix plugin defaults", () => {
    const flow = parse(fixture("schedule-variants.yml"));
    expect(flow.tasks[0]).toEqual({
      id: "hello", type: "io.kestra.plugin.core.log.Log", message: "tick", level: "ERROR",
      retry: { type: "exponential", interval: "PT1S", maxInterval: "PT1M", delayFactor: 2, maxAttempt: 5 },
      timeout: "PT0.5S", workerGroup: { key: "gpu", fallback: "WAIT" }, logLevel: "DEBUG", allowFailure: true, runIf: "{{ inputs.run }}",
    });
    expect(flow.triggers.map((t) => t.id)).toEqual(["seconds", "hourly", "weekdays", "deadline"]);
    expect(flow.triggers[0].withSeconds).toBe(true);
    expect(flow.triggers[1]).toMatchObject({ lateMaximumDelay: "PT10M", stopAfter: ["FAILED"], inputs: { run: true } });
  });

  it("every built-in flowable name resolves to its canonical name", () => {
    const expectations: Record<string, string> = {
      "io.kestra.core.tasks.flows.Parallel": "io.kestra.plugin.core.flow.Parallel",
      "io.kestra.core.tasks.flows.Switch": "io.kestra.plugin.core.flow.Switch",
      "io.kestra.core.tasks.flows.If": "io.kestra.plugin.core.flow.If",
      "io.kestra.core.tasks.flows.Dag": "io.kestra.plugin.core.flow.Dag",
      "io.kestra.core.tasks.flows.AllowFailure": "io.kestra.plugin.core.flow.AllowFailure",
      "io.kestra.core.tasks.flows.Pause": "io.kestra.plugin.core.flow.Pause",
      "io.kestra.core.tasks.flows.Subflow": "io.kestra.plugin.core.flow.Subflow",
      "io.kestra.core.tasks.flows.Flow": "io.kestra.plugin.core.flow.Subflow",
      "io.kestra.core.tasks.flows.WorkingDirectory": "io.kestra.plugin.core.flow.WorkingDirectory",
      "io.kestra.core.tasks.flows.WaitFor": "io.kestra.plugin.core.flow.WaitFor",
      "io.kestra.core.tasks.flows.ForEachItem": "io.kestra.plugin.core.flow.ForEachItem",
      "io.kestra.core.tasks.flows.EachSequential": "io.kestra.plugin.core.flow.ForEach",
      "io.kestra.plugin.core.flow.EachParallel": "io.kestra.plugin.core.flow.ForEach",
      "EachParallel": "io.kestra.plugin.core.flow.ForEach",
      "WorkingDirectory": "io.kestra.plugin.core.flow.WorkingDirectory",
    };
    for (const [name, canonical] of Object.entries(expectations)) expect(registry.canonical(name), name).toBe(canonical);
    for (const def of flowableDefinitions) {
      expect(def.kind).toBe("flowable");
      expect(def.types[0].startsWith("io.kestra.plugin.core.flow.")).toBe(true);
    }
  });

  it("accepts a custom registry and rejects types it does not know", () => {
    const text = "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: Echo2\n    text: hi\n";
    expect(parse(text, testRegistry()).tasks[0]).toEqual({ id: "a", type: "test.Echo", text: "hi" });
    expect(errorsOf("id: f\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n", testRegistry()))
      .toEqual(["5:11: tasks[0].type: unknown task type 'io.kestra.plugin.core.log.Log' (no known task type has a similar name)"]);
  });

  it("parses a Pause written with pauseDuration and a Switch with only defaults", () => {
    const flow = parse(`id: f
namespace: n
tasks:
  - id: p
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT2M
  - id: s
    type: io.kestra.plugin.core.flow.Switch
    value: x
    defaults:
      - id: d
        type: io.kestra.plugin.core.log.Log
        message: d
`);
    expect(flow.tasks[0]).toEqual({ id: "p", type: "io.kestra.plugin.core.flow.Pause", delay: "PT2M" });
    expect(flow.tasks[1].cases).toBeUndefined();
  });
});

describe("pluginDefaults", () => {
  const base = (defaults: string, task: string): string => `id: f
namespace: n
pluginDefaults:
${defaults}
tasks:
${task}
`;

  it("fills only what a task leaves out unless forced, merging maps deeply", () => {
    const flow = parse(base(`  - type: test.Echo
    values:
      text: default text
      level: INFO
      extra: { a: 1, b: 2 }`, `  - id: a
    type: Echo2
    extra: { b: 3 }
  - id: b
    type: test.Echo
    text: own
    level: DEBUG`), testRegistry());
    expect(flow.tasks[0]).toEqual({ id: "a", type: "test.Echo", text: "default text", level: "INFO", extra: { a: 1, b: 3 } });
    expect(flow.tasks[1]).toEqual({ id: "b", type: "test.Echo", text: "own", level: "DEBUG", extra: { a: 1, b: 2 } });
  });

  it("a forced default overrides what the task wrote; id and type are never taken", () => {
    const flow = parse(base(`  - type: Echo2
    forced: true
    values:
      id: hijack
      type: other
      level: ERROR`, `  - id: a
    type: test.Echo
    text: t
    level: DEBUG`), testRegistry());
    expect(flow.tasks[0]).toEqual({ id: "a", type: "test.Echo", text: "t", level: "ERROR" });
  });

  it("a default for another type or package leaves the task alone; a package prefix matches", () => {
    const flow = parse(base(`  - type: test.Other
    values: { level: X }
  - type: test
    values: { level: P }`, `  - id: a
    type: Echo2
    text: t`), testRegistry());
    expect(flow.tasks[0].level).toBe("P");
  });

  it("defaults are validated with the task: an unknown property from a default is reported", () => {
    expect(errorsOf(base(`  - type: test.Echo
    values: { colour: red }`, `  - id: a
    type: test.Echo
    text: t`), testRegistry())).toEqual([
      "7:5: tasks[0].colour: unknown property 'colour' for test.Echo (expected one of: allowFailure, allowWarning, description, disabled, extra, id, level, logLevel, logToFile, retry, runIf, text, timeout, type, workerGroup)",
    ]);
  });
});

describe("parseFlow: errors", () => {
  it("never throws, whatever the text", () => {
    for (const text of ["", "   ", "null", "42", "[", "id: [", "a: *x", "tasks: {}", "id: f\nnamespace: n\ntasks: [1, 'x', null]", "\t\tid: f"]) {
      const r = parseFlow(text);
      expect(r.ok).toBe(false);
      if (!r.ok) for (const e of r.errors) expect(e.line).toBeGreaterThanOrEqual(1);
    }
  });

  it("an empty document says a flow was expected", () => {
    expect(errorsOf("")).toEqual(["1:1: expected a flow (a YAML map with id, namespace and tasks), got an empty document"]);
  });

  it("reports all problems of nested tasks with full paths", () => {
    expect(errorsOf(`id: f
namespace: n
tasks:
  - id: s
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ inputs.x }}"
    cases:
      "a b":
        - id: x
          type: io.kestra.plugin.core.log.Log
      other: []
  - id: s2
    type: io.kestra.plugin.core.flow.Switch
    value: v
  - id: e
    type: io.kestra.plugin.core.flow.ForEach
    values: 3
    concurrencyLimit: -1
    tasks: [notatask]
`)).toEqual([
      "9:11: tasks[0].cases[\"a b\"][0].message: missing required property 'message' (expected a string)",
      "11:14: tasks[0].cases.other: expected at least one task",
      "12:5: tasks[1]: a Switch needs cases (a map of value → tasks) or defaults",
      "17:13: tasks[2].values: expected a list of values or an expression that renders to one, got 3",
      "18:23: tasks[2].concurrencyLimit: expected a number ≥ 0, got -1",
      "19:13: tasks[2].tasks[0]: expected a task (a map with id and type), got 'notatask'",
    ]);
  });

  it("errors and finally are only accepted on flowables", () => {
    expect(errorsOf(`id: f
namespace: n
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: m
    errors: []
`)[0]).toMatch(/^7:5: tasks\[0\]\.errors: unknown property 'errors' for io\.kestra\.plugin\.core\.log\.Log/);
  });

  it("reports EachSequential problems under the names the YAML used", () => {
    expect(errorsOf(`id: f
namespace: n
tasks:
  - id: e
    type: io.kestra.core.tasks.flows.EachSequential
    value: 12
    tasks:
      - id: x
        type: io.kestra.plugin.core.log.Log
        message: m
`)).toEqual(["6:12: tasks[0].value: expected a list of values or an expression that renders to one, got 12"]);
  });

  it("parseFlowOrThrow throws a FlowValidationError carrying the issues", () => {
    try {
      parseFlowOrThrow("id: f\nnamespace: n\ntasks: []\n");
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(FlowValidationError);
      expect(err).toBeInstanceOf(LannerError);
      expect((err as FlowValidationError).code).toBe("FLOW_INVALID");
      expect((err as FlowValidationError).retriable).toBe(false);
      expect((err as FlowValidationError).details).toEqual([{ path: "tasks", line: 3, column: 8, code: "INVALID_VALUE", message: "tasks: a flow needs at least one task" }]);
      expect((err as Error).message).toBe("the flow is not valid:\n3:8: tasks: a flow needs at least one task");
    }
    expect(parseFlowOrThrow("id: f\nnamespace: n\ntasks:\n  - id: a\n    type: Log\n    message: m\n").tasks[0].type).toBe("io.kestra.plugin.core.log.Log");
  });

  it("a flow id longer than 100 characters and a namespace longer than 150 are refused", () => {
    expect(errorsOf(`id: ${"a".repeat(101)}\nnamespace: ${"b".repeat(151)}\ntasks:\n  - id: a\n    type: Log\n    message: m\n`)).toEqual([
      "1:5: id: a flow id is at most 100 characters, got 101",
      "2:12: namespace: a namespace is at most 150 characters, got 151",
    ]);
  });

  it("refuses aliases expanding into a huge document", () => {
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 8; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(", ")}]`);
    const errs = errorsOf(bomb.join("\n"));
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/^1:1: YAML error: /);
  });
});
