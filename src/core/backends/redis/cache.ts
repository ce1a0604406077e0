import type { ChainableCommander, Redis } from 'ioredis';
import type { CacheStore, Key, StoredEntry } from '../../ports.js';
import type { RedisKeys } from './keys.js';
import { clearArea } from './scan.js';
import { queueScript, results, runScript } from './scripts.js';

/** Items per script call: big batches still go in one round trip, as several calls of one pipeline. */
const CHUNK = 500;
/** Keys per cache-get-n call (reads are cheap on the server; one call serves a 1,000-request batch). */
const GET_CHUNK = 1000;

const num = (s: string | null | undefined) => (s === '' || s === null || s === undefined ? null : Number(s));
const str = (n: number | null) => (n === null ? '' : String(n));

/**
 * An entry's header (field `h`): `createdAt,expiresAt,staleUntil,<uri part>` with '' for
 * null, and the uri part '' (no uri), '=' (the uri is the id) or '+' and the uri.
 */
const header = (e: StoredEntry, id: string) =>
  `${e.createdAt},${str(e.expiresAt)},${str(e.staleUntil)},${e.uri === undefined ? '' : e.uri === id ? '=' : `+${e.uri}`}`;

/** One entry as cache-get-n.lua answers it (the header and the value JSON); past staleUntil it is a miss. */
function parseEntry(h: string | null | undefined, v: string | null | undefined, id: string, now: number): StoredEntry | undefined {
  if (h === null || h === undefined || v === null || v === undefined) return undefined;
  const a = h.indexOf(',');
  const b = h.indexOf(',', a + 1);
  const c = h.indexOf(',', b + 1);
  const staleUntil = num(h.slice(b + 1, c));
  if (staleUntil !== null && staleUntil <= now) return undefined;
  const entry: StoredEntry = { value: JSON.parse(v), createdAt: Number(h.slice(0, a)), expiresAt: num(h.slice(a + 1, b)), staleUntil };
  if (c + 1 < h.length) entry.uri = h.charCodeAt(c + 1) === 61 /* = */ ? id : h.slice(c + 2);
  return entry;
}

function groupByNs<T extends { ns: string }>(items: T[]) {
  const groups = new Map<string, { item: T; i: number }[]>();
  items.forEach((item, i) => {
    let g = groups.get(item.ns);
    if (!g) groups.set(item.ns, (g = []));
    g.push({ item, i });
  });
  return groups;
}

function chunks<T>(xs: T[], n = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/**
 * Cache entries in Redis: one HASH per entry (`{P:N}:c:e:<hash>`: `i` id, `v` value JSON,
 * `h` header with the times and uri) expiring at `staleUntil`,
 * and per namespace a ZSET of raw ids (`{P:N}:c:ids`) for prefix scans with ZRANGEBYLEX.
 * The index is cleaned lazily: a scan drops ids whose entry is gone.
 */
export class RedisCacheStore implements CacheStore {
  readonly kind = 'redis';

  constructor(
    private readonly client: Redis,
    private readonly keys: RedisKeys,
    private readonly onClose: () => Promise<void> = async () => {},
  ) {}

  async getMany(keys: Key[]) {
    if (keys.length === 0) return [];
    const now = Date.now();
    const out: (StoredEntry | undefined)[] = new Array(keys.length);
    // One script call per namespace and chunk (usually one for a whole batch), pipelined.
    const calls: { idx: number[] | undefined; keys: string[]; args: string[] }[] = [];
    const ns0 = keys[0]!.ns;
    if (keys.length <= GET_CHUNK && keys.every((k) => k.ns === ns0)) {
      calls.push({ idx: undefined, keys: keys.map((k) => this.keys.entry(ns0, k.id)), args: [String(now), ...keys.map((k) => k.id)] });
    } else {
      for (const [ns, group] of groupByNs(keys)) {
        for (const part of chunks(group, GET_CHUNK)) {
          calls.push({ idx: part.map((g) => g.i), keys: part.map((g) => this.keys.entry(ns, g.item.id)), args: [String(now), ...part.map((g) => g.item.id)] });
        }
      }
    }
    let replies: string[][];
    if (calls.length === 1) replies = [await runScript<string[]>(this.client, 'cache-get-n', calls[0]!.keys, calls[0]!.args)];
    else {
      const p = this.client.pipeline();
      for (const c of calls) queueScript(p, 'cache-get-n', c.keys, c.args);
      replies = results(await p.exec()) as string[][];
    }
    calls.forEach((c, n) => {
      const r = replies[n]!;
      for (let j = 0; j < c.keys.length; j++) {
        const i = c.idx ? c.idx[j]! : j;
        out[i] = parseEntry(r[2 * j], r[2 * j + 1], keys[i]!.id, now);
      }
    });
    return out;
  }

  async setMany(items: { key: Key; entry: StoredEntry }[]) {
    if (items.length === 0) return;
    const now = Date.now();
    const p = this.client.pipeline();
    const groups = groupByNs(items.map((it) => ({ ns: it.key.ns, it })));
    for (const [ns, group] of groups) {
      for (const part of chunks(group)) {
        const keys = [this.keys.cacheIndex(ns)];
        const args: (string | number)[] = [now];
        for (const { item } of part) {
          const { key, entry } = item.it;
          const json = JSON.stringify(entry.value);
          if (json === undefined) throw new TypeError(`cache value for ${key.ns} is not JSON-serialisable`);
          keys.push(this.keys.entry(ns, key.id));
          args.push(key.id, json, header(entry, key.id), entry.staleUntil === null ? '' : String(Math.ceil(entry.staleUntil)));
        }
        queueScript(p, 'cache-set-n', keys, args);
      }
    }
    p.sadd(this.keys.namespaces('cache'), ...groups.keys());
    results(await p.exec());
  }

  private async perNs(keys: Key[], add: (p: ChainableCommander, ns: string, part: Key[]) => void) {
    if (keys.length === 0) return [] as unknown[];
    const p = this.client.pipeline();
    for (const [ns, group] of groupByNs(keys)) for (const part of chunks(group.map((g) => g.item))) add(p, ns, part);
    return results(await p.exec());
  }

  async deleteMany(keys: Key[]) {
    const r = await this.perNs(keys, (p, ns, part) =>
      queueScript(p, 'cache-delete-n', [this.keys.cacheIndex(ns), ...part.map((k) => this.keys.entry(ns, k.id))], part.map((k) => k.id)),
    );
    return r.reduce<number>((a, b) => a + Number(b), 0);
  }

  async markStale(keys: Key[], now: number) {
    const r = await this.perNs(keys, (p, ns, part) =>
      queueScript(p, 'cache-mark-stale-n', part.map((k) => this.keys.entry(ns, k.id)), [now]),
    );
    return r.reduce<number>((a, b) => a + Number(b), 0);
  }

  async *scan(ns: string, prefix: string, opts: { batchSize?: number } = {}) {
    const batch = Math.max(1, opts.batchSize ?? 500);
    const index = this.keys.cacheIndex(ns);
    // Ids are compared as UTF-8 bytes; no id contains the byte 0xFF, so [prefix, prefix+0xFF] is
    // exactly the ids starting with the literal prefix (no wildcard characters exist in LEX ranges).
    const max: string | Buffer = prefix === '' ? '+' : Buffer.concat([Buffer.from(`[${prefix}`), Buffer.from([0xff])]);
    let min: string | Buffer = prefix === '' ? '-' : `[${prefix}`;
    for (;;) {
      const ids: string[] = await this.client.zrangebylex(index, min, max, 'LIMIT', 0, batch);
      if (ids.length === 0) return;
      const alive = await runScript<number[]>(this.client, 'cache-prune-n', [index, ...ids.map((id) => this.keys.entry(ns, id))], ids);
      for (let i = 0; i < ids.length; i++) if (alive[i] === 1) yield ids[i]!;
      if (ids.length < batch) return;
      min = `(${ids[ids.length - 1]}`;
    }
  }

  async namespaces() {
    const all = await this.client.smembers(this.keys.namespaces('cache'));
    if (all.length === 0) return [];
    const p = this.client.pipeline();
    for (const ns of all) p.zcard(this.keys.cacheIndex(ns));
    const counts = results(await p.exec()) as number[];
    return all.filter((_, i) => counts[i]! > 0).sort();
  }

  async count(ns: string) {
    return this.client.zcard(this.keys.cacheIndex(ns));
  }

  async clear() {
    await clearArea(this.client, this.keys, 'c');
    await this.client.del(this.keys.namespaces('cache'));
  }

  async close() {
    await this.onClose();
  }
}
