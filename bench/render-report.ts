/**
 * `npm run bench:report`: renders `bench/results/*.json` as Markdown tables and two hand-written
 * SVG charts (p50 latency per rate, per system; per-task overhead of the 40-task chain, per
 * system) into `bench/README.md`, between the `<!-- results:begin -->` and `<!-- results:end -->`
 * markers (appended at the end the first time). Everything else in the README is kept.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BENCH_DIR } from "./lib/report.js";

type Json = Record<string, unknown>;

const BEGIN = "<!-- results:begin -->";
const END = "<!-- results:end -->";

const obj = (v: unknown): Json => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const numOr = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
/** Three significant figures at most (a table of timings on a shared machine has no more). */
const sig = (x: number): number => (Math.abs(x) >= 100 ? Math.round(x) : Math.abs(x) >= 10 ? Math.round(x * 10) / 10 : Math.round(x * 100) / 100);
const show = (v: unknown, unit = ""): string => (typeof v === "number" ? `${sig(v).toLocaleString("en-US")}${unit}` : v === null || v === undefined ? "–" : String(v));

function loadResults(dir: string): Map<string, Json> {
  const out = new Map<string, Json>();
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".json")).sort()) out.set(f.replace(/\.json$/, ""), obj(JSON.parse(readFileSync(join(dir, f), "utf8"))));
  return out;
}

function when(doc: Json): string {
  const m = obj(doc.machine);
  return `${String(doc.at ?? "").slice(0, 10)}, ${String(m.commit ?? "").slice(0, 8)}${m.dirty ? "+" : ""}`;
}

/** One throughput series: a system's name and its rate results. */
interface Series {
  system: string;
  rates: Array<{ rate: number; p50: number; p99: number; unfinished: number }>;
}

function seriesOf(system: string, rates: unknown): Series {
  return {
    system,
    rates: arr(rates).map(obj).map((r) => ({ rate: numOr(r.ratePerMinute) ?? 0, p50: numOr(r.p50Ms) ?? 0, p99: numOr(r.p99Ms) ?? 0, unfinished: numOr(r.unfinished) ?? 0 })),
  };
}

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

/** p50 latency per rate, log-log, one polyline per system. */
function latencySvg(series: Series[]): string {
  const W = 640, H = 380, L = 70, R = 170, T = 30, B = 50;
  const rates = [250, 500, 1_000, 2_000, 4_000, 8_000, 16_000];
  const x = (rate: number) => L + ((Math.log2(rate) - Math.log2(250)) / (Math.log2(16_000) - Math.log2(250))) * (W - L - R);
  const yMin = 1, yMax = 100_000;
  const y = (ms: number) => T + (1 - (Math.log10(Math.min(yMax, Math.max(yMin, ms))) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (H - T - B);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${L}" y="18" font-size="13">p50 end-to-end latency per rate (2-task flow / 2-step workflow), log scales</text>`,
  ];
  for (const ms of [1, 10, 100, 1_000, 10_000, 100_000]) {
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(ms)}" y2="${y(ms)}" stroke="#ddd"/>`, `<text x="${L - 6}" y="${y(ms) + 4}" text-anchor="end">${ms >= 1_000 ? `${ms / 1_000} s` : `${ms} ms`}</text>`);
  }
  parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(1_000)}" y2="${y(1_000)}" stroke="#999" stroke-dasharray="4 3"/>`);
  for (const rate of rates) parts.push(`<text x="${x(rate)}" y="${H - B + 16}" text-anchor="middle">${rate >= 1_000 ? `${rate / 1_000}k` : rate}</text>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">executions started per minute (open loop)</text>`);
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const pts = s.rates.filter((r) => r.rate > 0).map((r) => `${x(r.rate).toFixed(1)},${y(r.p50).toFixed(1)}`);
    if (pts.length > 1) parts.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.join(" ")}"/>`);
    for (const r of s.rates.filter((q) => q.rate > 0)) {
      parts.push(`<circle cx="${x(r.rate).toFixed(1)}" cy="${y(r.p50).toFixed(1)}" r="3.5" fill="${r.unfinished > 0 ? "white" : c}" stroke="${c}" stroke-width="1.5"/>`);
    }
    parts.push(`<rect x="${W - R + 14}" y="${T + i * 18}" width="12" height="3" fill="${c}"/>`, `<text x="${W - R + 32}" y="${T + i * 18 + 5}">${esc(s.system)}</text>`);
  });
  parts.push(`<text x="${W - R + 14}" y="${T + series.length * 18 + 12}" fill="#555">open dot: saturated</text>`, `<text x="${W - R + 14}" y="${T + series.length * 18 + 26}" fill="#555">(requests left unfinished)</text>`, "</svg>");
  return `${parts.join("\n")}\n`;
}

/** Per-task overhead bars, one per system. */
function overheadSvg(bars: Array<{ system: string; ms: number }>): string {
  const W = 640, rowH = 26, L = 170, R = 80, T = 34;
  const H = T + bars.length * rowH + 20;
  const max = Math.max(1, ...bars.map((b) => b.ms));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="10" y="18" font-size="13">Per-task overhead, 40 sequential trivial tasks (median, ms per task; lower is better)</text>`,
  ];
  bars.forEach((b, i) => {
    const w = (b.ms / max) * (W - L - R);
    const yy = T + i * rowH;
    parts.push(
      `<text x="${L - 8}" y="${yy + 15}" text-anchor="end">${esc(b.system)}</text>`,
      `<rect x="${L}" y="${yy + 4}" width="${w.toFixed(1)}" height="16" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="${L + w + 6}" y="${yy + 16}">${sig(b.ms)} ms</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

function renderSection(results: Map<string, Json>): { markdown: string; latency: string; overhead: string } {
  const md: string[] = [BEGIN, "", "## Results (rendered by `npm run bench:report` from `bench/results/`)", ""];
  const peers = results.get("peers-all") ?? results.get("peers-all-quick");
  // Peers first: the figures that count are the same-run ratios.
  const systems = arr(peers?.systems).map(obj);
  if (peers && systems.length) {
    md.push(`### Side by side (\`npm run bench -- peers${peers.quick ? " --quick" : ""}\`, ${when(peers)})`, "");
    md.push("| system | chain total (median) | per-task overhead | highest rate with p50 < 1 s | p50 at 1,000/min |", "|---|---|---|---|---|");
    for (const s of systems) {
      const tp = obj(s.throughput);
      md.push(`| ${show(s.system)}${s.version ? ` (${show(s.version)})` : ""} | ${show(obj(s.chainTotalMs).median, " ms")} | ${show(s.chainPerTaskMs, " ms")} | ${show(tp.maxRateP50Under1s, "/min")} | ${show(tp.p50At1000Ms, " ms")} |`);
    }
    md.push("", "Ratios Lanner / peer (chain and p50: lower is better; highest rate: higher is better):", "", "```");
    for (const l of arr(peers.lines)) md.push(String(l));
    md.push("```", "");
  }
  md.push("![p50 latency per rate](throughput-latency.svg)", "", "![per-task overhead](per-task-overhead.svg)", "");

  const chainRows = [...results].filter(([k]) => k.startsWith("chain-"));
  if (chainRows.length) {
    md.push("### chain", "", "| result | total median | per-task median | per-task p99 | CPU per task | run |", "|---|---|---|---|---|---|");
    for (const [k, d] of chainRows) md.push(`| ${k} | ${show(obj(d.totalMs).median, " ms")} | ${show(obj(d.perTaskOverheadMs).median, " ms")} | ${show(obj(d.perTaskOverheadMs).p99, " ms")} | ${show(d.cpuMsPerTask, " ms")} | ${when(d)} |`);
    md.push("");
  }
  const tpRows = [...results].filter(([k]) => k.startsWith("throughput-"));
  if (tpRows.length) {
    md.push("### throughput (open loop, latency from the scheduled request time to the terminal state)", "", "| result | rate /min | started | done | unfinished | p50 | p99 | run |", "|---|---|---|---|---|---|---|---|");
    for (const [k, d] of tpRows) {
      for (const r of arr(d.rates).map(obj)) md.push(`| ${k} | ${show(r.ratePerMinute)} | ${show(r.started)} | ${show(r.completed)} | ${show(r.unfinished)} | ${show(r.p50Ms, " ms")} | ${show(r.p99Ms, " ms")} | ${when(d)} |`);
      md.push(`| ${k} | **highest rate with p50 < 1 s: ${show(d.maxRateP50Under1s, "/min")}** | | | | | | |`);
    }
    md.push("");
  }
  const feRows = [...results].filter(([k]) => k.startsWith("foreach-"));
  if (feRows.length) {
    md.push("### foreach (ForEach over Return tasks, command → terminal event)", "", "| result | concurrencyLimit | 100 | 1,000 | 10,000 | time(10k)/time(1k) | run |", "|---|---|---|---|---|---|---|");
    for (const [k, d] of feRows) {
      for (const s of arr(d.series).map(obj)) {
        const ms = obj(s.ms);
        md.push(`| ${k} | ${show(s.concurrencyLimit)} | ${show(ms["100"], " ms")} | ${show(ms["1000"], " ms")} | ${show(ms["10000"], " ms")} | ${show(s.ratio10kTo1k)} | ${when(d)} |`);
      }
      for (const s of arr(d.reducerOnly).map(obj)) {
        const ms = obj(s.ms);
        md.push(`| ${k} (reducer only) | ${show(s.concurrencyLimit)} | ${show(ms["100"], " ms")} | ${show(ms["1000"], " ms")} | ${show(ms["10000"], " ms")} | ${show(s.ratio10kTo1k)} | ${when(d)} |`);
      }
    }
    md.push("");
  }
  const rsRows = [...results].filter(([k]) => k.startsWith("restore-"));
  if (rsRows.length) {
    md.push("### restore", "", "| result | events | replay from offset 0 (median) | executor start on that data (median) | run |", "|---|---|---|---|---|");
    for (const [k, d] of rsRows) md.push(`| ${k} | ${show(d.events)} | ${show(obj(d.replayEventsPerSecond).median, " events/s")} | ${show(obj(d.executorStartMs).median, " ms")} | ${when(d)} |`);
    md.push("");
  }
  const fpRows = [...results].filter(([k]) => k.startsWith("footprint-"));
  if (fpRows.length) {
    md.push("### footprint (`lanner server standalone`, resident memory)", "", "| result | idle | executions in flight | RSS with them | peak | run |", "|---|---|---|---|---|---|");
    for (const [k, d] of fpRows) md.push(`| ${k} | ${show(obj(d.idle).rssMiB, " MiB")} | ${show(d.inFlight)} | ${show(obj(d.withInFlight).rssMiB, " MiB")} | ${show(obj(d.withInFlight).peakMiB, " MiB")} | ${when(d)} |`);
    md.push("");
  }
  md.push(END);

  const series: Series[] = systems.length
    ? systems.map((s) => seriesOf(String(s.system), obj(s.throughput).rates))
    : tpRows.map(([k, d]) => seriesOf(k.replace(/^throughput-/, "lanner-"), d.rates));
  const bars = systems.length
    ? systems.map((s) => ({ system: String(s.system), ms: numOr(s.chainPerTaskMs) ?? 0 }))
    : chainRows.map(([k, d]) => ({ system: k.replace(/^chain-/, "lanner-"), ms: numOr(obj(d.perTaskOverheadMs).median) ?? 0 }));
  return { markdown: md.join("\n"), latency: latencySvg(series), overhead: overheadSvg(bars) };
}

/** Replaces the marked section of `readme` (or appends it). */
function spliceSection(readme: string, section: string): string {
  const b = readme.indexOf(BEGIN);
  const e = readme.indexOf(END);
  if (b >= 0 && e > b) return `${readme.slice(0, b)}${section}${readme.slice(e + END.length)}`;
  return `${readme.trimEnd()}\n\n${section}\n`;
}

const { markdown, latency, overhead } = renderSection(loadResults(join(BENCH_DIR, "results")));
const readmePath = join(BENCH_DIR, "README.md");
writeFileSync(readmePath, spliceSection(readFileSync(readmePath, "utf8"), markdown));
writeFileSync(join(BENCH_DIR, "throughput-latency.svg"), latency);
writeFileSync(join(BENCH_DIR, "per-task-overhead.svg"), overhead);
process.stdout.write(`written: ${readmePath}, bench/throughput-latency.svg, bench/per-task-overhead.svg\n`);
