import type { AnyBulkWriteOperation, Collection, Filter } from 'mongodb';
import { hashId } from '../../hash.js';
import type { CacheStore, Key, StoredEntry } from '../../ports.js';

/**
 * One document per entry in `<prefix>_cache`:
 *
 *   _id        `<ns>:<hashId(id)>` (the hash is fixed-length, so the pair is unambiguous)
 *   ns, id     the namespace and the raw id (URI), as data
 *   value      the value as JSON text (stored and returned verbatim: no key restrictions,
 *              nothing a query could take for an operator)
 *   createdAt, expiresAt, staleUntil   epoch ms (null = never)
 *   uri        the final URI the value was computed for (aliases), when given
 *   purgeAt    Date(staleUntil): a TTL index removes the document after its grace period.
 *              TTL deletion is lazy, so reads still check staleUntil themselves.
 *
 * Indexes: { ns: 1, id: 1 } (prefix scans as an id range, counts, distinct namespaces) and
 * { purgeAt: 1 } with expireAfterSeconds 0.
 */
export interface CacheDoc {
  _id: string;
  ns: string;
  id: string;
  value: string;
  createdAt: number;
  expiresAt: number | null;
  staleUntil: number | null;
  uri?: string;
  purgeAt?: Date;
}

export const INDEXES = [
  { key: { ns: 1, id: 1 }, name: 'ns_id' },
  { key: { purgeAt: 1 }, name: 'purge_ttl', expireAfterSeconds: 0 },
] as const;

export const docId = (key: Key) => `${key.ns}:${hashId(key.id)}`;

/**
 * The smallest string greater than every string starting with `prefix`: its last code point
 * incremented (MongoDB compares strings as UTF-8 bytes, which orders code points). So
 * `id >= prefix && id < prefixEnd(prefix)` is exactly "starts with prefix", with no regular
 * expression and no special characters. `undefined` when no bound exists (all U+10FFFF).
 */
export function prefixEnd(prefix: string): string | undefined {
  const cps = [...prefix].map((c) => c.codePointAt(0)!);
  while (cps.length > 0) {
    let last = cps.pop()!;
    if (last >= 0x10ffff) continue;
    last++;
    if (last >= 0xd800 && last <= 0xdfff) last = 0xe000; // skip surrogates
    cps.push(last);
    return String.fromCodePoint(...cps);
  }
  return undefined;
}

const live = (now: number): Filter<CacheDoc> => ({ $or: [{ staleUntil: null }, { staleUntil: { $gt: now } }] });

export class MongoCacheStore implements CacheStore {
  readonly kind = 'mongodb';

  constructor(
    private readonly coll: Collection<CacheDoc>,
    private readonly onClose: () => Promise<void> = async () => {},
  ) {}

  async getMany(keys: Key[]) {
    if (keys.length === 0) return [];
    const ids = [...new Set(keys.map(docId))];
    const docs = await this.coll.find({ _id: { $in: ids } }).toArray();
    const byId = new Map(docs.map((d) => [d._id, d]));
    const now = Date.now();
    return keys.map((k): StoredEntry | undefined => {
      const d = byId.get(docId(k));
      if (!d || d.ns !== k.ns || d.id !== k.id) return undefined;
      if (d.staleUntil !== null && d.staleUntil <= now) return undefined;
      const e: StoredEntry = { value: JSON.parse(d.value), createdAt: d.createdAt, expiresAt: d.expiresAt, staleUntil: d.staleUntil };
      if (d.uri !== undefined && d.uri !== null) e.uri = d.uri;
      return e;
    });
  }

  async setMany(items: { key: Key; entry: StoredEntry }[]) {
    if (items.length === 0) return;
    const ops: AnyBulkWriteOperation<CacheDoc>[] = items.map(({ key, entry }) => {
      const value = JSON.stringify(entry.value);
      if (value === undefined) throw new TypeError(`cache value for ${key.ns} is not JSON-serialisable`);
      const doc: CacheDoc = {
        _id: docId(key),
        ns: key.ns,
        id: key.id,
        value,
        createdAt: entry.createdAt,
        expiresAt: entry.expiresAt,
        staleUntil: entry.staleUntil,
      };
      if (entry.uri !== undefined) doc.uri = entry.uri;
      if (entry.staleUntil !== null) doc.purgeAt = new Date(entry.staleUntil);
      return { replaceOne: { filter: { _id: doc._id }, replacement: doc, upsert: true } };
    });
    // Ordered, so a key written twice in one batch keeps its last value (as the memory store).
    await this.coll.bulkWrite(ops, { ordered: true });
  }

  async deleteMany(keys: Key[]) {
    if (keys.length === 0) return 0;
    const r = await this.coll.deleteMany({ _id: { $in: [...new Set(keys.map(docId))] } });
    return r.deletedCount;
  }

  async markStale(keys: Key[], now: number) {
    if (keys.length === 0) return 0;
    const r = await this.coll.updateMany({ _id: { $in: [...new Set(keys.map(docId))] }, ...live(now) }, [
      { $set: { expiresAt: { $cond: [{ $or: [{ $eq: ['$expiresAt', null] }, { $gt: ['$expiresAt', now] }] }, now, '$expiresAt'] } } },
    ]);
    return r.matchedCount;
  }

  async *scan(ns: string, prefix: string, opts: { batchSize?: number } = {}) {
    const batch = Math.max(1, opts.batchSize ?? 500);
    const end = prefix === '' ? undefined : prefixEnd(prefix);
    let after: string | undefined;
    for (;;) {
      const range: { $gte?: string; $gt?: string; $lt?: string } = {};
      if (after !== undefined) range.$gt = after;
      else if (prefix !== '') range.$gte = prefix;
      if (end !== undefined) range.$lt = end;
      const filter: Filter<CacheDoc> = { ns, ...live(Date.now()) };
      if (Object.keys(range).length > 0) filter.id = range;
      const docs = await this.coll
        .find(filter, { projection: { id: 1 } })
        .sort({ ns: 1, id: 1 })
        .hint('ns_id')
        .limit(batch)
        .toArray();
      for (const d of docs) if (prefix === '' || d.id.startsWith(prefix)) yield d.id;
      if (docs.length < batch) return;
      after = docs[docs.length - 1]!.id;
    }
  }

  async namespaces() {
    return ((await this.coll.distinct('ns')) as string[]).sort();
  }

  async count(ns: string) {
    return this.coll.countDocuments({ ns });
  }

  async clear() {
    await this.coll.deleteMany({});
  }

  async close() {
    await this.onClose();
  }
}
