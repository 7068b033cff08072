import { describe, expect, it } from "vitest";
import { compileTemplate, evaluate, expressionCacheStats, ExpressionError, render, renderDeep } from "../../../expressions/index.js";

function errorOf(fn: () => unknown): ExpressionError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ExpressionError) return e;
    throw new Error(`expected an ExpressionError, got ${String(e)}`);
  }
  throw new Error("expected an error, got none");
}

const vars = { inputs: { name: "x", list: [1, 2] }, x: { a: 1 }, fn: () => "pwned" };

describe("errors carry line and column", () => {
  it("undefined variables in strict mode", () => {
    const e = errorOf(() => render("{{ inputs.nmae }}", vars));
    expect(e.message).toBe("inputs.nmae is undefined at line 1, column 4");
    expect(e.code).toBe("EXPRESSION_ERROR");
    expect(e.retriable).toBe(false);
    expect([e.line, e.column]).toEqual([1, 4]);
    expect(errorOf(() => render("line one\n  and {{ nope }}", vars)).message).toBe("nope is undefined at line 2, column 10");
    expect(errorOf(() => render("{{ inputs.list[5] }}", vars)).message).toBe("inputs.list[5] is undefined at line 1, column 4");
    expect(errorOf(() => render("{{ inputs.name | upper ~ x.b.c }}", vars)).message).toBe("x.b is undefined at line 1, column 26");
    expect(errorOf(() => evaluate("inputs.zzz == 1", vars)).message).toBe("inputs.zzz is undefined at line 1, column 1");
  });
  it("syntax errors", () => {
    expect(errorOf(() => render("{{ 1 + }}", {})).message).toBe("Unexpected '}}' at line 1, column 8");
    expect(errorOf(() => render("a {{ x", {})).message).toBe("Unclosed expression: expected '}}' at line 1, column 5");
    expect(errorOf(() => render("{% if true %}x", {})).message).toBe("Unexpected end of template: expected '{% elseif %}' or '{% elif %}' or '{% else %}' or '{% endif %}' at line 1, column 15");
    expect(errorOf(() => render("{% endfor %}", {})).message).toBe("Unexpected '{% endfor %}' at line 1, column 4");
    expect(errorOf(() => render("{% macro x %}", {})).message).toBe("Unknown tag 'macro' at line 1, column 4");
    expect(errorOf(() => render("{{ 'abc }}", {})).message).toBe("Unclosed string literal at line 1, column 4");
    expect(errorOf(() => render("{{ x | nofilter }}", vars)).message).toBe("Unknown filter 'nofilter' at line 1, column 8");
    expect(errorOf(() => render("{{ x is weird }}", vars)).message).toMatch(/^Unknown test 'weird' \(expected .*\) at line 1, column 9$/);
    expect(errorOf(() => render("{{ }}", {})).message).toBe("Empty expression '{{ }}' at line 1, column 1");
  });
  it("runtime errors", () => {
    expect(errorOf(() => render("{{ 1 / 0 }}", {})).message).toBe("Division by zero at line 1, column 6");
    expect(errorOf(() => render("{{ 'abc' | date }}", {})).message).toBe("'abc' is not an ISO-8601 date at line 1, column 12");
    expect(errorOf(() => render("{{ 'x' | abs }}", {})).message).toBe("abs expects a number, got string 'x' at line 1, column 10");
    expect(errorOf(() => render("{% for i in 5 %}{% endfor %}", {})).message).toBe("Cannot iterate over a number at line 1, column 13");
    expect(errorOf(() => render("{{ now(timeZone='Mars/Olympus') }}", {})).message).toBe("Unknown time zone 'Mars/Olympus' at line 1, column 4");
  });
  it("renderDeep reports the failing string's own position", () => {
    expect(renderDeep({ a: ["ok {{ inputs.name }}", 3, { b: "{{ inputs.name | upper }}" }], n: null }, vars)).toEqual({ a: ["ok x", 3, { b: "X" }], n: null });
    expect(errorOf(() => renderDeep({ a: { b: "x\n{{ missing }}" } }, vars)).message).toBe("missing is undefined at line 2, column 4");
  });
});

describe("safe by construction", () => {
  const payloads = [
    "{{ ''.constructor.constructor('return process')() }}",
    "{{ ''.constructor }}",
    "{{ x.__proto__ }}",
    "{{ x['__proto__'] }}",
    "{{ [].constructor }}",
    "{% set a = ''.constructor %}",
    "{{ x.constructor.prototype }}",
    "{{ x.toString }}",
    "{{ x.hasOwnProperty('a') }}",
    "{{ fn }}",
    "{{ fn() }}",
    "{{ {'__proto__': {'polluted': 1}} }}",
    "{{ x | merge({'constructor': 1}) }}",
    "{{ (inputs.list).constructor }}",
    "{{ inputs.name.length }}",
    "{{ process.env }}",
    "{{ globalThis }}",
  ];
  for (const p of payloads) {
    it(`refuses ${p}`, () => {
      const e = errorOf(() => render(p, vars));
      expect(e.message).toMatch(/at line 1, column \d+$/);
      expect(e.message).not.toMatch(/pwned|\[native code\]|=>/);
    });
  }
  it("leaves prototypes untouched", () => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
  it("reports which key was refused", () => {
    expect(errorOf(() => render("{{ x.__proto__ }}", vars)).message).toBe("Access to '__proto__' is not allowed at line 1, column 6");
    expect(errorOf(() => render("{{ fn }}", vars)).message).toBe("Functions are not accessible from templates at line 1, column 4");
    expect(errorOf(() => render("{{ x.toString }}", vars)).message).toBe("x.toString is undefined at line 1, column 4");
  });
});

describe("limits", () => {
  it("caps loop iterations across a render", () => {
    const t = "{% for i in 1..10 %}{% for j in 1..10 %}.{% endfor %}{% endfor %}";
    expect(render(t, {}, { maxIterations: 1000 })).toHaveLength(100);
    expect(errorOf(() => render(t, {}, { maxIterations: 50 })).reason).toBe("Template exceeds the limit of 50 loop iterations");
  });
  it("caps huge ranges before allocating them", () => {
    expect(errorOf(() => render("{{ range(0, 1000000000) | length }}", {})).message).toBe("Template exceeds the limit of 100000 loop iterations at line 1, column 4");
    expect(errorOf(() => render("{% for i in 0..100000000 %}{% endfor %}", {})).reason).toBe("Template exceeds the limit of 100000 loop iterations");
  });
  it("caps output length, including strings built by ~", () => {
    expect(errorOf(() => render("{% for i in 1..20 %}xxxxxxxxxx{% endfor %}", {}, { maxOutputLength: 100 })).reason).toBe("Rendered output exceeds the limit of 100 characters");
    const doubling = "{% set s = 'ab' %}{% for i in 1..40 %}{% set s = s ~ s %}{% endfor %}{{ s | length }}";
    expect(errorOf(() => render(doubling, {}, { maxOutputLength: 1 << 20 })).reason).toBe("Rendered output exceeds the limit of 1048576 characters");
  });
  it("bounds recursive render()", () => {
    expect(errorOf(() => render("{{ render(t) }}", { t: "{{ render(t) }}" })).reason).toMatch(/nested more than 10 levels|did not settle/);
  });
});

describe("caching", () => {
  it("parses a template once and reuses the compiled form", () => {
    const t = `{{ inputs.name }} cached ${Math.random()}`;
    const before = expressionCacheStats().parses;
    const a = compileTemplate(t);
    render(t, vars);
    render(t, vars);
    expect(compileTemplate(t)).toBe(a);
    expect(expressionCacheStats().parses - before).toBe(1);
  });
  it("plain strings never reach the parser", () => {
    const before = expressionCacheStats().parses;
    render(`plain ${Math.random()}`, {});
    expect(expressionCacheStats().parses).toBe(before);
  });
  it("bare expressions are cached too", () => {
    const e = `inputs.name == '${Math.random()}'`;
    const before = expressionCacheStats().parses;
    expect(evaluate(e, vars)).toBe(false);
    expect(evaluate(e, vars)).toBe(false);
    expect(expressionCacheStats().parses - before).toBe(1);
  });
});
