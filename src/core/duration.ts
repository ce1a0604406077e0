import { ConfigError } from './errors.js';

export type Duration = number | string;

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Milliseconds from a number (already ms) or a string like '500ms', '30s', '1h', '1.5d'. */
export function toMs(d: Duration, what = 'duration'): number {
  if (typeof d === 'number') {
    if (!Number.isFinite(d) || d < 0) throw new ConfigError(`${what} must be a non-negative number of ms, got ${d}`);
    return d;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/.exec(d);
  if (!m) throw new ConfigError(`${what} "${d}" is not a duration; use e.g. 500ms, 30s, 5m, 1h, 1d`);
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 'ms']!);
}

export const optionalMs = (d: Duration | undefined, what?: string) => (d === undefined ? undefined : toMs(d, what));
