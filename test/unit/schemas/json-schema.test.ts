import { describe, expect, it } from "vitest";
import { flowJsonSchema } from "../../../schemas/json-schema.js";
import { registry } from "../../../tasks/registry.js";

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => {
  expect(typeof v).toBe("object");
  return v as Json;
};

describe("flowJsonSchema", () => {
  const schema = obj(flowJsonSchema());

  it("describes the flow's fields, its required keys and forbids unknown ones", () => {
    const props = obj(schema.properties);
    for (const key of ["id", "namespace", "labels", "inputs", "variables", "tasks", "errors", "finally", "afterExecution", "triggers", "concurrency", "outputs", "retry", "disabled", "pluginDefaults"]) {
      expect(props, key).toHaveProperty(key);
    }
    expect(schema.required).toEqual(expect.arrayContaining(["id", "namespace", "tasks"]));
    expect(schema.additionalProperties).toBe(false);
    expect(obj(props.id).pattern).toBe("^[a-zA-Z0-9][a-zA-Z0-9._-]*$");
    expect(obj(props.namespace).maxLength).toBe(150);
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
  });

  it("tasks accept every registered type name and describe each type's own properties", () => {
    const defs = obj(schema.$defs);
    const task = obj(defs.task);
    expect(obj(obj(task.properties).type).enum).toEqual(registry.names());
    expect(task.required).toEqual(["id", "type"]);
    const clauses = task.allOf as Json[];
    const forEach = clauses.find((c) => (obj(obj(obj(c.if).properties).type).enum as string[]).includes("io.kestra.core.tasks.flows.EachParallel"));
    const then = obj(forEach?.then);
    expect(obj(obj(then.properties).concurrencyLimit).type).toBe("integer");
    expect(obj(then.properties).tasks).toEqual({ $ref: "#/$defs/tasks" });
    expect(obj(then.properties).errors).toEqual({ $ref: "#/$defs/tasks" });
    const sw = clauses.find((c) => (obj(obj(obj(c.if).properties).type).enum as string[])[0] === "io.kestra.plugin.core.flow.Switch");
    expect(obj(obj(sw?.then).properties).cases).toEqual({ type: "object", additionalProperties: { $ref: "#/$defs/tasks" } });
    expect(obj(defs.tasks)).toEqual({ type: "array", items: { $ref: "#/$defs/task" } });
  });

  it("triggers list the accepted types with their own fields", () => {
    const trigger = obj(obj(schema.$defs).trigger);
    expect(obj(obj(trigger.properties).type).enum).toEqual(expect.arrayContaining(["io.kestra.plugin.core.trigger.Schedule", "io.kestra.core.models.triggers.types.Webhook"]));
    const schedule = (trigger.allOf as Json[]).find((c) => (obj(obj(obj(c.if).properties).type).enum as string[])[0] === "io.kestra.plugin.core.trigger.Schedule");
    expect(obj(obj(schedule?.then).properties)).toHaveProperty("cron");
    expect(obj(schedule?.then).required).toEqual(expect.arrayContaining(["id", "type", "cron"]));
  });

  it("is plain JSON (serializes and reads back the same)", () => {
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
  });
});
