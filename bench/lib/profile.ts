/**
 * Summary of a V8 CPU profile (`node --cpu-prof`, or the inspector's `Profiler.stop`): the top
 * frames by self time with their share of all samples, then self time per component (an npm
 * package, a top-level folder of this repository, Node's internals, GC, idle).
 */
import { fileURLToPath, pathToFileURL } from "node:url";

export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** This checkout's root, as a path and as a file URL (frames name their script either way). */
const ROOT_PATH = fileURLToPath(new URL("../../", import.meta.url));
const ROOT_URL = pathToFileURL(ROOT_PATH).href;

/** The part of a frame's script location below this checkout's root (or below node_modules). */
function shortLocation(url: string): string {
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) return url.slice(nm);
  if (url.startsWith(ROOT_URL)) return url.slice(ROOT_URL.length);
  if (url.startsWith(ROOT_PATH)) return url.slice(ROOT_PATH.length);
  return url;
}

function componentOf(node: CpuProfileNode): string {
  const url = node.callFrame.url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return `npm:${pkg}`;
  const local = shortLocation(url);
  if (local !== url) return `lanner:${local.split("/")[0]}`;
  if (url.startsWith("node:")) return "node internals";
  if (url.startsWith("wasm:")) return "wasm (PGlite)";
  return node.callFrame.functionName.startsWith("(") ? node.callFrame.functionName : "native / other";
}

/** The summary as text: `top` frames by self time, then the 15 largest components. */
export function summariseProfile(profile: CpuProfile, top = 25): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0) || 1;
  const frames = new Map<string, number>();
  const components = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    const where = n.callFrame.url ? `${shortLocation(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : "";
    const key = `${n.callFrame.functionName || "(anonymous)"} ${where}`.trim();
    frames.set(key, (frames.get(key) ?? 0) + us);
    const c = componentOf(n);
    components.set(c, (components.get(c) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / total) * 100).toFixed(1)} %`.padStart(8);
  const lines = [`${(total / 1e6).toFixed(2)} s of samples; top frames by self time:`];
  for (const [k, us] of [...frames].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`${pct(us)}  ${k}`);
  lines.push("by component (self time):");
  for (const [k, us] of [...components].sort((a, b) => b[1] - a[1]).slice(0, 15)) lines.push(`${pct(us)}  ${k}`);
  return `${lines.join("\n")}\n`;
}
