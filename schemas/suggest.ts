/** Edit distance between two strings: insertions, deletions, substitutions and swaps of neighbours. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        rows[0].push(j);
        continue;
      }
      let d = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2][j - 2] + 1);
      rows[i].push(d);
    }
  }
  return rows[a.length][b.length];
}

const simpleName = (s: string): string => s.slice(s.lastIndexOf(".") + 1).toLowerCase();

/**
 * The candidates closest to `wrong` (at most `max`), compared both as full names and by their last
 * dotted segment, so `io.kestra.core.log.Lg` suggests `io.kestra.plugin.core.log.Log`.
 */
export function closestNames(wrong: string, candidates: Iterable<string>, max = 3): string[] {
  const pkg = (s: string): string => s.slice(0, Math.max(0, s.lastIndexOf("."))).toLowerCase();
  const ws = simpleName(wrong);
  const wp = pkg(wrong);
  const scored: Array<{ name: string; score: number }> = [];
  for (const name of candidates) {
    const ns = simpleName(name);
    const short = editDistance(ws, ns) / Math.max(ws.length, ns.length, 1);
    // The simple name matters most; a different package only breaks ties.
    const np = pkg(name);
    const pack = wp === "" ? 0 : editDistance(wp, np) / Math.max(wp.length, np.length, 1);
    const score = short + 0.1 * pack;
    if (score <= 0.4) scored.push({ name, score });
  }
  scored.sort((x, y) => x.score - y.score || x.name.length - y.name.length || x.name.localeCompare(y.name));
  // Only names about as close as the best one: a clear typo gets one suggestion, not a list.
  const best = scored[0]?.score ?? 0;
  return scored.filter((s) => s.score <= best + 0.1).slice(0, max).map((s) => s.name);
}
