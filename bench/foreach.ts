/**
 * ForEach over 100, 1,000 and 10,000 trivial Return tasks through the executor harness (pure
 * reducer + scripted worker, no I/O): total time per size and time(10k)/time(1k), which stays
 * near 10 when each input costs O(changed task runs). Run: `npx tsx bench/foreach.ts`.
 */
import { parseFlowOrThrow } from "../schemas/flow-parser.js";
import { ExecutorHarness } from "../test/harness/executor-harness.js";

function flowFor(n: number, limit: number): string {
  return `
id: foreach_${n}
namespace: bench
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ range(1, ${n}) }}"
    concurrencyLimit: ${limit}
    tasks:
      - id: ret
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
`;
}

function once(n: number, limit: number): number {
  const flow = parseFlowOrThrow(flowFor(n, limit));
  const h = new ExecutorHarness();
  const t0 = performance.now();
  const ex = h.runFlow(flow);
  const ms = performance.now() - t0;
  if (ex.state.current !== "SUCCESS" || ex.taskRunList.length !== n + 1) {
    throw new Error(`foreach ${n}: ended ${ex.state.current} with ${ex.taskRunList.length} task runs`);
  }
  return ms;
}

const results: Record<string, Record<string, number>> = {};
for (const limit of [1, 0]) {
  once(1000, limit); // warm-up (JIT, template cache)
  const row: Record<string, number> = {};
  for (const n of [100, 1000, 10_000]) row[n] = Math.round(once(n, limit) * 10) / 10;
  row.ratio10kTo1k = Math.round((row[10_000] / row[1000]) * 100) / 100;
  results[`concurrencyLimit=${limit}`] = row;
}
console.log(JSON.stringify({ bench: "foreach", unit: "ms", results }, null, 2));
