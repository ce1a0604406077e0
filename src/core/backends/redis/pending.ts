import type { RedisClient } from './connection.js';
import { newId } from '../../hash.js';
import type { Key, PendingAdd, PendingAddResult, PendingSet } from '../../ports.js';
import { idHash, type RedisKeys } from './keys.js';
import { clearArea, TagBatch } from './scan.js';
import { runScript } from './scripts.js';

/** cbArgs as stored: JSON, with `undefined` as the empty string (which JSON never produces). */
export const encode = (v: unknown) => (v === undefined ? '' : JSON.stringify(v));
export const decode = (s: string) => (s === '' ? undefined : JSON.parse(s));

/** Requests per script call (a 1,000-request batch is one call). */
const CHUNK = 1000;
/** Request ids are remembered per bucket of this length, for one to two buckets. */
export const REQUEST_BUCKET_MS = 5 * 60_000;
/** Leak guard of a list being taken by takeAll (its caller deletes it at once). */
const TAKE_GUARD_MS = 3600_000;

/**
 * Pending requests per pair: one list (`{P:N}:p:l:<hash>`, under the pair's tag) holding the job id, then the
 * cbArgs of every request, added and taken by scripts so coalescing is exact across processes.
 * Adding is safe to run twice: each request's id is remembered for 5 to 10 minutes
 * (pending-add-n.lua), so a resent add answers the same and adds its cbArgs once. The
 * worker takes the cbArgs with its delivery record (steps.ts), not with takeAll.
 */
export class RedisPendingSet implements PendingSet {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async addMany(items: PendingAdd[]): Promise<PendingAddResult[]> {
    if (items.length === 0) return [];
    const hashes = items.map((it) => idHash(it.key.id)); // refuses ids with lone surrogates before anything is sent
    // Group by tag (the operation's, or each shard's; one script call per group).
    const groups = new Map<string, number[]>();
    items.forEach((it, i) => {
      const tag = this.keys.placeOf(it.key, hashes[i]!);
      let g = groups.get(tag);
      if (!g) groups.set(tag, (g = []));
      g.push(i);
    });
    // One script call per tag and chunk (one for a usual batch), sent together; no
    // pipeline object (ioredis copies every defined script onto each one it creates).
    const calls: { part: number[]; reply: Promise<(number | string)[]> }[] = [];
    const bucket = Math.floor(Date.now() / REQUEST_BUCKET_MS);
    const until = String((bucket + 2) * REQUEST_BUCKET_MS);
    for (const [tag, idx] of groups) {
      const keys = [this.keys.pendingCount(tag), this.keys.requests(tag, bucket)];
      for (let c = 0; c < idx.length; c += CHUNK) {
        const part = c === 0 && idx.length <= CHUNK ? idx : idx.slice(c, c + CHUNK);
        const args: string[] = [tag, until];
        for (const i of part) {
          const it = items[i]!;
          args.push(hashes[i]!, it.jobId, it.silent ? '1' : '0', it.silent ? '' : encode(it.cbArgs));
        }
        calls.push({ part, reply: runScript<(number | string)[]>(this.client, 'pending-add-n', keys, args) });
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
    const hash = idHash(key.id);
    const tag = this.keys.placeOf(key, hash);
    // Renamed to a key of this take, read, then deleted: each step is safe to run twice.
    const taken = `${tag}:p:t:${newId()}`;
    const all = await runScript<string[]>(this.client, 'pending-take-3', [this.keys.pending(tag, hash), this.keys.pendingCount(tag), taken], [TAKE_GUARD_MS]);
    await this.client.del(taken);
    return all.map(decode);
  }

  async jobIdOf(key: Key) {
    const hash = idHash(key.id);
    return (await this.client.lindex(this.keys.pending(this.keys.placeOf(key, hash), hash), 0)) ?? undefined;
  }

  async count(ns: string) {
    const tags = this.keys.layouts.tagsOf(ns);
    if (tags.length === 1) return Math.max(0, Number((await this.client.get(this.keys.pendingCount(tags[0]!))) ?? 0));
    const p = new TagBatch(this.client);
    for (const t of tags) p.add(t, (q) => q.get(this.keys.pendingCount(t)));
    return (await p.exec()).reduce<number>((a, n) => a + Math.max(0, Number(n ?? 0)), 0);
  }

  async clear() {
    await clearArea(this.client, this.keys, 'p');
    await this.client.del(this.keys.namespaces('pending')); // written by earlier versions
  }

  async close() {}
}
