import { ConfigError } from './errors.js';

export type Size = number | string;

/** Binary multiples, as memory is counted (1KB = 1024 bytes). */
const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** Bytes from a number (already bytes) or a string like '512KB', '64MB', '1GB', '4096'. */
export function toBytes(v: Size, what = 'size'): number {
  const hint = "use a number of bytes or a size such as '64MB'";
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 1) throw new ConfigError(`${what} ${v}: ${hint}`);
    return Math.floor(v);
  }
  const m = typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*([kmg]?b)?\s*$/i.exec(v) : null;
  const n = m ? Math.floor(Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]!) : 0;
  if (n <= 0) throw new ConfigError(`${what} ${JSON.stringify(v) ?? String(v)}: ${hint}`);
  return n;
}
