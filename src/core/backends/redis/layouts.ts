import type { RedisClient } from './connection.js';
import type { RedisKeys } from './keys.js';
import { runScript } from './scripts.js';
import { MAX_SHARDS } from './shards.js';

interface Stored {
  n: number;
  seen: number[];
}

function parse(raw: string): Stored | undefined {
  try {
    const r = JSON.parse(raw) as Partial<Stored>;
    const n = Number(r.n);
    if (!Number.isInteger(n) || n < 1 || n > MAX_SHARDS) return undefined;
    const seen = Array.isArray(r.seen) ? r.seen.map(Number).filter((m) => Number.isInteger(m) && m >= 1 && m <= MAX_SHARDS) : [];
    return { n, seen };
  } catch {
    return undefined;
  }
}

/** Apply an HGETALL of the layouts; operations this process declared keep their own N. */
function apply(keys: RedisKeys, flat: string[] | Record<string, string>) {
  const entries = Array.isArray(flat) ? Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i]!, flat[2 * i + 1]!] as const) : Object.entries(flat);
  for (const [op, raw] of entries) {
    const rec = parse(raw);
    if (rec) keys.layouts.set(op, rec.n, rec.seen);
  }
}

/**
 * Read every operation's layout: when a backend opens (processes without definitions use
 * them), and from time to time in workers (a layout another process introduced since).
 */
export async function loadLayouts(client: RedisClient, keys: RedisKeys) {
  apply(keys, await client.hgetall(keys.layoutsKey()));
}

/**
 * Record the `shards` of the operations a process defines (one script call), and use them:
 * this process writes with its own N; it reads, drains and invalidates every layout seen.
 */
export async function declareLayouts(client: RedisClient, keys: RedisKeys, shards: Record<string, number>) {
  const args: string[] = [];
  for (const [op, n] of Object.entries(shards)) {
    if (!Number.isInteger(n) || n < 1 || n > MAX_SHARDS) throw new RangeError(`shards of ${op} must be an integer from 1 to ${MAX_SHARDS}`);
    args.push(op, String(n));
    keys.layouts.declare(op, n);
  }
  if (args.length === 0) return;
  apply(keys, await runScript<string[]>(client, 'layouts-declare-1', [keys.layoutsKey()], args));
}

/**
 * What a worker does every few seconds: record its own operations' layouts again (they may
 * have been removed by a `cleanup`) and read everyone's (a layout introduced since it started).
 */
export async function refreshLayouts(client: RedisClient, keys: RedisKeys) {
  const own = keys.layouts.declared();
  if (Object.keys(own).length > 0) await declareLayouts(client, keys, own);
  else await loadLayouts(client, keys);
}
