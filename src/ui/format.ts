/**
 * Formatting for the dashboard: short numbers, rates, durations, ages, sparklines and
 * fixed-width cells. Pure functions, no Ink.
 */

/** 1234 → "1234", 12345 → "12.3k", 1234567 → "1.23M". Fits in 6 characters. */
export function fmtCount(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a < 10_000) return String(Math.round(n));
  if (a < 1_000_000) return `${trim(n / 1000, a < 100_000 ? 1 : 0)}k`;
  if (a < 1_000_000_000) return `${trim(n / 1_000_000, a < 10_000_000 ? 2 : a < 100_000_000 ? 1 : 0)}M`;
  return `${trim(n / 1_000_000_000, 1)}G`;
}

const trim = (x: number, digits: number) => x.toFixed(digits);

/** A per-second rate: null → "–", 0 → "0", 2.46 → "2.5", 123.4 → "123", 12345 → "12.3k". */
export function fmtRate(r: number | null | undefined): string {
  if (r === null || r === undefined || !Number.isFinite(r)) return '–';
  if (r === 0) return '0';
  if (r < 0.05) return '<0.1';
  if (r < 10) return r.toFixed(1);
  return fmtCount(r);
}

/** Run time: null → "–", 12 → "12ms", 1500 → "1.5s", 90000 → "1.5m". */
export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 60_000) return `${Math.round(ms / 1000)}s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)}m`;
  return `${(ms / 3_600_000).toFixed(1)}h`;
}

/** A ratio as a percentage: null → "–", 0.873 → "87%". */
export function fmtPct(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '–';
  return `${Math.round(ratio * 100)}%`;
}

/** How long ago: "0s", "42s", "3m", "5h", "2d". */
export function fmtAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** An interval for the status line: 1000 → "1s", 250 → "250ms", 1500 → "1.5s". */
export function fmtInterval(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  return Number.isInteger(s) ? `${s}s` : `${s.toFixed(1)}s`;
}

/** Cut to `width` characters, ending with "…" when cut. */
export function truncate(s: string, width: number): string {
  if (width <= 0) return '';
  if (s.length <= width) return s;
  if (width === 1) return '…';
  return `${s.slice(0, width - 1)}…`;
}

export const padRight = (s: string, width: number) => truncate(s, width).padEnd(width);
export const padLeft = (s: string, width: number) => truncate(s, width).padStart(width);

const BARS = '▁▂▃▄▅▆▇█';

/**
 * A sparkline of `width` cells for time-stamped values over the last `windowMs` before
 * `now`: the window is cut into `width` buckets, each drawn from the mean of its points,
 * scaled to the largest bucket. A bucket without points is a space (no data yet); a zero
 * is the lowest bar.
 */
export function sparkline(points: readonly { at: number; value: number }[], now: number, windowMs: number, width: number): string {
  if (width <= 0) return '';
  const sums = new Array<number>(width).fill(0);
  const counts = new Array<number>(width).fill(0);
  const start = now - windowMs;
  for (const p of points) {
    if (p.at <= start || p.at > now) continue;
    const i = Math.min(width - 1, Math.floor(((p.at - start) / windowMs) * width));
    sums[i]! += p.value;
    counts[i]!++;
  }
  const means = sums.map((s, i) => (counts[i] ? s / counts[i]! : null));
  const max = Math.max(0, ...means.map((m) => m ?? 0));
  return means
    .map((m) => {
      if (m === null) return ' ';
      if (max === 0 || m <= 0) return BARS[0]!;
      return BARS[Math.min(BARS.length - 1, Math.max(1, Math.ceil((m / max) * (BARS.length - 1))))]!;
    })
    .join('');
}

/** Text from the data (URIs, error messages, hosts) made safe for the terminal. */
export { printable } from '../core/printable.js';
