/**
 * Expression engine micro-benchmark: median nanoseconds per `render` of a typical task template
 * (cached after the first parse) against a plain string (the no-syntax fast path), plus a cold
 * parse for reference. Run with `npx tsx bench/expressions.ts`; prints JSON.
 */
import { compileTemplate, render, renderTyped } from "../expressions/index.js";

const vars = {
  flow: { id: "hello", namespace: "company.team" },
  execution: { id: "4wjtkzwVGBM9yKnjm3yv8r", startDate: "2024-01-15T10:20:30.123456Z" },
  inputs: { name: "world", count: 3, tags: ["a", "b", "c"] },
  outputs: { fetch: { body: '{"items":[{"id":1},{"id":2}]}', code: 200 }, each: { a: { value: 1 }, b: { value: 2 } } },
  taskrun: { value: "b" },
};

const cases: Record<string, string> = {
  plain: "echo 'hello world, nothing to render here'",
  typical: "Hello {{ inputs.name | upper }} from {{ flow.namespace }}.{{ flow.id }} ({{ execution.id }}) at {{ execution.startDate | date('yyyy-MM-dd HH:mm') }}",
  loop: "{% for t in inputs.tags %}{{ loop.index }}={{ t }}{% if not loop.last %},{% endif %}{% endfor %}",
  typed: "{{ outputs.each[taskrun.value].value ?? 0 }}",
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function measure(fn: () => unknown, perSample: number, samples: number): number {
  for (let i = 0; i < perSample; i++) fn();
  const out: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < perSample; i++) fn();
    out.push(Number(process.hrtime.bigint() - t0) / perSample);
  }
  return median(out);
}

const results: Record<string, number> = {};
for (const [name, template] of Object.entries(cases)) {
  results[`render_${name}_ns`] = Math.round(measure(() => (name === "typed" ? renderTyped(template, vars) : render(template, vars)), 2000, 21));
}
let n = 0;
results.cold_parse_typical_ns = Math.round(measure(() => compileTemplate(`${cases.typical} ${n++}`), 200, 11));
results.ratio_typical_vs_plain = Number((results.render_typical_ns / Math.max(1, results.render_plain_ns)).toFixed(1));
console.log(JSON.stringify(results, null, 2));
