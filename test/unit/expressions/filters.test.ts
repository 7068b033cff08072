import { describe, expect, it } from "vitest";
import { render, renderTyped } from "../../../expressions/index.js";

const vars = {
  s: "Hello World",
  list: [3, 1, 2],
  m: { b: 2, a: 1 },
  date: "2024-01-15T10:20:30.123456Z",
  nested: [[1, 2], [3], 4],
  json: '{"a":{"b":[10,20]},"items":[{"id":1},{"id":2}]}',
};
const r = (t: string): string => render(t, vars);
const typed = (t: string): unknown => renderTyped(t, vars);

describe("string filters", () => {
  it("case and whitespace", () => {
    expect(r("{{ s | upper }} {{ s | lower }} {{ 'hello world' | capitalize }} {{ 'hello big world' | title }} [{{ '  x  ' | trim }}]"))
      .toBe("HELLO WORLD hello world Hello world Hello Big World [x]");
  });
  it("replace with a map or two strings, and with regexp", () => {
    expect(r("{{ s | replace({'Hello': 'Bye', 'World': 'All'}) }} {{ s | replace('o', '0') }} {{ 'a1b22' | replace('[0-9]+', '#', regexp=true) }}"))
      .toBe("Bye All Hell0 W0rld a#b#");
  });
  it("split, join, substrings, starts/ends", () => {
    expect(typed("{{ 'a,b,,c,,' | split(',') }}")).toEqual(["a", "b", "", "c"]);
    expect(typed("{{ 'a,b,c' | split(',', 2) }}")).toEqual(["a", "b,c"]);
    expect(r("{{ list | join('-') }} {{ 'a.b.c' | substringBefore('.') }} {{ 'a.b.c' | substringAfter('.') }} {{ 'a.b.c' | substringBeforeLast('.') }} {{ 'a.b.c' | substringAfterLast('.') }}"))
      .toBe("3-1-2 a b.c a.b c");
    expect(r("{{ s | startsWith('Hell') }} {{ s | endsWith('x') }}")).toBe("true false");
  });
  it("abbreviate, slugify, escapeChar, indent", () => {
    expect(r("{{ s | abbreviate(8) }} {{ 'Héllo, Wörld! 2024' | slugify }}")).toBe("Hello... hello-world-2024");
    expect(r("{{ \"it's\" | escapeChar('single') }} {{ 'say \"x\"' | escapeChar('double') }} {{ \"it's\" | escapeChar('shell') }}")).toBe("it\\'s say \\\"x\\\" it'\\''s");
    expect(r("{{ 'a\nb' | indent(2) }}|{{ 'a\nb' | nindent(2) }}")).toBe("a\n  b|\n  a\n  b");
  });
  it("url and base64 encodings, hashes", () => {
    expect(r("{{ 'a b&c=d/é' | urlencode }} {{ 'a+b%26c' | urldecode }}")).toBe("a+b%26c%3Dd%2F%C3%A9 a b&c");
    expect(r("{{ 'hello' | base64encode }} {{ 'aGVsbG8=' | base64decode }}")).toBe("aGVsbG8= hello");
    expect(r("{{ 'abc' | md5 }} {{ 'abc' | sha256 | abbreviate(11) }}")).toBe("900150983cd24fb0d6963f7d28e17f72 ba7816bf...");
  });
  it("number and abs", () => {
    expect(typed("{{ '42' | number }}")).toBe(42);
    expect(typed("{{ '4.5' | number }}")).toBe(4.5);
    expect(typed("{{ '4.9' | number('INT') }}")).toBe(4);
    expect(typed("{{ -3 | abs }}")).toBe(3);
  });
});

describe("collection filters", () => {
  it("keys, values, first, last, length", () => {
    expect(typed("{{ m | keys }}")).toEqual(["b", "a"]);
    expect(typed("{{ m | values }}")).toEqual([2, 1]);
    expect(r("{{ list | first }} {{ list | last }} {{ s | first }} {{ list | length }} {{ s | length }} {{ m | length }}")).toBe("3 2 H 3 11 2");
  });
  it("sort, rsort, reverse, distinct, flatten, chunk, slice, merge", () => {
    expect(typed("{{ list | sort }}")).toEqual([1, 2, 3]);
    expect(typed("{{ list | rsort }}")).toEqual([3, 2, 1]);
    expect(typed("{{ list | reverse }}")).toEqual([2, 1, 3]);
    expect(r("{{ 'abc' | reverse }}")).toBe("cba");
    expect(typed("{{ [1, 2, 1, 3, 2] | distinct }}")).toEqual([1, 2, 3]);
    expect(typed("{{ nested | flatten }}")).toEqual([1, 2, 3, 4]);
    expect(typed("{{ [1, 2, 3, 4, 5] | chunk(2) }}")).toEqual([[1, 2], [3, 4], [5]]);
    expect(typed("{{ [1, 2, 3, 4] | slice(1, 3) }}")).toEqual([2, 3]);
    expect(r("{{ 'abcdef' | slice(2, 4) }}")).toBe("cd");
    expect(typed("{{ [1] | merge([2, 3]) }}")).toEqual([1, 2, 3]);
    expect(typed("{{ m | merge({'c': 3, 'a': 9}) }}")).toEqual({ b: 2, a: 9, c: 3 });
  });
  it("default for undefined, null and empty", () => {
    expect(r("{{ nope | default('a') }} {{ m.zzz | default('b') }} {{ '' | default('c') }} {{ s | default('d') }} {{ [] | default('e') }}")).toBe("a b c Hello World e");
  });
  it("a null input passes through most filters", () => {
    expect(renderTyped("{{ null | upper }}", {})).toBeNull();
  });
});

describe("serialisation filters", () => {
  it("json / toJson and yaml / toYaml", () => {
    expect(r("{{ m | toJson }} {{ 'x' | json }} {{ null | toJson }}")).toBe('{"b":2,"a":1} "x" null');
    expect(r("{{ m | yaml }}")).toBe("b: 2\na: 1\n");
    expect(r("{{ list | toYaml }}")).toBe("- 3\n- 1\n- 2\n");
  });
  it("jq returns a list of results", () => {
    expect(typed("{{ json | jq('.a.b') }}")).toEqual([[10, 20]]);
    expect(typed("{{ json | jq('.a.b[0]') }}")).toEqual([10]);
    expect(typed("{{ json | jq('.items[].id') }}")).toEqual([1, 2]);
    expect(typed("{{ json | jq('.items | length') }}")).toEqual([2]);
    expect(typed("{{ m | jq('keys') }}")).toEqual([["a", "b"]]);
    expect(typed("{{ json | jq('.items | map(.id)') }}")).toEqual([[1, 2]]);
    expect(typed("{{ json | jq('.items[] | select(.id > 1) | .id') }}")).toEqual([2]);
    expect(typed("{{ json | jq('.a.b | first') }}")).toEqual([10]);
    expect(r("{{ json | jq('.a.b[1]') | first }}")).toBe("20");
  });
});

describe("date filters", () => {
  it("formats with Java patterns, named formats and time zones", () => {
    expect(r("{{ date | date('yyyy-MM-dd HH:mm:ss') }}")).toBe("2024-01-15 10:20:30");
    expect(r("{{ date | date('yyyy-MM-dd HH:mm:ss.SSS XXX', timeZone='Europe/Paris') }}")).toBe("2024-01-15 11:20:30.123 +01:00");
    expect(r("{{ date | date('EEEE d MMMM yy, h:mm a') }}")).toBe("Monday 15 January 24, 10:20 AM");
    expect(r("{{ date | date }}")).toBe("2024-01-15T10:20:30.123456Z");
    expect(r("{{ date | date('iso_sec') }} {{ date | date('sql') }}")).toBe("2024-01-15T10:20:30Z 2024-01-15 10:20:30.123456");
    expect(r("{{ date | date('iso_local_date') }} {{ date | date('iso_instant') }}")).toBe("2024-01-15 2024-01-15T10:20:30.123456Z");
    expect(r("{{ '2024-07-01T12:00:00+02:00' | date('HH:mm XXX', timeZone='America/New_York') }}")).toBe("06:00 -04:00");
    expect(r("{{ 1700000000 | date('yyyy-MM-dd') }}")).toBe("2023-11-14");
    expect(r("{{ '15/01/2024 08:05' | date('yyyy-MM-dd HH:mm', existingFormat='dd/MM/yyyy HH:mm') }}")).toBe("2024-01-15 08:05");
  });
  it("dateAdd with units", () => {
    expect(r("{{ '2024-01-31T10:00:00Z' | dateAdd(1, 'MONTHS', 'yyyy-MM-dd') }}")).toBe("2024-02-29");
    expect(r("{{ date | dateAdd(-2, 'DAYS', 'yyyy-MM-dd') }} {{ date | dateAdd(90, 'MINUTES', 'HH:mm') }}")).toBe("2024-01-13 11:50");
    expect(r("{{ '2024-03-30T12:00:00+01:00' | dateAdd(1, 'DAYS', 'iso_sec', timeZone='Europe/Paris') }}")).toBe("2024-03-31T12:00:00+02:00");
  });
  it("timestamps", () => {
    expect(typed("{{ '2024-01-15T10:20:30.123456Z' | timestamp }}")).toBe(1705314030);
    expect(typed("{{ date | timestampMilli }}")).toBe(1705314030123);
    expect(typed("{{ date | timestampMicro }}")).toBe(1705314030123456);
    expect(r("{{ date | timestampNano }}")).toBe("1705314030123456000");
  });
});
