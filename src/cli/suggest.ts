/** "Did you mean …?": the nearest of some names to what the user typed. */

/** Edit distance (insertions, deletions, substitutions, and swaps of two neighbours). */
export function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate nearest to `typed`, if it is near enough to be what was meant (at most a
 * third of its length away, and at most 3 edits); a candidate that starts with what was
 * typed counts as near (`quar` → `quarantine`).
 */
export function nearest(typed: string, candidates: Iterable<string>): string | undefined {
  const t = typed.toLowerCase();
  let best: { name: string; d: number } | undefined;
  for (const name of candidates) {
    const n = name.toLowerCase();
    const d = n.startsWith(t) && t.length >= 3 ? 0.5 : distance(t, n);
    if (!best || d < best.d) best = { name, d };
  }
  if (!best) return undefined;
  return best.d <= Math.min(3, Math.max(1, Math.floor(best.name.length / 3))) ? best.name : undefined;
}
