/**
 * MongoDB cache. No MongoDB server can be installed on the development machines, so the
 * conformance suite runs only when BACKACHE_TEST_MONGO_URL names one (e.g.
 * mongodb://127.0.0.1:27017/backache_test); otherwise it says so loudly and skips. The
 * checks that need no server (fail-fast on an unreachable URL, prefix ranges) always run.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/core/backends/index.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { checkMongo, databaseOf, mongoCache, prefixEnd } from '../../src/core/backends/mongodb/index.js';
import { freePort } from '../helpers/redis-server.js';
import { describeCacheStore } from './suites.js';

const url = process.env.BACKACHE_TEST_MONGO_URL;
const run = `bktest-${randomUUID().slice(0, 8)}`;
let n = 0;
const prefix = () => `${run}-${n++}`;

if (url) {
  afterAll(async () => {
    // Drop the collections this file created.
    const { MongoClient } = await import('mongodb');
    const client = await new MongoClient(url).connect();
    try {
      const db = client.db(databaseOf(url));
      for (const c of await db.listCollections({ name: { $regex: `^${run}-` } }, { nameOnly: true }).toArray()) await db.dropCollection(c.name);
    } finally {
      await client.close();
    }
  });

  describeCacheStore('mongodb', () => openBackend({ broker: `memory:${randomUUID()}`, cache: url, prefix: prefix() }), async () => {
    const cache = await mongoCache(url, prefix());
    return { cache, close: () => cache.close() };
  });

  describe('MongoDB cache: doctor and layout', () => {
    it('checkMongo reports the server version and the indexes once the cache was opened', async () => {
      const p = prefix();
      const before = await checkMongo(url, p);
      expect(before.reachable).toBe(true);
      expect(before.version).toMatch(/^\d+\.\d+/);
      expect(before.indexes.missing).toEqual(['ns_id', 'purge_ttl']);
      const cache = await mongoCache(url, p);
      await cache.close();
      const after = await checkMongo(url, p);
      expect(after.indexes.missing).toEqual([]);
      expect(after.indexes.present).toEqual(expect.arrayContaining(['ns_id', 'purge_ttl']));
    });

    it('treats operator-looking ids and values as data', async () => {
      const cache = await mongoCache(url, prefix());
      try {
        const ids = ['{"$gt": ""}', '$where', '.*', '^a', 'a.b.$c'];
        const value = { $set: { x: 1 }, 'a.b': 2, $where: 'sleep(1000)' };
        await cache.setMany(ids.map((id) => ({ key: { ns: 'op', id }, entry: { value, createdAt: 1, expiresAt: null, staleUntil: null } })));
        expect((await cache.getMany(ids.map((id) => ({ ns: 'op', id })))).map((e) => e?.value)).toEqual(ids.map(() => value));
        const scanned: string[] = [];
        for await (const id of cache.scan('op', '.')) scanned.push(id);
        expect(scanned).toEqual(['.*']);
      } finally {
        await cache.clear();
        await cache.close();
      }
    });
  });
} else {
  console.warn('SKIPPED: MongoDB suites (set BACKACHE_TEST_MONGO_URL)');
  it.skip('MongoDB suites (set BACKACHE_TEST_MONGO_URL)', () => {});
}

describe('MongoDB cache without a server', () => {
  it('an unreachable MongoDB fails fast with BackendUnavailableError naming the masked URL', async () => {
    const port = await freePort();
    const bad = `mongodb://bob:s3cr3t-pw@127.0.0.1:${port}/db`;
    const t0 = Date.now();
    const err = await mongoCache(bad, 'x', { connectTimeoutMs: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toContain(`mongodb://bob:***@127.0.0.1:${port}/db`);
    expect((err as Error).message).not.toContain('s3cr3t');
    expect((err as BackendUnavailableError).exitCode).toBe(3);
    expect(Date.now() - t0).toBeLessThan(5000);
    const check = await checkMongo(bad, 'x', { connectTimeoutMs: 500 });
    expect(check).toMatchObject({ reachable: false, url: `mongodb://bob:***@127.0.0.1:${port}/db` });
    expect(check.error).not.toContain('s3cr3t');
  });

  it('the database comes from the URL path, default backache', () => {
    expect(databaseOf('mongodb://h:27017/app?authSource=admin')).toBe('app');
    expect(databaseOf('mongodb://u:p@h1:1,h2:2/app')).toBe('app');
    expect(databaseOf('mongodb+srv://cluster.example.com/db2')).toBe('db2');
    expect(databaseOf('mongodb://h:27017')).toBe('backache');
    expect(databaseOf('mongodb://h:27017/?replicaSet=rs')).toBe('backache');
  });

  it('prefix ranges: [prefix, prefixEnd(prefix)) is exactly "starts with prefix"', () => {
    const ids = ['a', 'a/', 'a/b', 'a/😀', 'a/\u{10FFFF}x', 'a0', 'a.', 'a/\uffff', 'b', '', 'a/\ud7ff', 'a/\ue000'];
    for (const p of ['a/', 'a', 'a/\ud7ff', '😀', 'x\u{10FFFF}']) {
      const end = prefixEnd(p);
      // Compare as UTF-8 bytes, as MongoDB does.
      const cmp = (x: string, y: string) => Buffer.compare(Buffer.from(x), Buffer.from(y));
      for (const id of ids) {
        const inRange = cmp(id, p) >= 0 && (end === undefined || cmp(id, end) < 0);
        expect(inRange, `${JSON.stringify(id)} vs prefix ${JSON.stringify(p)}`).toBe(id.startsWith(p));
      }
    }
    expect(prefixEnd('\u{10FFFF}')).toBeUndefined();
  });
});
