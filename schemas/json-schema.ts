import { z } from "zod";
import { registry as defaultRegistry, type TaskRegistry } from "../tasks/registry.js";
import { FlowSchema, TaskSchema } from "./flow-schema.js";
import { TRIGGER_CANONICAL, TRIGGER_SCHEMAS } from "./trigger-schema.js";

type JsonSchema = Record<string, unknown>;

function toJson(schema: z.ZodType): JsonSchema {
  // Input side: what a user may write (defaults optional, before transforms such as labels).
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any", target: "draft-2020-12" }) as JsonSchema;
}

function withoutMeta(s: JsonSchema): JsonSchema {
  const { $schema: _s, ...rest } = s;
  return rest;
}

/**
 * The JSON Schema of a flow (for editors and the API), generated from the same zod schemas the
 * parser uses. Tasks accept every registered type name; each type's own properties are described
 * by an `if type is one of its names, then …` clause.
 */
export function flowJsonSchema(registry: TaskRegistry = defaultRegistry): object {
  const flow = toJson(FlowSchema);
  const common = withoutMeta(toJson(TaskSchema));
  const commonProps = (common.properties ?? {}) as JsonSchema;
  const seen = new Set<unknown>();
  const clauses: JsonSchema[] = [];
  for (const name of registry.names()) {
    const def = registry.resolve(name);
    if (!def || seen.has(def)) continue;
    seen.add(def);
    const own = withoutMeta(toJson(def.properties));
    const flowable = def.kind === "flowable";
    const ownProps = { ...((own.properties as JsonSchema | undefined) ?? {}) };
    for (const list of def.childTaskLists ?? []) {
      const p = ownProps[list] as JsonSchema | undefined;
      // Child task lists are plain maps in the zod schema (the parser checks children one by one);
      // editors get the full task schema instead.
      if (p?.type === "array" && !(p.items as JsonSchema | undefined)?.properties) ownProps[list] = { $ref: "#/$defs/tasks" };
      else if (p?.type === "object" && (p.additionalProperties as JsonSchema | undefined)?.type === "array") ownProps[list] = { type: "object", additionalProperties: { $ref: "#/$defs/tasks" } };
    }
    clauses.push({
      if: { properties: { type: { enum: def.types } }, required: ["type"] },
      then: {
        properties: { ...ownProps, ...(flowable ? { errors: { $ref: "#/$defs/tasks" }, finally: { $ref: "#/$defs/tasks" } } : {}) },
        ...(Array.isArray(own.required) && own.required.length ? { required: own.required } : {}),
      },
    });
  }
  const task: JsonSchema = {
    type: "object",
    properties: { ...commonProps, type: { type: "string", enum: registry.names() } },
    required: ["id", "type"],
    allOf: clauses,
  };
  const triggerClauses = Object.entries(TRIGGER_SCHEMAS).map(([canonical, schema]) => {
    const names = [...TRIGGER_CANONICAL].filter(([, c]) => c === canonical).map(([n]) => n);
    const own = withoutMeta(toJson(schema));
    return { if: { properties: { type: { enum: names } }, required: ["type"] }, then: { properties: own.properties, required: own.required } };
  });
  const trigger: JsonSchema = {
    type: "object",
    properties: { id: { type: "string" }, type: { type: "string", enum: [...TRIGGER_CANONICAL.keys()] } },
    required: ["id", "type"],
    allOf: triggerClauses,
  };
  const props = { ...(flow.properties as JsonSchema) };
  for (const section of ["tasks", "errors", "finally", "afterExecution"]) props[section] = { $ref: "#/$defs/tasks" };
  props.tasks = { allOf: [{ $ref: "#/$defs/tasks" }], minItems: 1 };
  props.triggers = { type: "array", items: { $ref: "#/$defs/trigger" } };
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://lanner.dev/schemas/flow.json",
    title: "Lanner flow",
    ...withoutMeta(flow),
    properties: props,
    $defs: { ...((flow.$defs as JsonSchema | undefined) ?? {}), task, tasks: { type: "array", items: { $ref: "#/$defs/task" } }, trigger },
  };
}
