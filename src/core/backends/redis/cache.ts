import type { ChainableCommander } from 'ioredis';
import { jsonText } from '../../entry.js';
import { closeRedis, isCluster, readerConnection, type RedisClient } from './connection.js';
import type { CacheStore, Key, StoredEntry } from '../../ports.js';
import { RedisChangeFeed } from './changes.js';
import { idHash, type RedisKeys } from './keys.js';
import { ReadBatcher } from './read-batcher.js';
import { clearArea, TagBatch } from './scan.js';
import { queueScript, runScript } from './scripts.js';

/** Items per script call: big batches still go in one round trip, as several calls of one pipeline. */
const CHUNK = 500;
/** Keys per MGET (one MGET serves a 1,000-request batch). */
const GET_CHUNK = 1000;

const str = (n: number | null) => (n === null ? '' : String(n));

/**
 * An entry as stored: one STRING, so a batch is read with one MGET (no Lua, no command per
 * entry: see bench/README.md), holding the times, the raw id (hash collisions are misses),
 * the uri and the value JSON:
 *
 *   createdAt "," expiresAt "," staleUntil "," len(id) "," uri part "|" id [uri] value-JSON
 *
 * with '' for null times, and the uri part '' (no uri), '=' (the uri is the id) or len(uri).
 * Lengths count UTF-16 code units (the writer and the reader are both JavaScript); the first
 * three fields are what cache-mark-stale-n.lua edits.
 */
export function encodeEntry(e: StoredEntry, id: string, json: string) {
  const u = e.uri === undefined ? '' : e.uri === id ? '=' : String(e.uri.length);
  return `${e.createdAt},${str(e.expiresAt)},${str(e.staleUntil)},${id.length},${u}|${id}${u === '' || u === '=' ? '' : e.uri}${json}`;
}

/**
 * The number of digits `raw` holds from `from` up to `to` (no allocation: this runs once
 * per field of every entry read); null when empty, NaN when not digits.
 */
function digits(raw: string, from: number, to: number): number | null {
  if (from === to) return null;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = raw.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return Number(raw.slice(from, to)); // not a plain integer: let Number judge
    n = n * 10 + c;
  }
  return n;
}

/** The entry of `id` in a stored string; undefined for a miss, a collision, or past staleUntil. */
export function decodeEntry(raw: string | null | undefined, id: string, now: number): StoredEntry | undefined {
  if (raw === null || raw === undefined) return undefined;
  const a = raw.indexOf(',');
  const b = raw.indexOf(',', a + 1);
  const c = raw.indexOf(',', b + 1);
  const d = raw.indexOf(',', c + 1);
  const bar = raw.indexOf('|', d + 1);
  if (a < 0 || b < 0 || c < 0 || d < 0 || bar < 0) return undefined; // not an entry (an older layout)
  if (digits(raw, c + 1, d) !== id.length || !raw.startsWith(id, bar + 1)) return undefined;
  const staleUntil = digits(raw, b + 1, c);
  if (staleUntil !== null && staleUntil <= now) return undefined;
  let at = bar + 1 + id.length;
  let uri: string | undefined;
  if (bar > d + 1) {
    if (raw.charCodeAt(d + 1) === 61 /* = */) uri = id;
    else {
      const n = digits(raw, d + 1, bar) ?? 0;
      uri = raw.slice(at, at + n);
      at += n;
    }
  }
  const entry: StoredEntry = { value: JSON.parse(at === 0 ? raw : raw.slice(at)), createdAt: digits(raw, 0, a) ?? 0, expiresAt: digits(raw, a + 1, b), staleUntil };
  if (uri !== undefined) entry.uri = uri;
  return entry;
}

function chunks<T>(xs: T[], n = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** Merge ascending streams of ids into one, each id once. */
async function* mergeAscending(streams: AsyncGenerator<string>[]) {
  const heads = await Promise.all(streams.map((s) => s.next()));
  let last: string | undefined;
  for (;;) {
    let min = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i]!;
      if (h.done) continue;
      if (min < 0 || byteLess(h.value, (heads[min] as IteratorYieldResult<string>).value)) min = i;
    }
    if (min < 0) return;
    const v = (heads[min] as IteratorYieldResult<string>).value;
    if (v !== last) yield v;
    last = v;
    heads[min] = await streams[min]!.next();
  }
}

/** Redis orders LEX ranges by UTF-8 bytes (not UTF-16 code units as `<` does). */
const byteLess = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b)) < 0;

/**
 * Cache entries in Redis: one STRING per entry (`{P:N}:c:e:<hash>`, see `encodeEntry`) expiring at `staleUntil`,
 * and per namespace (per shard of a spread operation) a ZSET of raw ids (`{P:N}:c:ids`) for prefix scans with ZRANGEBYLEX.
 * The index is cleaned lazily: a scan drops ids whose entry is gone. Ids with lone
 * surrogates are refused with a TypeError (keys.ts idHash): two of them would share a key.
 */
export class RedisCacheStore implements CacheStore {
  readonly kind = 'redis';

  /** Reads go on a connection of their own (connection.ts readerConnection). */
  private readonly reader: RedisClient;
  /** Every write below publishes on its channel (changes.ts); subscribed on the first listen. */
  readonly changes: RedisChangeFeed;

  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    private readonly onClose: () => Promise<void> = async () => {},
  ) {
    this.reader = readerConnection(client);
    this.cluster = isCluster(client);
    this.batch = isCluster(this.reader) ? (keys) => this.reader.mget(keys) : ((b) => (keys: string[]) => b.mget(keys))(new ReadBatcher(this.reader));
    this.changes = new RedisChangeFeed(client, keys.changes());
  }

  private readonly cluster: boolean;
  /** MGET of keys of one slot (any keys on a single server), merged with the other reads of the tick there. */
  private readonly batch: (keys: string[]) => Promise<(string | null)[]>;

  /** Keys grouped by the tag of their pair (current layout), each with its hash and index. */
  private byTag(keys: Key[]) {
    const groups = new Map<string, { key: Key; hash: string; i: number }[]>();
    keys.forEach((key, i) => {
      const hash = idHash(key.id);
      const tag = this.keys.placeOf(key, hash);
      let g = groups.get(tag);
      if (!g) groups.set(tag, (g = []));
      g.push({ key, hash, i });
    });
    return groups;
  }

  async getMany(keys: Key[]) {
    if (keys.length === 0) return [];
    const ns0 = keys[0]!.ns;
    let raws: (string | null)[];
    if (keys.length <= GET_CHUNK && this.keys.layouts.count(ns0) === 1 && keys.every((k) => k.ns === ns0 && k.place === undefined)) {
      const tag = this.keys.tag(ns0);
      raws = await this.batch(keys.map((k) => this.keys.entry(tag, idHash(k.id))));
    } else if (keys.length <= GET_CHUNK && !this.cluster) {
      // One server: one MGET whatever the tags (a region's entry and its invalidation marker).
      raws = await this.batch(
        keys.map((k) => {
          const hash = idHash(k.id);
          return this.keys.entry(this.keys.placeOf(k, hash), hash);
        }),
      );
    } else {
      // One MGET per tag (a cluster slot) and chunk, sent together (auto-pipelined).
      const sent: Promise<(string | null)[]>[] = [];
      const calls: number[][] = [];
      for (const [tag, group] of this.byTag(keys)) {
        for (const part of chunks(group, GET_CHUNK)) {
          sent.push(this.reader.mget(part.map((g) => this.keys.entry(tag, g.hash))));
          calls.push(part.map((g) => g.i));
        }
      }
      const replies = await Promise.all(sent);
      raws = new Array(keys.length);
      calls.forEach((idx, n) => idx.forEach((i, j) => (raws[i] = replies[n]![j]!)));
    }
    const now = Date.now();
    const out: (StoredEntry | undefined)[] = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) out[i] = decodeEntry(raws[i], keys[i]!.id, now);
    return out;
  }

  async setMany(items: { key: Key; entry: StoredEntry }[]) {
    if (items.length === 0) return;
    const now = Date.now();
    const p = new TagBatch(this.client);
    const namespaces = new Set<string>();
    for (const [tag, group] of this.byTag(items.map((it) => it.key))) {
      namespaces.add(group[0]!.key.ns);
      for (const part of chunks(group)) {
        const keys = [this.keys.cacheIndex(tag)];
        const args: (string | number)[] = [now, this.keys.changes(), group[0]!.key.ns];
        for (const { hash, i } of part) {
          const { key, entry } = items[i]!;
          const json = jsonText(entry.value);
          if (json === undefined) throw new TypeError(`cache value for ${key.ns} is not JSON-serialisable`);
          keys.push(this.keys.entry(tag, hash));
          args.push(key.id, encodeEntry(entry, key.id, json), entry.staleUntil === null ? '' : String(Math.ceil(entry.staleUntil)));
        }
        p.add(tag, (q) => queueScript(q, 'cache-set-n', keys, args));
      }
    }
    p.add(this.keys.global, (q) => q.sadd(this.keys.namespaces('cache'), ...namespaces));
    await p.exec();
  }

  /**
   * One script call per tag and chunk, for keys in every place their pair may be: the
   * current layout's, and each earlier layout's while an operation's `shards` changed
   * (so deleting or invalidating reaches every copy).
   */
  private async everywhere(keys: Key[], add: (p: ChainableCommander, tag: string, part: { key: Key; hash: string }[]) => void) {
    if (keys.length === 0) return [] as unknown[];
    await this.keys.layouts.fresh();
    const groups = new Map<string, { key: Key; hash: string }[]>();
    for (const key of keys) {
      const hash = idHash(key.id);
      const tags = key.place === undefined ? this.keys.layouts.tagsFor(key.ns, hash) : [this.keys.placeOf(key, hash)];
      for (const tag of tags) {
        let g = groups.get(tag);
        if (!g) groups.set(tag, (g = []));
        g.push({ key, hash });
      }
    }
    const p = new TagBatch(this.client);
    for (const [tag, group] of groups) for (const part of chunks(group)) p.add(tag, (q) => add(q, tag, part));
    return p.exec();
  }

  async deleteMany(keys: Key[]) {
    const r = await this.everywhere(keys, (p, tag, part) =>
      queueScript(p, 'cache-delete-n', [this.keys.cacheIndex(tag), ...part.map((k) => this.keys.entry(tag, k.hash))], [this.keys.changes(), part[0]!.key.ns, ...part.map((k) => k.key.id)]),
    );
    return r.reduce<number>((a, b) => a + Number(b), 0);
  }

  async markStale(keys: Key[], now: number) {
    const r = await this.everywhere(keys, (p, tag, part) =>
      queueScript(p, 'cache-mark-stale-n', part.map((k) => this.keys.entry(tag, k.hash)), [now, this.keys.changes(), part[0]!.key.ns, ...part.map((k) => k.key.id)]),
    );
    return r.reduce<number>((a, b) => a + Number(b), 0);
  }

  /** Ids in ascending order: of one tag's index, or merged over every tag of a spread namespace. */
  async *scan(ns: string, prefix: string, opts: { batchSize?: number } = {}) {
    const batch = Math.max(1, opts.batchSize ?? 500);
    if (prefix !== '') idHash(prefix); // refuses a prefix with lone surrogates (UTF-8 would change it)
    await this.keys.layouts.fresh();
    const tags = this.keys.layouts.tagsOf(ns);
    if (tags.length === 1) {
      yield* this.scanTag(tags[0]!, prefix, batch);
      return;
    }
    yield* mergeAscending(tags.map((t) => this.scanTag(t, prefix, batch)));
  }

  private async *scanTag(tag: string, prefix: string, batch: number) {
    const index = this.keys.cacheIndex(tag);
    // Ids are compared as UTF-8 bytes; no id contains the byte 0xFF, so [prefix, prefix+0xFF] is
    // exactly the ids starting with the literal prefix (no wildcard characters exist in LEX ranges).
    const max: string | Buffer = prefix === '' ? '+' : Buffer.concat([Buffer.from(`[${prefix}`), Buffer.from([0xff])]);
    let min: string | Buffer = prefix === '' ? '-' : `[${prefix}`;
    for (;;) {
      const ids: string[] = await this.client.zrangebylex(index, min, max, 'LIMIT', 0, batch);
      if (ids.length === 0) return;
      const alive = await runScript<number[]>(this.client, 'cache-prune-n', [index, ...ids.map((id) => this.keys.entry(tag, idHash(id)))], ids);
      for (let i = 0; i < ids.length; i++) if (alive[i] === 1) yield ids[i]!;
      if (ids.length < batch) return;
      min = `(${ids[ids.length - 1]}`;
    }
  }

  async namespaces() {
    const all = await this.client.smembers(this.keys.namespaces('cache'));
    if (all.length === 0) return [];
    const counts = await this.counts(all);
    return all.filter((_, i) => counts[i]! > 0).sort();
  }

  /** Entries per namespace, summed over its tags (one round trip). */
  private async counts(all: string[]) {
    await this.keys.layouts.fresh();
    const p = new TagBatch(this.client);
    const at: number[] = [];
    for (const ns of all) {
      at.push(p.size);
      for (const t of this.keys.layouts.tagsOf(ns)) p.add(t, (q) => q.zcard(this.keys.cacheIndex(t)));
    }
    const r = (await p.exec()) as number[];
    return all.map((_, i) => r.slice(at[i], at[i + 1] ?? r.length).reduce((a, b) => a + Number(b), 0));
  }

  async count(ns: string) {
    return (await this.counts([ns]))[0]!;
  }

  async clear() {
    await clearArea(this.client, this.keys, 'c');
    await this.client.del(this.keys.namespaces('cache'));
    // Once everything is gone: "drop all you hold" (refused to a user whose ACL allows no channels: no feed there).
    await this.client.publish(this.keys.changes(), '*').catch((e: Error) => {
      if (!/NOPERM/.test(e.message)) throw e;
    });
  }

  async close() {
    await this.changes.close();
    await closeRedis(this.reader);
    await this.onClose();
  }
}
