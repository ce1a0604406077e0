/** Region behaviour, written once and run on every store (memory.test.ts, sqlite.test.ts, …). */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createRegion, ProxyStore, sha1KeyMangler, type Region, type RegionOptions } from '../../src/index.js';
import { openBackend } from '../../src/core/backends/index.js';
import type { Backend, Key, RegionSteps } from '../../src/core/ports.js';
import { sleep } from '../helpers/wait.js';

/** A store URL for a fresh, isolated region store. */
export type StoreUrl = () => Promise<string>;

/** `defaults`: options of every region the scenarios open (e.g. `{ l1: {} }`). */
export function describeRegion(name: string, storeUrl: StoreUrl, defaults: Omit<RegionOptions, 'store'> = {}) {
  describe(`region: ${name}`, () => {
    const regions: Region[] = [];
    const open = async (o: Omit<RegionOptions, 'store'> = {}) => {
      const r = await createRegion({ store: await storeUrl(), name: `t${randomUUID().slice(0, 8)}`, ...defaults, ...o });
      regions.push(r);
      return r;
    };
    afterEach(async () => {
      await Promise.all(regions.splice(0).map((r) => r.close()));
    });

    it('get, set, delete and their Many forms', async () => {
      const r = await open();
      expect(await r.get('k')).toBeUndefined();
      await r.set('k', { a: 1 });
      expect(await r.get('k')).toEqual({ a: 1 });
      await r.setMany({ x: 1, y: 'two', z: [3] });
      expect(await r.getMany(['x', 'nope', 'z', 'y'])).toEqual([1, undefined, [3], 'two']);
      await r.deleteMany(['x', 'y']);
      await r.delete('k');
      expect(await r.getMany(['x', 'y', 'z', 'k'])).toEqual([undefined, undefined, [3], undefined]);
      await expect(r.set('f', () => 1)).rejects.toThrow(/JSON-serialisable/);
    });

    it('keys that are not well-formed Unicode are refused: two never share a stored key', async () => {
      const r = await open();
      for (const k of ['a\uD800', 'a\uDC00']) {
        await expect(r.set(k, 1)).rejects.toThrow(/well-formed/);
        await expect(r.get(k)).rejects.toThrow(/well-formed/);
        await expect(r.getOrCreate(k, async () => 1)).rejects.toThrow(/well-formed/);
      }
      await expect(r.getMany(['ok', 'a\uD800'])).rejects.toThrow(/well-formed/);
      await r.set('a\u{1F600}', 'emoji'); // a surrogate pair is fine
      expect(await r.get('a\u{1F600}')).toBe('emoji');
    });

    it('50 concurrent getOrCreate of an empty key run the creator once and all get its value', async () => {
      const r = await open();
      let runs = 0;
      const values = await Promise.all(
        Array.from({ length: 50 }, () =>
          r.getOrCreate('empty', async () => {
            runs++;
            await sleep(100);
            return { made: runs };
          }),
        ),
      );
      expect(runs).toBe(1);
      expect(values.every((v) => JSON.stringify(v) === '{"made":1}')).toBe(true);
    });

    it('expired key, slow creator: exactly one creator runs and the others get the stale value at once', async () => {
      const r = await open({ ttl: 100 });
      await r.set('k', 'old');
      await sleep(150);
      expect(await r.get('k')).toBeUndefined(); // get() is fresh-only
      expect(await r.getEntry('k')).toMatchObject({ value: 'old', stale: true });
      let runs = 0;
      const creator = async () => {
        runs++;
        await sleep(1000);
        return 'new';
      };
      const leader = r.getOrCreate('k', creator);
      await sleep(30);
      const t0 = Date.now();
      const others = await Promise.all(Array.from({ length: 20 }, () => r.getOrCreate('k', creator)));
      expect(Date.now() - t0).toBeLessThan(700); // the creator takes 1 s: nobody waited for it
      expect(others.every((v) => v === 'old')).toBe(true);
      expect(await leader).toBe('new');
      expect(runs).toBe(1);
      expect(await r.get('k')).toBe('new');
    });

    it('after soft invalidation: one creator, the others get the old value at once', async () => {
      const r = await open();
      await r.set('k', 'old');
      await r.invalidate({ soft: true });
      expect(await r.getEntry('k')).toMatchObject({ value: 'old', stale: true });
      let runs = 0;
      const creator = async () => {
        runs++;
        await sleep(300);
        return 'new';
      };
      const leader = r.getOrCreate('k', creator);
      await sleep(30);
      const others = await Promise.all(Array.from({ length: 20 }, () => r.getOrCreate('k', creator)));
      expect(others.every((v) => v === 'old')).toBe(true);
      expect(await leader).toBe('new');
      expect(runs).toBe(1);
      expect(await r.getEntry('k')).toMatchObject({ value: 'new', stale: false });
    });

    it('after hard invalidation nobody sees the old value', async () => {
      const r = await open();
      await r.setMany({ a: 'old', b: 'old' });
      await r.invalidate();
      expect(await r.getEntry('a')).toBeUndefined();
      let runs = 0;
      const values = await Promise.all(
        Array.from({ length: 20 }, () =>
          r.getOrCreate('a', async () => {
            runs++;
            await sleep(100);
            return 'new';
          }),
        ),
      );
      expect(values.every((v) => v === 'new')).toBe(true);
      expect(runs).toBe(1);
      expect(await r.get('b')).toBeUndefined();
      await r.set('b', 'later');
      expect(await r.get('b')).toBe('later');
    });

    it('grace: a stale value is served until its grace ends, then it is a miss', async () => {
      const r = await open({ ttl: 50, grace: 100 });
      await r.set('k', 'v');
      await sleep(80);
      expect(await r.getEntry('k')).toMatchObject({ stale: true, value: 'v' });
      await sleep(120);
      expect(await r.getEntry('k')).toBeUndefined();
    });

    it('a creator that throws releases the lock; shouldCache can refuse a value', async () => {
      const r = await open();
      await expect(r.getOrCreate('k', async () => Promise.reject(new Error('nope')))).rejects.toThrow('nope');
      expect(await r.getOrCreate('k', async () => 'ok')).toBe('ok');
      expect(await r.getOrCreate('n', async () => null, { shouldCache: (v) => v !== null })).toBeNull();
      expect(await r.getEntry('n')).toBeUndefined();
    });

    it('getOrCreateMany creates only the missing keys in one call', async () => {
      const r = await open();
      await r.set('a', 'A');
      const asked: string[][] = [];
      const got = await r.getOrCreateMany(['a', 'b', 'c'], async (keys) => (asked.push(keys), keys.map((k) => k.toUpperCase())));
      expect(got).toEqual(['A', 'B', 'C']);
      expect(asked).toEqual([['b', 'c']]);
      const multi = r.cacheMultiOnArguments(async (...ids: string[]) => ids.map((i) => `v${i}`), { namespace: 'm' });
      expect(await multi('1', '2')).toEqual(['v1', 'v2']);
    });

    it('cacheOnArguments with invalidate, refresh, set, get and original', async () => {
      const r = await open();
      let runs = 0;
      async function square(n: number) {
        runs++;
        return n * n;
      }
      const cached = r.cacheOnArguments(square);
      expect(await cached(3)).toBe(9);
      expect(await cached(3)).toBe(9);
      expect(runs).toBe(1);
      expect(await cached.get(3)).toBe(9);
      await cached.set(10, 3);
      expect(await cached(3)).toBe(10);
      expect(await cached.refresh(3)).toBe(9);
      expect(runs).toBe(2);
      await cached.invalidate(3);
      expect(await cached.get(3)).toBeUndefined();
      expect(await cached.original(4)).toBe(16);
      const keyed = r.cacheOnArguments(async (a: string, b: string) => a + b, { keyGenerator: (a, b) => `custom:${a}:${b}` });
      await keyed('x', 'y');
      expect(await r.get('custom:x:y')).toBe('xy');
    });

    it('fetchOnMiss: false returns undefined on a miss and creates the value in the background', async () => {
      const r = await open();
      let runs = 0;
      const lazy = r.cacheOnArguments(async (s: string) => (runs++, s.length), { namespace: 'len', fetchOnMiss: false });
      expect(await lazy('abcd')).toBeUndefined();
      await r.settle();
      expect(await lazy('abcd')).toBe(4);
      expect(runs).toBe(1);
    });

    it('group invalidation by template: exact when bound, by prefix scan when not, soft or hard', async () => {
      const r = await open();
      await r.setMany({ 'user:1:feed': 1, 'user:2:feed': 2, 'user:3:feed': 3, 'user:1:name': 'n', 'team:1:feed': 't' });
      expect(await r.invalidate({ template: 'user:{id}:feed', vars: { id: ['1', '2'] }, soft: true })).toEqual({ invalidated: 2 });
      expect(await r.getEntry('user:1:feed')).toMatchObject({ stale: true, value: 1 });
      expect(await r.get('user:3:feed')).toBe(3);
      expect(await r.invalidate({ template: 'user:{id}:feed' })).toEqual({ invalidated: 3 });
      expect(await r.getMany(['user:1:feed', 'user:3:feed', 'user:1:name', 'team:1:feed'])).toEqual([undefined, undefined, 'n', 't']);
    });

    it('wrap proxies the store; key manglers change stored ids', async () => {
      const seen: string[] = [];
      class Logging extends ProxyStore {
        override getMany(keys: Key[]) {
          seen.push(...keys.map((k) => k.id));
          return super.getMany(keys);
        }
      }
      const r = await open({ wrap: [(s) => new Logging(s)], keyMangler: sha1KeyMangler });
      await r.set('hello', 'world');
      expect(await r.get('hello')).toBe('world');
      expect(seen).toContain(sha1KeyMangler('hello'));
      expect(seen).not.toContain('hello');
    });

    it('a hard and a soft invalidation of the whole region at once, from two processes, both hold', async () => {
      const url = await storeUrl();
      const name = `i${randomUUID().slice(0, 8)}`;
      const a = await createRegion({ store: url, name, ...defaults });
      const b = await createRegion({ store: url, name, ...defaults });
      regions.push(a, b);
      for (let round = 0; round < 5; round++) {
        await a.set('k', `old${round}`);
        await Promise.all([a.invalidate(), b.invalidate({ soft: true })]);
        expect(await a.getEntry('k')).toBeUndefined(); // hard wins over the soft one made at the same time
        for (let i = 0; i < 200 && (await b.getEntry('k')) !== undefined; i++) await sleep(5); // b's L1 hears of a's marker
        expect(await b.getEntry('k')).toBeUndefined();
      }
      await a.set('k', 'new');
      await b.invalidate({ soft: true });
      for (let i = 0; i < 200 && !(await a.getEntry('k'))?.stale; i++) await sleep(5);
      expect(await a.getEntry('k')).toMatchObject({ value: 'new', stale: true });
    });

    it('the invalidation marker of earlier versions (both times in one entry) is still honoured', async () => {
      const r = await open();
      await r.set('k', 'old');
      await sleep(2);
      const now = Date.now();
      await r.store.setMany([{ key: { ns: `${r.ns}.meta`, id: 'invalidated' }, entry: { value: { hardAt: now }, createdAt: now, expiresAt: null, staleUntil: null } }]);
      expect(await r.getEntry('k')).toBeUndefined();
      await sleep(2);
      await r.set('k', 'new');
      expect(await r.get('k')).toBe('new');
    });

    /** A second region on the same store and name (another process's, as far as the store can tell), its lookups counted. */
    async function counted(url: string, name: string) {
      const b: Backend = await openBackend({ broker: url });
      const looks = { n: 0 };
      const steps: RegionSteps = {
        lockOrRead: (...a) => (looks.n++, b.regionSteps.lockOrRead(...a)),
        storeAndRelease: (...a) => b.regionSteps.storeAndRelease(...a),
      };
      const r = await createRegion({ store: { cache: b.cache, locker: b.locker, regionSteps: steps }, name, ...defaults });
      regions.push(r);
      // The store's feed live before the test starts (it is one subscription per store).
      let up = false;
      const stop = b.cache.changes!.listen({ change() {}, up: (u) => (up = u) });
      for (let i = 0; i < 500 && !up; i++) await sleep(10);
      expect(up).toBe(true);
      return { r, looks, close: async () => (stop(), await b.close()) };
    }

    it('a waiter is woken when the value is stored (the change feed), not by polling, and a failed creator wakes it to create', async () => {
      const url = await storeUrl();
      const name = `w${randomUUID().slice(0, 8)}`;
      const a = await createRegion({ store: url, name, ...defaults });
      regions.push(a);
      const b = await counted(url, name);
      try {
        const made = a.getOrCreate('k', async () => {
          await sleep(600);
          return 'A';
        });
        await sleep(50);
        expect(await b.r.getOrCreate('k', () => 'B')).toBe('A');
        expect(await made).toBe('A');
        // One look finds the lock held, one more once told of the value; polling would make about ten.
        expect(b.looks.n).toBeLessThanOrEqual(3);

        b.looks.n = 0;
        const failed = a.getOrCreate('f', async () => {
          await sleep(600);
          throw new Error('creator failed');
        });
        await sleep(50);
        const waiter = b.r.getOrCreate('f', () => 'B made it');
        await expect(failed).rejects.toThrow('creator failed');
        expect(await waiter).toBe('B made it');
        expect(b.looks.n).toBeLessThanOrEqual(3);
      } finally {
        await b.close();
      }
    });
  });
}
