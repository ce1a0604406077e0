import type { Redis } from 'ioredis';
import { hashId } from '../../hash.js';
import type { Key, PendingAdd, PendingAddResult, PendingSet } from '../../ports.js';
import type { RedisKeys } from './keys.js';
import { clearArea } from './scan.js';
import { runScript } from './scripts.js';

/** cbArgs as stored: JSON, with `undefined` as the empty string (which JSON never produces). */
export const encode = (v: unknown) => (v === undefined ? '' : JSON.stringify(v));
export const decode = (s: string) => (s === '' ? undefined : JSON.parse(s));

/** Requests per script call (a 1,000-request batch is one call). */
const CHUNK = 1000;

/**
 * Pending requests per pair: one list (`{P:N}:p:l:<hash>`) holding the job id, then the
 * cbArgs of every request, added and taken by scripts so coalescing is exact across processes.
 */
export class RedisPendingSet implements PendingSet {
  constructor(
    private readonly client: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async addMany(items: PendingAdd[]): Promise<PendingAddResult[]> {
    if (items.length === 0) return [];
    // Group by namespace (one script call per group), remembering each item's place.
    const groups = new Map<string, number[]>();
    items.forEach((it, i) => {
      let g = groups.get(it.key.ns);
      if (!g) groups.set(it.key.ns, (g = []));
      g.push(i);
    });
    // One script call per namespace and chunk (one for a usual batch), sent together; no
    // pipeline object (ioredis copies every defined script onto each one it creates).
    const calls: { part: number[]; reply: Promise<(number | string)[]> }[] = [];
    for (const [ns, idx] of groups) {
      for (let c = 0; c < idx.length; c += CHUNK) {
        const part = c === 0 && idx.length <= CHUNK ? idx : idx.slice(c, c + CHUNK);
        const args: string[] = [this.keys.tag(ns)];
        for (const i of part) {
          const it = items[i]!;
          args.push(hashId(it.key.id), it.jobId, encode(it.cbArgs));
        }
        calls.push({ part, reply: runScript<(number | string)[]>(this.client, 'pending-add-n', [this.keys.pendingCount(ns)], args) });
      }
    }
    const replies = await Promise.all(calls.map((c) => c.reply));
    const out: PendingAddResult[] = new Array(items.length);
    calls.forEach(({ part }, c) => {
      const r = replies[c]!;
      for (let j = 0; j < part.length; j++) out[part[j]!] = { first: Number(r[2 * j]) === 1, jobId: String(r[2 * j + 1]) };
    });
    return out;
  }

  async takeAll(key: Key) {
    const h = hashId(key.id);
    const all = await runScript<string[]>(this.client, 'pending-take-2', [this.keys.pending(key.ns, h), this.keys.pendingCount(key.ns)], []);
    return all.map(decode);
  }

  async jobIdOf(key: Key) {
    return (await this.client.lindex(this.keys.pending(key.ns, hashId(key.id)), 0)) ?? undefined;
  }

  async count(ns: string) {
    return Math.max(0, Number((await this.client.get(this.keys.pendingCount(ns))) ?? 0));
  }

  async clear() {
    await clearArea(this.client, this.keys, 'p');
    await this.client.del(this.keys.namespaces('pending')); // written by earlier versions
  }

  async close() {}
}
