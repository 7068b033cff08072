/**
 * Open-loop load: requests are started at fixed times (rate per minute) whatever the answers, and
 * each latency is measured from the time the request was *scheduled*, not sent, so a stalled
 * process (client or server) shows up as latency instead of silently lowering the rate
 * (coordinated omission).
 */
import { percentile, round } from "./report.js";

/** One request of the load: resolves once the work it started has reached its terminal state. */
export type StartOne = (i: number) => Promise<void>;

/** What one rate gave. */
export interface RateResult {
  ratePerMinute: number;
  durationS: number;
  started: number;
  completed: number;
  failed: number;
  /** Requests still unfinished when the drain deadline passed (counted at the deadline in the percentiles). */
  unfinished: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** How late the sender was against the schedule (p99, ms): a loaded client shows here. */
  sendLagP99Ms: number;
  /** First error message, if any request failed. */
  firstError?: string;
}

export interface OpenLoopOptions {
  ratePerMinute: number;
  durationMs: number;
  /** How long to wait after the last request for the stragglers. */
  drainMs: number;
}

/** Runs `start` at `ratePerMinute` for `durationMs`, then waits up to `drainMs` for the last ones. */
export async function openLoop(start: StartOne, opts: OpenLoopOptions): Promise<RateResult> {
  const intervalMs = 60_000 / opts.ratePerMinute;
  const total = Math.max(1, Math.round(opts.durationMs / intervalMs));
  const latencies: number[] = [];
  const lags: number[] = [];
  let failed = 0;
  let firstError: string | undefined;
  const pending = new Set<number>();
  let allDone: () => void = () => undefined;
  const t0 = performance.now() + 20;
  let next = 0;
  const launch = (i: number) => {
    const scheduled = t0 + i * intervalMs;
    lags.push(performance.now() - scheduled);
    pending.add(i);
    start(i).then(
      () => latencies.push(performance.now() - scheduled),
      (err: unknown) => {
        failed++;
        firstError ??= err instanceof Error ? err.message : String(err);
      },
    ).finally(() => {
      pending.delete(i);
      if (next >= total && pending.size === 0) allDone();
    });
  };
  await new Promise<void>((resolve) => {
    // Every tick starts each request whose time has come, so a late tick catches up at once.
    const tick = () => {
      const now = performance.now();
      while (next < total && t0 + next * intervalMs <= now) launch(next++);
      if (next < total) setTimeout(tick, Math.max(0, Math.min(intervalMs, t0 + next * intervalMs - performance.now())));
      else resolve();
    };
    setTimeout(tick, Math.max(0, t0 - performance.now()));
  });
  const lastScheduled = t0 + (total - 1) * intervalMs;
  if (pending.size > 0) {
    await new Promise<void>((resolve) => {
      allDone = resolve;
      const timer = setTimeout(resolve, opts.drainMs);
      timer.unref();
    });
  }
  const unfinished = pending.size;
  // An unfinished request counts as at least as slow as the deadline it missed.
  const deadline = performance.now();
  const all = [...latencies, ...Array.from({ length: unfinished }, () => deadline - lastScheduled)];
  return {
    ratePerMinute: opts.ratePerMinute,
    durationS: round(opts.durationMs / 1000, 1),
    started: total,
    completed: latencies.length,
    failed,
    unfinished,
    p50Ms: round(percentile(all, 0.5), 1),
    p99Ms: round(percentile(all, 0.99), 1),
    maxMs: round(Math.max(...all), 1),
    sendLagP99Ms: round(percentile(lags, 0.99), 1),
    ...(firstError ? { firstError } : {}),
  };
}

/** The rates of the full run (per minute) and of `--quick`. */
export const FULL_RATES = [250, 500, 1_000, 2_000, 4_000, 8_000, 16_000];
export const QUICK_RATES = [1_000, 4_000, 16_000];

/**
 * Runs the rates in increasing order; stops after the first rate that left requests unfinished
 * or failed, or whose p50 passed 5 s (the system is saturated: its backlog would spill into every
 * higher rate).
 */
export async function rateSweep(start: StartOne, quick: boolean, log: (line: string) => void): Promise<{ rates: RateResult[]; maxRateP50Under1s: number | null; saturatedAt: number | null }> {
  const rates = quick ? QUICK_RATES : FULL_RATES;
  const durationMs = quick ? 10_000 : 60_000;
  const out: RateResult[] = [];
  let saturatedAt: number | null = null;
  let offset = 0;
  for (const rate of rates) {
    const base = offset;
    const r = await openLoop((i) => start(base + i), { ratePerMinute: rate, durationMs, drainMs: quick ? 20_000 : 60_000 });
    offset += r.started;
    out.push(r);
    log(`  ${rate}/min: p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, ${r.completed}/${r.started} done${r.failed ? `, ${r.failed} failed (${r.firstError})` : ""}${r.unfinished ? `, ${r.unfinished} unfinished` : ""}`);
    // Past 5 s of median latency the system is far beyond its capacity: higher rates add only waiting.
    if (r.unfinished > 0 || r.failed > 0 || r.p50Ms > 5_000) {
      saturatedAt = rate;
      break;
    }
  }
  const ok = out.filter((r) => r.p50Ms < 1_000 && r.unfinished === 0 && r.failed === 0);
  return { rates: out, maxRateP50Under1s: ok.length ? Math.max(...ok.map((r) => r.ratePerMinute)) : null, saturatedAt };
}
