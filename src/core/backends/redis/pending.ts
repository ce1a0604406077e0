import type { Redis } from 'ioredis';
import { hashId } from '../../hash.js';
import type { Key, PendingAdd, PendingAddResult, PendingSet } from '../../ports.js';
import type { RedisKeys } from './keys.js';
import { clearArea } from './scan.js';
import { queueScript, results, runScript } from './scripts.js';

/** cbArgs as stored: JSON, with `undefined` as the empty string (which JSON never produces). */
export const encode = (v: unknown) => (v === undefined ? '' : JSON.stringify(v));
export const decode = (s: string) => (s === '' ? undefined : JSON.parse(s));

const CHUNK = 500;

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
    const p = this.client.pipeline();
    const calls: number[][] = [];
    for (const [ns, idx] of groups) {
      for (let c = 0; c < idx.length; c += CHUNK) {
        const part = idx.slice(c, c + CHUNK);
        const keys = [this.keys.pendingIndex(ns)];
        const args: string[] = [];
        for (const i of part) {
          const it = items[i]!;
          const h = hashId(it.key.id);
          keys.push(this.keys.pending(ns, h));
          args.push(h, it.jobId, encode(it.cbArgs));
        }
        queueScript(p, 'pending-add-n', keys, args);
        calls.push(part);
      }
    }
    p.sadd(this.keys.namespaces('pending'), ...groups.keys());
    const replies = results(await p.exec());
    const out: PendingAddResult[] = new Array(items.length);
    calls.forEach((part, c) => {
      const r = replies[c] as (number | string)[];
      part.forEach((i, j) => {
        out[i] = { first: Number(r[2 * j]) === 1, jobId: String(r[2 * j + 1]) };
      });
    });
    return out;
  }

  async takeAll(key: Key) {
    const h = hashId(key.id);
    const all = await runScript<string[]>(this.client, 'pending-take-2', [this.keys.pending(key.ns, h), this.keys.pendingIndex(key.ns)], [h]);
    return all.map(decode);
  }

  async jobIdOf(key: Key) {
    return (await this.client.lindex(this.keys.pending(key.ns, hashId(key.id)), 0)) ?? undefined;
  }

  async count(ns: string) {
    return this.client.scard(this.keys.pendingIndex(ns));
  }

  async clear() {
    await clearArea(this.client, this.keys, 'p');
    await this.client.del(this.keys.namespaces('pending'));
  }

  async close() {}
}
