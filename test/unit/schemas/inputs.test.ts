import { describe, expect, it } from "vitest";
import type { Input } from "../../../schemas/flow-types.js";
import { parseFlow } from "../../../schemas/flow-parser.js";
import { coerceInputs } from "../../../schemas/inputs.js";

const flowWith = (...inputs: Array<Partial<Input> & Pick<Input, "id" | "type">>) => ({
  inputs: inputs.map((i) => ({ required: true, ...i })) as Input[],
});

function value(input: Partial<Input> & Pick<Input, "id" | "type">, given: unknown): unknown {
  const r = coerceInputs(flowWith(input), { [input.id]: given });
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join("; "));
  return r.inputs[input.id];
}

function error(input: Partial<Input> & Pick<Input, "id" | "type">, given: unknown): string {
  const r = coerceInputs(flowWith(input), { [input.id]: given });
  if (r.ok) throw new Error(`expected ${JSON.stringify(given)} to be refused`);
  expect(r.errors).toHaveLength(1);
  expect(r.errors[0].input).toBe(input.id);
  return r.errors[0].message;
}

describe("coerceInputs: values per type", () => {
  it("STRING and SECRET, with a validator matching the whole value", () => {
    expect(value({ id: "s", type: "STRING" }, "hi")).toBe("hi");
    expect(value({ id: "s", type: "STRING" }, 42)).toBe("42");
    expect(value({ id: "s", type: "STRING", validator: "[a-z]+" }, "abc")).toBe("abc");
    expect(error({ id: "s", type: "STRING", validator: "[a-z]+" }, "abc1")).toBe("s: expected a value matching '[a-z]+', got 'abc1'");
    expect(error({ id: "s", type: "STRING" }, { a: 1 })).toBe('s: expected a string, got {"a":1}');
    expect(value({ id: "pw", type: "SECRET" }, "hunter2")).toBe("hunter2");
    // A secret that fails its validator is not echoed back.
    expect(error({ id: "pw", type: "SECRET", validator: "\\d+" }, "hunter2")).toBe("pw: expected a value matching '\\d+', got a secret that does not");
  });

  it("INT from numbers and whole-number text, with bounds", () => {
    expect(value({ id: "n", type: "INT" }, "42")).toBe(42);
    expect(value({ id: "n", type: "INT" }, " -7 ")).toBe(-7);
    expect(value({ id: "n", type: "INT" }, 5)).toBe(5);
    expect(error({ id: "n", type: "INT" }, "4.2")).toBe("n: expected a whole number such as 42, got '4.2'");
    expect(error({ id: "n", type: "INT" }, 4.2)).toBe("n: expected a whole number such as 42, got 4.2");
    expect(error({ id: "n", type: "INT" }, "forty")).toBe("n: expected a whole number such as 42, got 'forty'");
    expect(error({ id: "n", type: "INT", min: 1, max: 10 }, "11")).toBe("n: expected a number ≤ 10, got '11'");
    expect(error({ id: "n", type: "INT", min: 1, max: 10 }, 0)).toBe("n: expected a number ≥ 1, got 0");
  });

  it("FLOAT", () => {
    expect(value({ id: "f", type: "FLOAT" }, "4.2")).toBe(4.2);
    expect(value({ id: "f", type: "FLOAT" }, "1e3")).toBe(1000);
    expect(value({ id: "f", type: "FLOAT" }, 3)).toBe(3);
    expect(error({ id: "f", type: "FLOAT" }, "4,2")).toBe("f: expected a number such as 4.2, got '4,2'");
    expect(error({ id: "f", type: "FLOAT", max: 1 }, 1.5)).toBe("f: expected a number ≤ 1, got 1.5");
  });

  it("BOOLEAN from booleans and true/false text", () => {
    expect(value({ id: "b", type: "BOOLEAN" }, "true")).toBe(true);
    expect(value({ id: "b", type: "BOOLEAN" }, "FALSE")).toBe(false);
    expect(value({ id: "b", type: "BOOLEAN" }, false)).toBe(false);
    expect(error({ id: "b", type: "BOOLEAN" }, "yes")).toBe("b: expected true or false, got 'yes'");
  });

  it("DATETIME needs an offset and is normalized to UTC", () => {
    expect(value({ id: "d", type: "DATETIME" }, "2024-01-15T10:00:00+02:00")).toBe("2024-01-15T08:00:00Z");
    expect(value({ id: "d", type: "DATETIME" }, "2024-01-15T10:00:00.250Z")).toBe("2024-01-15T10:00:00.250Z");
    expect(error({ id: "d", type: "DATETIME" }, "2024-01-15T10:00:00")).toBe("d: expected an ISO-8601 date-time with an offset, such as 2024-01-15T10:00:00Z, got '2024-01-15T10:00:00'");
    expect(error({ id: "d", type: "DATETIME" }, "2024-02-30T10:00:00Z")).toMatch(/^d: expected an ISO-8601 date-time/);
    expect(error({ id: "d", type: "DATETIME", after: "2024-01-01T00:00:00Z" }, "2023-12-31T23:59:59Z")).toBe("d: expected a date-time after 2024-01-01T00:00:00Z, got '2023-12-31T23:59:59Z'");
    expect(error({ id: "d", type: "DATETIME", before: "2024-01-01T00:00:00Z" }, "2024-06-01T00:00:00Z")).toBe("d: expected a date-time before 2024-01-01T00:00:00Z, got '2024-06-01T00:00:00Z'");
  });

  it("DATE and TIME", () => {
    expect(value({ id: "d", type: "DATE" }, "2024-02-29")).toBe("2024-02-29");
    expect(error({ id: "d", type: "DATE" }, "2023-02-29")).toBe("d: expected a date such as 2024-01-15, got '2023-02-29'");
    expect(error({ id: "d", type: "DATE", after: "2024-01-01" }, "2023-06-01")).toBe("d: expected a date after 2024-01-01, got '2023-06-01'");
    expect(value({ id: "t", type: "TIME" }, "10:15:30")).toBe("10:15:30");
    expect(value({ id: "t", type: "TIME" }, "23:59")).toBe("23:59");
    expect(error({ id: "t", type: "TIME" }, "24:00")).toBe("t: expected a time such as 10:15:30, got '24:00'");
    expect(error({ id: "t", type: "TIME", before: "12:00" }, "13:00")).toBe("t: expected a time before 12:00, got '13:00'");
  });

  it("DURATION, with bounds", () => {
    expect(value({ id: "d", type: "DURATION" }, "PT5M")).toBe("PT5M");
    expect(error({ id: "d", type: "DURATION" }, "5 minutes")).toBe("d: expected an ISO-8601 duration such as PT30S, got '5 minutes'");
    expect(error({ id: "d", type: "DURATION", max: "PT1H" }, "PT2H")).toBe("d: expected a duration of at most PT1H, got 'PT2H'");
    expect(error({ id: "d", type: "DURATION", min: "PT1M" }, "PT30S")).toBe("d: expected a duration of at least PT1M, got 'PT30S'");
  });

  it("FILE keeps a storage URI as it is", () => {
    expect(value({ id: "f", type: "FILE" }, "lanner:///company/team/flow/exec/inputs/f/data.csv")).toBe("lanner:///company/team/flow/exec/inputs/f/data.csv");
    expect(error({ id: "f", type: "FILE" }, "/etc/passwd")).toBe("f: expected a file stored in internal storage (a lanner:/// URI), got '/etc/passwd'");
  });

  it("JSON and YAML parse text and keep structured values", () => {
    expect(value({ id: "j", type: "JSON" }, '{"a":[1,2]}')).toEqual({ a: [1, 2] });
    expect(value({ id: "j", type: "JSON" }, { a: 1 })).toEqual({ a: 1 });
    expect(error({ id: "j", type: "JSON" }, "{a:1}")).toMatch(/^j: expected JSON text, got '\{a:1\}' \(/);
    expect(value({ id: "y", type: "YAML" }, "a: 1\nb: [x]")).toEqual({ a: 1, b: ["x"] });
    expect(error({ id: "y", type: "YAML" }, "a: [")).toMatch(/^y: expected YAML text, got 'a: \[' \(/);
  });

  it("URI and EMAIL", () => {
    expect(value({ id: "u", type: "URI" }, "https://example.com/x?y=1")).toBe("https://example.com/x?y=1");
    expect(error({ id: "u", type: "URI" }, "example.com")).toBe("u: expected an absolute URI such as https://example.com/path, got 'example.com'");
    expect(value({ id: "e", type: "EMAIL" }, "ops@example.com")).toBe("ops@example.com");
    expect(error({ id: "e", type: "EMAIL" }, "ops@")).toBe("e: expected an email address such as ops@example.com, got 'ops@'");
  });

  it("ARRAY coerces each item to itemType and accepts JSON text", () => {
    expect(value({ id: "a", type: "ARRAY", itemType: "INT" }, ["1", 2])).toEqual([1, 2]);
    expect(value({ id: "a", type: "ARRAY", itemType: "INT" }, "[1, 2, 3]")).toEqual([1, 2, 3]);
    expect(value({ id: "a", type: "ARRAY", itemType: "DATE" }, ["2024-01-01"])).toEqual(["2024-01-01"]);
    expect(error({ id: "a", type: "ARRAY", itemType: "INT" }, ["1", "x"])).toBe("a: item 1: expected a whole number such as 42, got 'x'");
    expect(error({ id: "a", type: "ARRAY", itemType: "STRING" }, "not a list")).toBe("a: expected a list (or JSON text of a list), got 'not a list'");
  });

  it("SELECT and MULTISELECT check values unless custom values are allowed", () => {
    expect(value({ id: "s", type: "SELECT", values: ["a", "b"] }, "a")).toBe("a");
    expect(error({ id: "s", type: "SELECT", values: ["a", "b"] }, "c")).toBe("s: expected one of a, b, got 'c'");
    expect(value({ id: "s", type: "SELECT", values: ["a"], allowCustomValue: true }, "z")).toBe("z");
    expect(value({ id: "m", type: "MULTISELECT", values: ["a", "b"] }, ["a", "b"])).toEqual(["a", "b"]);
    expect(value({ id: "m", type: "MULTISELECT", values: ["a", "b"] }, '["b"]')).toEqual(["b"]);
    expect(error({ id: "m", type: "MULTISELECT", values: ["a", "b"] }, ["a", "x"])).toBe("m: expected values among a, b, got 'x'");
  });
});

describe("coerceInputs: required, defaults, unknown inputs", () => {
  it("applies defaults, checks required, ignores undeclared inputs and reports every problem", () => {
    const flow = flowWith(
      { id: "a", type: "INT", defaults: "5" },
      { id: "b", type: "STRING" },
      { id: "c", type: "STRING", required: false },
      { id: "d", type: "BOOLEAN" },
    );
    const r = coerceInputs(flow, { d: "maybe", extra: "ignored" });
    expect(r).toEqual({
      ok: false,
      errors: [
        { input: "b", code: "INPUT_REQUIRED", message: "b: a value is required (type STRING)" },
        { input: "d", code: "INPUT_INVALID", message: "d: expected true or false, got 'maybe'" },
      ],
    });
    expect(coerceInputs(flow, { b: "x", d: "true", extra: 1 })).toEqual({ ok: true, inputs: { a: 5, b: "x", d: true } });
  });

  it("a default written as an expression is rendered (by the expression engine, or the given renderer)", () => {
    const flow = flowWith({ id: "when", type: "DATETIME", defaults: "{{ now() }}" }, { id: "who", type: "STRING", defaults: "{{ flow.id }}-x" });
    const now = Date.UTC(2024, 0, 2, 3, 4, 5);
    expect(coerceInputs(flow, {}, { now, vars: { flow: { id: "f1" } } })).toEqual({ ok: true, inputs: { when: "2024-01-02T03:04:05Z", who: "f1-x" } });
    const custom = coerceInputs(flowWith({ id: "when", type: "DATETIME", defaults: "{{ anything }}" }), {}, { now, render: (_t, at) => new Date(at ?? 0).toISOString() });
    expect(custom).toEqual({ ok: true, inputs: { when: "2024-01-02T03:04:05Z" } });
  });

  it("a default expression that fails to render or renders a bad value is an input error", () => {
    const r = coerceInputs(flowWith({ id: "n", type: "INT", defaults: "{{ 'abc' }}" }, { id: "m", type: "STRING", defaults: "{{ nope( }}" }), {});
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => [e.input, e.code])).toEqual([["n", "INPUT_INVALID"], ["m", "INPUT_INVALID"]]);
    expect(r.errors[0].message).toBe("n: expected a whole number such as 42, got 'abc'");
    expect(r.errors[1].message).toMatch(/^m: the default '\{\{ nope\( \}\}' could not be rendered: /);
  });

  it("works on inputs parsed from a flow (defaults and older spellings)", () => {
    const r = parseFlow(`id: f
namespace: n
inputs:
  - id: size
    type: INT
    defaults: 3
  - name: enabled
    type: BOOL
    required: false
  - id: colour
    type: MULTISELECT
    options: [red, blue]
tasks:
  - id: a
    type: Log
    message: m
`);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(coerceInputs(r.flow, { enabled: "true", colour: "[\"red\"]" })).toEqual({ ok: true, inputs: { size: 3, enabled: true, colour: ["red"] } });
  });
});
