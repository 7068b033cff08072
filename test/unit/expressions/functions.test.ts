import { describe, expect, it } from "vitest";
import { ExpressionError, render, renderTyped, type RenderServices } from "../../../expressions/index.js";

const NOW = Date.UTC(2024, 0, 15, 10, 20, 30, 123);
const services: RenderServices = {
  now: () => NOW,
  uuid: () => "00000000-0000-4000-8000-000000000001",
  secret: (name) => (name === "API_KEY" ? "s3cr3t" : undefined),
  read: (path) => `contents of ${path}`,
  kv: (key, ns) => (key === "counter" ? { v: 1, ns: ns ?? "default" } : undefined),
  errorLogs: () => [{ taskId: "t1", message: "boom" }],
};
const r = (t: string, vars: Record<string, unknown> = {}): string => render(t, vars, { services });
const typed = (t: string, vars: Record<string, unknown> = {}): unknown => renderTyped(t, vars, { services });

describe("functions", () => {
  it("now() uses the injected clock and Kestra's ISO format", () => {
    expect(r("{{ now() }}")).toBe("2024-01-15T10:20:30.123000Z");
    expect(r("{{ now(timeZone='Asia/Tokyo') }}")).toBe("2024-01-15T19:20:30.123000+09:00");
    expect(r("{{ now(format='yyyy-MM-dd') }}")).toBe("2024-01-15");
    expect(r("{{ now() | dateAdd(1, 'DAYS', 'yyyy-MM-dd') }}")).toBe("2024-01-16");
  });
  it("json/fromJson and yaml/fromYaml parse text", () => {
    expect(typed("{{ json('{\"a\": [1, 2]}') }}")).toEqual({ a: [1, 2] });
    expect(r("{{ fromJson('{\"a\": {\"b\": 5}}').a.b }}")).toBe("5");
    expect(typed("{{ yaml('a: 1\nb: [x, y]') }}")).toEqual({ a: 1, b: ["x", "y"] });
    expect(typed("{{ fromYaml('- 1') }}")).toEqual([1]);
  });
  it("render() renders recursively, renderOnce() once", () => {
    const vars = { a: "{{ b }}", b: "{{ c }}", c: "end" };
    expect(r("{{ render(a) }}", vars)).toBe("end");
    expect(r("{{ renderOnce(a) }}", vars)).toBe("{{ c }}");
    expect(r("{{ render(a, recursive=false) }}", vars)).toBe("{{ c }}");
  });
  it("services: secret, read, kv, errorLogs, uuid", () => {
    expect(r("{{ secret('API_KEY') }}")).toBe("s3cr3t");
    expect(r("{{ read('kestra://a/b.txt') }}")).toBe("contents of kestra://a/b.txt");
    expect(typed("{{ kv('counter') }}")).toEqual({ v: 1, ns: "default" });
    expect(typed("{{ kv('counter', 'company.team') }}")).toEqual({ v: 1, ns: "company.team" });
    expect(typed("{{ kv('missing', errorOnMissing=false) }}")).toBeNull();
    expect(typed("{{ errorLogs() }}")).toEqual([{ taskId: "t1", message: "boom" }]);
    expect(r("{{ uuid() }}")).toBe("00000000-0000-4000-8000-000000000001");
  });
  it("a missing service or value fails clearly", () => {
    expect(() => render("{{ secret('X') }}", {})).toThrow("secret() is not available here at line 1, column 4");
    expect(() => render("{{ read('p') }}", {})).toThrow("read() is not available here");
    expect(() => r("{{ secret('NOPE') }}")).toThrow("Cannot find secret 'NOPE' at line 1, column 4");
    expect(() => r("{{ kv('missing') }}")).toThrow("Cannot find the KV pair 'missing'");
    expect(render("{{ uuid() }}", {})).toMatch(/^[0-9a-f-]{36}$/);
  });
  it("currentEachOutput follows taskrun.value and the parents' values", () => {
    const outputs = { outer: { inner: { value: "deep" } } };
    const vars = { outputs: { t: outputs }, taskrun: { value: "inner" }, parents: [{ taskrun: { value: "outer" } }] };
    expect(typed("{{ currentEachOutput(outputs.t) }}", vars)).toEqual({ value: "deep" });
    expect(r("{{ currentEachOutput(outputs.t).value }}", vars)).toBe("deep");
    const flat = { outputs: { t: { a: { v: 1 }, b: { v: 2 } } }, taskrun: { value: "b" } };
    expect(r("{{ currentEachOutput(outputs.t).v }}", flat)).toBe("2");
  });
  it("range, max, min", () => {
    expect(typed("{{ range(1, 5) }}")).toEqual([1, 2, 3, 4, 5]);
    expect(typed("{{ range(0, 10, 3) }}")).toEqual([0, 3, 6, 9]);
    expect(typed("{{ range(5, 1, -2) }}")).toEqual([5, 3, 1]);
    expect(typed("{{ max(3, 9, 2) }}")).toBe(9);
    expect(typed("{{ min([4, 1, 8]) }}")).toBe(1);
  });
  it("unknown functions and bad arguments are errors", () => {
    expect(() => r("{{ nope() }}")).toThrow("Unknown function 'nope' at line 1, column 4");
    expect(() => r("{{ range(1, 2, step=1) }}")).toThrow("Function 'range' has no argument named 'step' (expected start, end, increment)");
    const err = (() => {
      try {
        r("{{ json('{bad') }}");
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ExpressionError);
    expect((err as ExpressionError).reason).toMatch(/^json\(\): invalid JSON/);
  });
});
