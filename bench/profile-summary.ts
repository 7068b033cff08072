/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): the top frames by self time, with
 * their share of all samples, and the share of idle / GC / program time.
 * Usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write("usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top]\n");
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const frames = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id);
  if (!n) continue;
  const where = n.callFrame.url ? `${n.callFrame.url.replace(/^.*\/(node_modules\/|main\/)/, "$1")}:${n.callFrame.lineNumber + 1}` : "";
  const key = `${n.callFrame.functionName || "(anonymous)"} ${where}`.trim();
  frames.set(key, (frames.get(key) ?? 0) + us);
}
// Self time per component: an npm package, a folder of this repository, or the runtime itself.
const components = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id);
  if (!n) continue;
  const url = n.callFrame.url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  const own = /\/main\/([^/]+)\//.exec(url)?.[1];
  const key = pkg ? `npm:${pkg}` : own ? `lanner:${own}` : url.startsWith("node:") ? "node internals" : url.startsWith("wasm:") ? "wasm (PGlite)" : n.callFrame.functionName.startsWith("(") ? n.callFrame.functionName : "native / other";
  components.set(key, (components.get(key) ?? 0) + us);
}
const pct = (us: number) => `${((us / total) * 100).toFixed(1)} %`;
process.stdout.write(`profile ${file}: ${(total / 1e6).toFixed(2)} s of samples\n`);
for (const [k, us] of [...frames].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 25))) process.stdout.write(`${pct(us).padStart(8)}  ${k}\n`);
process.stdout.write("by component (self time):\n");
for (const [k, us] of [...components].sort((a, b) => b[1] - a[1]).slice(0, 15)) process.stdout.write(`${pct(us).padStart(8)}  ${k}\n`);
