/**
 * L1Cache over a memory store with a change feed the test drives: what it serves without a
 * store read, negative entries, coherence (feed changes, own writes, `all`, a feed that goes
 * down), the race between a read in flight and a change, grace, bounds, frozen values.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryCacheStore } from '../../src/core/backends/memory/cache.js';
import { ConfigError } from '../../src/core/errors.js';
import { L1Cache, type L1Options } from '../../src/core/l1.js';
import type { Key, StoredEntry } from '../../src/core/ports.js';
import { FakeFeed, FeedStore } from '../helpers/fake-feed.js';

const entry = (value: unknown, o: Partial<StoredEntry> = {}): StoredEntry => ({ value, createdAt: Date.now(), expiresAt: null, staleUntil: null, ...o });
const k = (id: string, ns = 'op'): Key => ({ ns, id });

function setup(o: L1Options = {}, up = true) {
  const mem = new MemoryCacheStore();
  const feed = new FakeFeed();
  const store = new FeedStore(mem, feed);
  const l1 = new L1Cache(store, o);
  if (up) feed.up(true);
  return { mem, feed, store, l1 };
}

const values = (es: (StoredEntry | undefined)[]) => es.map((e) => e?.value);

/** A read through the tier whose store reply is held back until `release()` (a reply still on its way). */
async function readHeldBack(store: FeedStore, l1: L1Cache, keys: Key[]) {
  let release!: () => void;
  store.gate = new Promise((r) => (release = r));
  const before = store.reads;
  const reading = l1.getMany(keys);
  await vi.waitUntil(() => store.reads === before + 1);
  return { reading, release };
}

afterEach(() => vi.restoreAllMocks());

describe('L1Cache', () => {
  it('serves what it holds without a store read, and says which entries it served', async () => {
    const { mem, store, l1 } = setup();
    await mem.setMany([{ key: k('a'), entry: entry({ n: 1 }) }]);
    expect(values(await l1.getMany([k('a'), k('b')]))).toEqual([{ n: 1 }, undefined]);
    expect(store.reads).toBe(1);
    const r = await l1.lookup([k('b'), k('a'), k('c')]);
    expect(values(r.entries)).toEqual([undefined, { n: 1 }, undefined]);
    expect(r.fromL1).toEqual([true, true, false]);
    // Only the key it did not hold was read, in one call.
    expect(store.reads).toBe(2);
    expect(store.keysRead.slice(-1)).toEqual([k('c')]);
    expect(l1.l1Stats()).toMatchObject({ hits: 2, misses: 3, entries: 3, up: true });
  });

  it('absence is cached too (a negative entry), until a change of that key is told', async () => {
    const { mem, feed, store, l1 } = setup();
    for (let i = 0; i < 3; i++) expect(await l1.getMany([k('marker', 'region.r.meta')])).toEqual([undefined]);
    expect(store.reads).toBe(1);
    await mem.setMany([{ key: k('marker', 'region.r.meta'), entry: entry({ hardAt: 5 }) }]);
    expect(await l1.getMany([k('marker', 'region.r.meta')])).toEqual([undefined]); // not told yet
    feed.change({ ns: 'region.r.meta', ids: ['marker'] });
    expect(values(await l1.getMany([k('marker', 'region.r.meta')]))).toEqual([{ hardAt: 5 }]);
    expect(store.reads).toBe(2);
  });

  it('a change drops only its keys (of its namespace); all empties the tier', async () => {
    const { mem, feed, store, l1 } = setup();
    await mem.setMany([k('a'), k('b'), k('a', 'other')].map((key) => ({ key, entry: entry(key.id + key.ns) })));
    await l1.getMany([k('a'), k('b'), k('a', 'other')]);
    await mem.setMany([k('a'), k('b'), k('a', 'other')].map((key) => ({ key, entry: entry(`new ${key.id}`) })));
    feed.change({ ns: 'op', ids: ['a'] });
    expect(values(await l1.getMany([k('a'), k('b'), k('a', 'other')]))).toEqual(['new a', 'bop', 'aother']);
    expect(store.keysRead.slice(-1)).toEqual([k('a')]);
    feed.change({ all: true });
    expect(l1.l1Stats().entries).toBe(0);
    expect(values(await l1.getMany([k('b'), k('a', 'other')]))).toEqual(['new b', 'new a']);
  });

  it('a read in flight when a change of its key is told does not fill it (it may be the old value); its other keys fill', async () => {
    const { mem, feed, store, l1 } = setup();
    await mem.setMany([{ key: k('a'), entry: entry('old a') }, { key: k('b'), entry: entry('b') }]);
    const { reading, release } = await readHeldBack(store, l1, [k('a'), k('b')]);
    // Another process wrote a and told the feed while our reply was on its way.
    await mem.setMany([{ key: k('a'), entry: entry('new a') }]);
    feed.change({ ns: 'op', ids: ['a'] });
    release();
    store.gate = undefined;
    expect(values(await reading)).toEqual(['old a', 'b']); // what the read saw
    expect(values(await l1.getMany([k('a'), k('b')]))).toEqual(['new a', 'b']);
    expect(store.keysRead.slice(2)).toEqual([k('a')]); // b was filled, a was not
  });

  it('a read in flight fills nothing when the log no longer reaches back to its start, or after an all', async () => {
    for (const told of ['many', 'all'] as const) {
      const { mem, feed, store, l1 } = setup();
      await mem.setMany([{ key: k('a'), entry: entry('a') }]);
      const { reading, release } = await readHeldBack(store, l1, [k('a')]);
      if (told === 'all') feed.change({ all: true });
      else feed.change({ ns: 'op', ids: Array.from({ length: 5000 }, (_, i) => `x${i}`) });
      release();
      store.gate = undefined;
      await reading;
      expect(l1.l1Stats().entries, told).toBe(0);
      await l1.getMany([k('a')]);
      expect(store.reads, told).toBe(2);
    }
  });

  it("this process's writes drop their keys at once, without the feed", async () => {
    const { store, l1 } = setup();
    await l1.setMany([{ key: k('a'), entry: entry(1) }]);
    expect(values(await l1.getMany([k('a')]))).toEqual([1]);
    await l1.setMany([{ key: k('a'), entry: entry(2) }]);
    expect(values(await l1.getMany([k('a')]))).toEqual([2]);
    const now = Date.now();
    expect(await l1.markStale([k('a')], now)).toBe(1);
    const [soft] = await l1.getMany([k('a')]);
    expect(soft).toMatchObject({ value: 2, expiresAt: now });
    expect(await l1.deleteMany([k('a')])).toBe(1);
    expect(await l1.getMany([k('a')])).toEqual([undefined]);
    await l1.setMany([{ key: k('b'), entry: entry('b') }]);
    await l1.getMany([k('b')]);
    await l1.clear();
    expect(await l1.getMany([k('b')])).toEqual([undefined]);
    expect(store.reads).toBe(6); // every read after a write went to the store
    expect(values(await l1.getMany([k('a'), k('b')]))).toEqual([undefined, undefined]);
    expect(store.reads).toBe(7); // a: the clear emptied the tier
    await l1.getMany([k('a'), k('b')]);
    expect(store.reads).toBe(7);
  });

  it('a write through the tier that is in flight when a read starts leaves no old value behind', async () => {
    const { mem, store, l1 } = setup();
    await mem.setMany([{ key: k('a'), entry: entry('old') }]);
    const { reading, release } = await readHeldBack(store, l1, [k('a')]);
    await l1.setMany([{ key: k('a'), entry: entry('new') }]);
    release();
    store.gate = undefined;
    expect(values(await reading)).toEqual(['old']);
    expect(values(await l1.getMany([k('a')]))).toEqual(['new']);
  });

  it('bypassed and empty before the feed is first up and while it is down; in use again once up', async () => {
    const { mem, feed, store, l1 } = setup({}, false);
    await mem.setMany([{ key: k('a'), entry: entry('a') }]);
    await l1.getMany([k('a')]);
    await l1.getMany([k('a')]);
    expect(store.reads).toBe(2);
    expect(l1.l1Stats()).toMatchObject({ entries: 0, up: false });
    feed.up(true);
    await l1.getMany([k('a')]);
    await l1.getMany([k('a')]);
    expect(store.reads).toBe(3);
    feed.up(false);
    expect(l1.l1Stats()).toMatchObject({ entries: 0, up: false });
    await mem.setMany([{ key: k('a'), entry: entry('changed while down') }]); // no change told
    expect(values(await l1.getMany([k('a')]))).toEqual(['changed while down']);
    await l1.getMany([k('a')]);
    expect(store.reads).toBe(5);
    feed.up(true);
    expect(values(await l1.getMany([k('a')]))).toEqual(['changed while down']);
    await l1.getMany([k('a')]);
    expect(store.reads).toBe(6);
  });

  it('a read in flight while the feed goes down and up again fills nothing', async () => {
    const { mem, feed, store, l1 } = setup();
    await mem.setMany([{ key: k('a'), entry: entry('a') }]);
    const { reading, release } = await readHeldBack(store, l1, [k('a')]);
    feed.up(false);
    feed.up(true);
    release();
    store.gate = undefined;
    await reading;
    expect(l1.l1Stats().entries).toBe(0);
  });

  it('an entry past its grace is dropped and read again; a stale one within its grace is served as it is', async () => {
    const { mem, store, l1 } = setup();
    const t0 = Date.now();
    await mem.setMany([
      { key: k('stale'), entry: entry('s', { expiresAt: t0 - 1, staleUntil: t0 + 1000 }) },
      { key: k('gone'), entry: entry('g', { expiresAt: t0 + 100, staleUntil: t0 + 200 }) },
    ]);
    expect(values(await l1.getMany([k('stale'), k('gone')]))).toEqual(['s', 'g']);
    expect(values(await l1.getMany([k('stale'), k('gone')]))).toEqual(['s', 'g']);
    expect(store.reads).toBe(1);
    vi.spyOn(Date, 'now').mockReturnValue(t0 + 500);
    const [stale, gone] = await l1.getMany([k('stale'), k('gone')]);
    expect(stale).toMatchObject({ value: 's', expiresAt: t0 - 1 });
    expect(gone).toBeUndefined();
    expect(store.keysRead.slice(2)).toEqual([k('gone')]);
  });

  it('bounded by entries and bytes, evicting the least recently used', async () => {
    const { mem, store, l1 } = setup({ maxEntries: 2 });
    await mem.setMany(['a', 'b', 'c'].map((id) => ({ key: k(id), entry: entry(id) })));
    await l1.getMany([k('a')]);
    await l1.getMany([k('b')]);
    await l1.getMany([k('a')]); // a is now the most recent
    await l1.getMany([k('c')]); // b goes
    expect(l1.l1Stats()).toMatchObject({ entries: 2, evictions: 1 });
    const reads = store.reads;
    await l1.getMany([k('a'), k('c')]);
    expect(store.reads).toBe(reads);
    await l1.getMany([k('b')]);
    expect(store.reads).toBe(reads + 1);

    const big = setup({ maxBytes: '4KB' });
    await big.mem.setMany(['x', 'y', 'z'].map((id) => ({ key: k(id), entry: entry('v'.repeat(700)) })));
    await big.l1.getMany([k('x'), k('y'), k('z')]);
    const s = big.l1.l1Stats();
    expect(s.bytes).toBeLessThanOrEqual(4096);
    expect(s.entries).toBe(2); // each about 1.6KB
    expect(s.evictions).toBe(1);
    await big.mem.setMany([{ key: k('huge'), entry: entry('v'.repeat(5000)) }]);
    expect(values(await big.l1.getMany([k('huge')]))).toEqual(['v'.repeat(5000)]); // served, not kept
    expect(big.l1.l1Stats().entries).toBe(2);
  });

  it('values it serves are frozen: a caller cannot change them for the others', async () => {
    const { mem, l1 } = setup();
    await mem.setMany([{ key: k('a'), entry: entry({ list: [1, { deep: true }] }) }]);
    const [first] = await l1.getMany([k('a')]);
    const [second] = await l1.getMany([k('a')]);
    expect(second).toBe(first);
    const v = second!.value as { list: [number, { deep: boolean }] };
    expect(() => {
      v.list[1].deep = false;
    }).toThrow(TypeError);
    expect(() => {
      (second as { expiresAt: number | null }).expiresAt = 1;
    }).toThrow(TypeError);
  });

  it('needs a store with a change feed', () => {
    const noFeed = Object.assign(Object.create(new MemoryCacheStore()) as MemoryCacheStore, { changes: undefined, kind: 'custom' });
    expect(() => new L1Cache(noFeed)).toThrow(ConfigError);
    expect(() => new L1Cache(noFeed)).toThrow('l1 needs a cache store with a change feed (memory:, sqlite:, redis:); custom has none');
    expect(() => new L1Cache(new FeedStore(new MemoryCacheStore()), { maxBytes: '64XB' })).toThrow(`l1.maxBytes "64XB": use a number of bytes or a size such as '64MB'`);
  });

  it('stop() stops listening and keeps the store open; close() closes it; scan, namespaces and count pass through', async () => {
    const { feed, store, l1 } = setup();
    await l1.setMany([{ key: k('p1'), entry: entry(1) }, { key: k('p2'), entry: entry(2) }]);
    const ids: string[] = [];
    for await (const id of l1.scan('op', 'p')) ids.push(id);
    expect(ids).toEqual(['p1', 'p2']);
    expect(await l1.namespaces()).toEqual(['op']);
    expect(await l1.count('op')).toBe(2);
    expect(l1.changes).toBe(feed);
    expect(feed.listeners.size).toBe(1);
    l1.stop();
    expect(feed.listeners.size).toBe(0);
    expect(store.closed).toBe(false);
    feed.up(true); // a late message after stop changes nothing
    expect(l1.l1Stats().up).toBe(false);
    const other = setup();
    await other.l1.close();
    expect(other.feed.listeners.size).toBe(0);
    expect(other.store.closed).toBe(true);
  });
});
