import type { StoredEntry } from './ports.js';

/** Build an entry: fresh for `ttlMs` (null = forever), then served stale for `graceMs` (null = until replaced). */
export function makeEntry(value: unknown, now: number, ttlMs: number | null, graceMs: number | null, uri?: string): StoredEntry {
  const expiresAt = ttlMs === null ? null : now + ttlMs;
  const staleUntil = expiresAt === null || graceMs === null ? null : expiresAt + graceMs;
  return uri === undefined ? { value, createdAt: now, expiresAt, staleUntil } : { value, createdAt: now, expiresAt, staleUntil, uri };
}

export const isFresh = (e: StoredEntry, now: number) => e.expiresAt === null || e.expiresAt > now;

/** A stored entry that can still be served (fresh, or stale within its grace). */
export const isServable = (e: StoredEntry | undefined, now: number): e is StoredEntry =>
  !!e && (e.staleUntil === null || e.staleUntil > now);

/**
 * JSON round trip: the value as any backend will store it. Throws a TypeError naming what
 * cannot be stored (functions, symbols, BigInt, cycles, undefined at the top).
 */
export function toJsonValue(value: unknown): unknown {
  // Values that JSON keeps as they are need no round trip.
  const t = typeof value;
  if (value === null || t === 'boolean' || t === 'string' || (t === 'number' && Number.isFinite(value) && !Object.is(value, -0))) return value;
  const bad: string[] = [];
  const text = JSON.stringify(value, (k, v) => {
    const t = typeof v;
    if (t === 'function' || t === 'symbol') bad.push(`${k || 'the value'} is a ${t}`);
    if (t === 'bigint') throw new TypeError(`${k || 'the value'} is a BigInt`);
    return v;
  });
  if (text === undefined) throw new TypeError(`the value is ${value === undefined ? 'undefined' : typeof value}`);
  if (bad.length) throw new TypeError(bad.slice(0, 3).join(', '));
  const out: unknown = JSON.parse(text);
  if (typeof out === 'object' && out !== null) texts.set(out, text);
  return out;
}

/** The JSON text toJsonValue made each object from, so a store writing it need not stringify it again. */
const texts = new WeakMap<object, string>();

/** JSON.stringify(value), from what toJsonValue kept when it made this value. */
export const jsonText = (value: unknown): string | undefined =>
  (typeof value === 'object' && value !== null && texts.get(value)) || JSON.stringify(value);
