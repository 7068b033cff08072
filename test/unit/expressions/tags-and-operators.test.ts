import { describe, expect, it } from "vitest";
import { evaluate, render, renderTyped, isTruthy } from "../../../expressions/index.js";

const vars = {
  inputs: { name: "world", n: 3, list: [1, 2, 3], m: { a: 1, b: 2 }, empty: [], nil: null },
  taskrun: { value: "x" },
  outputs: { each: { x: { v: 42 }, y: { v: 7 } }, t1: { value: "ok" } },
};
const r = (t: string, v: Record<string, unknown> = vars): string => render(t, v);

describe("plain strings and printing", () => {
  it("returns strings without template syntax unchanged", () => {
    const s = "no expressions here { } %";
    expect(render(s, {})).toBe(s);
  });
  it("prints variables, null as nothing, lists and maps as JSON", () => {
    expect(r("Hello {{ inputs.name }}!")).toBe("Hello world!");
    expect(r("[{{ inputs.nil }}]")).toBe("[]");
    expect(r("{{ inputs.m }} {{ inputs.list }}")).toBe('{"a":1,"b":2} [1,2,3]');
    expect(r("{{ true }} {{ 1.5 }} {{ -2 }}")).toBe("true 1.5 -2");
  });
  it("reads members, indexes and dynamic keys", () => {
    expect(r("{{ inputs['name'] }} {{ inputs.list[0] }} {{ inputs.list.1 }} {{ outputs.each[taskrun.value].v }}")).toBe("world 1 2 42");
    expect(r("{{ outputs['t1'].value }}")).toBe("ok");
  });
});

describe("tags", () => {
  it("for loops with loop variables and else", () => {
    expect(r("{% for x in inputs.list %}{{ loop.index }}:{{ x }}{% if not loop.last %},{% endif %}{% endfor %}")).toBe("0:1,1:2,2:3");
    expect(r("{% for x in inputs.list %}{{ loop.first }}/{{ loop.length }}/{{ loop.revindex }} {% endfor %}")).toBe("true/3/2 false/3/1 false/3/0 ");
    expect(r("{% for x in inputs.empty %}x{% else %}none{% endfor %}")).toBe("none");
  });
  it("iterates maps as entries or key, value pairs", () => {
    expect(r("{% for e in inputs.m %}{{ e.key }}={{ e.value }};{% endfor %}")).toBe("a=1;b=2;");
    expect(r("{% for k, v in inputs.m %}{{ k }}={{ v }};{% endfor %}")).toBe("a=1;b=2;");
  });
  it("if / elseif / else", () => {
    const t = "{% if inputs.n > 5 %}big{% elseif inputs.n > 2 %}mid{% else %}small{% endif %}";
    expect(r(t)).toBe("mid");
    expect(r(t, { inputs: { n: 9 } })).toBe("big");
    expect(r(t, { inputs: { n: 1 } })).toBe("small");
  });
  it("set, scoped to its loop", () => {
    expect(r("{% set x = inputs.n * 2 %}{{ x }}")).toBe("6");
    expect(r("{% set x = 1 %}{% for i in [1,2] %}{% set x = i %}{% endfor %}{{ x }}")).toBe("1");
  });
  it("raw, verbatim and comments", () => {
    expect(r("{% raw %}{{ not rendered }}{% endraw %}")).toBe("{{ not rendered }}");
    expect(r("{% verbatim %}{% if %}{% endverbatim %}")).toBe("{% if %}");
    expect(r("a{# a comment {{ x }} #}b")).toBe("ab");
  });
  it("whitespace control", () => {
    expect(r("a  \n {{- inputs.name -}} \n  b")).toBe("aworldb");
    expect(r("x\n{%- if true -%}\n  y\n{%- endif -%}\nz")).toBe("xyz");
    expect(r("a {{ 1 }} b")).toBe("a 1 b");
  });
  it("string interpolation in double quotes", () => {
    expect(r('{{ "hi #{inputs.name}!" }}')).toBe("hi world!");
    expect(r("{{ 'no #{interp}' }}")).toBe("no #{interp}");
  });
});

describe("operators", () => {
  it("arithmetic with Pebble's long division", () => {
    expect(r("{{ 1 + 2 }} {{ 5 - 7 }} {{ 3 * 4 }} {{ 7 / 2 }} {{ 7.5 / 2.5 }} {{ 1.5 / 2 }} {{ 7 % 3 }} {{ -inputs.n }}")).toBe("3 -2 12 3 3 0.75 1 -3");
    expect(r("{{ 2 + 3 * 4 }} {{ (2 + 3) * 4 }}")).toBe("14 20");
  });
  it("concatenation binds tighter than filters", () => {
    expect(r("{{ 'a' ~ 1 ~ true }}")).toBe("a1true");
    expect(r("{{ 'a' ~ 'b' | upper }}")).toBe("AB");
  });
  it("comparisons and logic", () => {
    expect(r("{{ 1 == 1 }} {{ 1 != 2 }} {{ 1 < 2 }} {{ 2 > 1 }} {{ 2 <= 2 }} {{ 3 >= 4 }}")).toBe("true true true true true false");
    expect(r("{{ 'b' > 'a' }} {{ '2024-01-02' > '2024-01-01' }} {{ [1,2] == [1,2] }} {{ {'a':1} equals {'a':1} }}")).toBe("true true true true");
    expect(r("{{ true and false }} {{ true or false }} {{ not true }} {{ not false and false }}")).toBe("false true false true");
  });
  it("contains, in, not in", () => {
    expect(r("{{ inputs.list contains 2 }} {{ inputs.m contains 'a' }} {{ 'hello' contains 'ell' }} {{ inputs.list contains [1, 3] }}")).toBe("true true true true");
    expect(r("{{ 2 in inputs.list }} {{ 5 not in inputs.list }} {{ 'z' in inputs.m }}")).toBe("true true false");
  });
  it("tests: defined, null, empty, even, odd, iterable, map, json, negated", () => {
    expect(r("{{ inputs.name is defined }} {{ inputs.zzz is defined }} {{ inputs.zzz is not defined }}")).toBe("true false true");
    expect(r("{{ inputs.nil is null }} {{ inputs.name is not null }} {{ inputs.empty is empty }} {{ inputs.list is empty }}")).toBe("true true true false");
    expect(r("{{ 4 is even }} {{ 3 is odd }} {{ 3 is even }} {{ inputs.list is iterable }} {{ inputs.m is map }} {{ '{\"a\":1}' is json }} {{ 'x' is json }}"))
      .toBe("true true false true true true false");
  });
  it("ternary", () => {
    expect(r("{{ inputs.n > 2 ? 'big' : 'small' }} {{ inputs.empty ? 'y' : 'n' }}")).toBe("big n");
  });
  it("?? takes the right side for undefined or null; ??? only for undefined", () => {
    expect(r("{{ inputs.zzz ?? 'd' }} {{ inputs.nil ?? 'd' }} {{ inputs.name ?? 'd' }} {{ zzz.yyy.xxx ?? 'deep' }}")).toBe("d d world deep");
    expect(r("[{{ inputs.nil ??? 'd' }}] {{ inputs.zzz ??? 'u' }} {{ inputs.name ??? 'u' }}")).toBe("[] u world");
  });
  it("ranges", () => {
    expect(r("{{ 1..4 }} {{ 3..1 }}")).toBe("[1,2,3,4] [3,2,1]");
    expect(r("{% for i in 1..3 %}{{ i }}{% endfor %}")).toBe("123");
  });
  it("literals", () => {
    expect(renderTyped("{{ {'a': [1, 'two', null, true], 'b': {'c': 1.5}} }}", {})).toEqual({ a: [1, "two", null, true], b: { c: 1.5 } });
    expect(r("{{ \"dq\" }} {{ 'it\\'s' }}")).toBe("dq it's");
  });
});

describe("typed evaluation", () => {
  it("renderTyped returns values for a single expression, strings otherwise", () => {
    expect(renderTyped("{{ [1,2] }}", {})).toEqual([1, 2]);
    expect(renderTyped("{{ inputs.m }}\n", vars)).toEqual({ a: 1, b: 2 });
    expect(renderTyped("{{ inputs.n }}", vars)).toBe(3);
    expect(renderTyped("n={{ inputs.n }}", vars)).toBe("n=3");
    expect(renderTyped("plain", vars)).toBe("plain");
  });
  it("evaluate takes bare expressions and templates", () => {
    expect(evaluate("inputs.n == 3", vars)).toBe(true);
    expect(evaluate("inputs.list | length", vars)).toBe(3);
    expect(evaluate("{{ inputs.n > 1 }}", vars)).toBe(true);
    expect(evaluate("[1, 2, 3]", vars)).toEqual([1, 2, 3]);
  });
  it("isTruthy follows Kestra's condition rules", () => {
    for (const v of [true, "true", "yes", 1, [1], { a: 1 }, "TRUE"]) expect(isTruthy(v)).toBe(true);
    for (const v of [false, "false", "False", "0", "", "  ", null, undefined, 0, [], {}]) expect(isTruthy(v)).toBe(false);
  });
});
