/**
 * RegionSteps conformance (ports.ts): run against every backend's own steps and the
 * composed ones (a cache in another store than the locks).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Backend, CacheChange, StoredEntry } from '../../src/core/ports.js';

const entry = (value: unknown, over: Partial<StoredEntry> = {}): StoredEntry => ({ value, createdAt: Date.now(), expiresAt: null, staleUntil: null, ...over });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `feed`: the store has a change feed, and storeAndRelease must be heard on it. */
export function describeRegionSteps(name: string, open: () => Promise<Backend>, o: { feed?: boolean } = {}) {
  describe(`RegionSteps conformance: ${name}`, () => {
    let b: Backend;
    beforeEach(async () => {
      b = await open();
    });
    afterEach(async () => {
      await b.close();
    });
    const key = { ns: 'region.r', id: 'k ü/1' };

    it('a miss: one caller gets the lock, the others none; storeAndRelease stores, releases, and the next caller gets the fresh entry without a lock', async () => {
      const s = b.regionSteps;
      const first = await s.lockOrRead(key, 5000, -Infinity);
      expect(first.token).toEqual(expect.any(String));
      expect(first.entry).toBeUndefined();
      expect(await s.lockOrRead(key, 5000, -Infinity)).toEqual({ token: null, entry: undefined });
      expect(await s.storeAndRelease(key, first.token!, entry({ v: 1 }))).toBe(true);
      expect(await b.locker.isLocked(key)).toBe(false);
      expect((await b.cache.getMany([key]))[0]).toMatchObject({ value: { v: 1 } });
      const hit = await s.lockOrRead(key, 5000, -Infinity);
      expect(hit).toMatchObject({ token: null, entry: { value: { v: 1 } } });
      expect(await b.locker.isLocked(key)).toBe(false);
    });

    it('many at once on one key: exactly one token', async () => {
      const got = await Promise.all(Array.from({ length: 20 }, () => b.regionSteps.lockOrRead(key, 5000, -Infinity)));
      expect(got.filter((g) => g.token !== null)).toHaveLength(1);
    });

    it('a stale entry comes back with the lock (to whoever takes it) and without it to the others', async () => {
      await b.cache.setMany([{ key, entry: entry('old', { expiresAt: Date.now() - 1000 }) }]);
      const a = await b.regionSteps.lockOrRead(key, 5000, -Infinity);
      expect(a).toMatchObject({ token: expect.any(String), entry: { value: 'old' } });
      const c = await b.regionSteps.lockOrRead(key, 5000, -Infinity);
      expect(c).toMatchObject({ token: null, entry: { value: 'old' } });
    });

    it('an entry past its grace is a miss', async () => {
      await b.cache.setMany([{ key, entry: entry('gone', { createdAt: Date.now() - 5000, expiresAt: Date.now() - 2000, staleUntil: Date.now() + 60 }) }]);
      await sleep(120);
      const a = await b.regionSteps.lockOrRead(key, 5000, -Infinity);
      expect(a.token).toEqual(expect.any(String));
      expect(a.entry).toBeUndefined();
    });

    it('freshAfter: an entry created at or before it needs the lock (a region invalidated after it)', async () => {
      const e = entry('v', { createdAt: Date.now() - 10 });
      await b.cache.setMany([{ key, entry: e }]);
      expect(await b.regionSteps.lockOrRead(key, 5000, e.createdAt - 1)).toMatchObject({ token: null, entry: { value: 'v' } });
      const a = await b.regionSteps.lockOrRead(key, 5000, e.createdAt);
      expect(a).toMatchObject({ token: expect.any(String), entry: { value: 'v' } });
    });

    it('storeAndRelease without an entry releases only; with a lock no longer ours it says so and leaves the holder its lock', async () => {
      const a = await b.regionSteps.lockOrRead(key, 5000, -Infinity);
      expect(await b.regionSteps.storeAndRelease(key, a.token!, undefined)).toBe(true);
      expect(await b.locker.isLocked(key)).toBe(false);
      expect((await b.cache.getMany([key]))[0]).toBeUndefined();
      const short = await b.regionSteps.lockOrRead(key, 30, -Infinity);
      await sleep(150);
      const other = await b.regionSteps.lockOrRead(key, 5000, -Infinity);
      expect(other.token).toEqual(expect.any(String));
      expect(await b.regionSteps.storeAndRelease(key, short.token!, entry('late'))).toBe(false);
      expect(await b.locker.isLocked(key)).toBe(true);
      expect(await b.regionSteps.storeAndRelease(key, other.token!, undefined)).toBe(true);
    });

    it('an entry stored through storeAndRelease is an ordinary entry: scanned, counted, deleted', async () => {
      const a = await b.regionSteps.lockOrRead(key, 5000, -Infinity);
      await b.regionSteps.storeAndRelease(key, a.token!, entry([1, 2], { expiresAt: Date.now() + 60_000, staleUntil: Date.now() + 120_000 }));
      const ids: string[] = [];
      for await (const id of b.cache.scan(key.ns, 'k')) ids.push(id);
      expect(ids).toEqual([key.id]);
      expect(await b.cache.count(key.ns)).toBe(1);
      expect(await b.cache.namespaces()).toContain(key.ns);
      expect(await b.cache.deleteMany([key])).toBe(1);
    });

    if (o.feed) {
      it('storeAndRelease is told on the change feed, with an entry and without one (waiters wake)', async () => {
        const feed = b.cache.changes;
        expect(feed).toBeDefined();
        const heard: CacheChange[] = [];
        let up = false;
        const stop = feed!.listen({ change: (c) => heard.push(c), up: (u) => (up = u) });
        try {
          for (let i = 0; i < 200 && !up; i++) await sleep(10);
          expect(up).toBe(true);
          const a = await b.regionSteps.lockOrRead(key, 5000, -Infinity);
          await b.regionSteps.storeAndRelease(key, a.token!, undefined);
          for (let i = 0; i < 200 && !heard.length; i++) await sleep(10);
          expect(heard).toContainEqual({ ns: key.ns, ids: [key.id] });
          heard.length = 0;
          const c = await b.regionSteps.lockOrRead(key, 5000, -Infinity);
          await b.regionSteps.storeAndRelease(key, c.token!, entry('v'));
          for (let i = 0; i < 200 && !heard.length; i++) await sleep(10);
          expect(heard).toContainEqual({ ns: key.ns, ids: [key.id] });
        } finally {
          stop();
        }
      });
    }
  });
}
