/**
 * The engine with `l1` on, over the memory backend: hits served by the tier (counted as
 * hits and as l1Hits), invalidations seen at once by the process that made them and by the
 * others once the feed tells them, stale-while-revalidate from the tier, read-your-writes
 * after a computation (inline, this process's worker, another's), close, configuration.
 *
 * The memory store's cache is wrapped to count its reads; its change feed is its own when it
 * has one, else one told of the store's changes by the test (helpers/fake-feed.ts).
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createBackache, defineOperations, type Backache, type BackacheOptions } from '../../src/index.js';
import { openBackend } from '../../src/core/backends/index.js';
import type { MemoryCacheStore } from '../../src/core/backends/memory/cache.js';
import { ConfigError } from '../../src/core/errors.js';
import type { Backend } from '../../src/core/ports.js';
import { feedOfMemoryStore, FeedStore } from '../helpers/fake-feed.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const apps: Backache[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

/** A memory deployment whose cache counts its reads; with `latencyMs`, a feed that tells that late instead of the store's own. */
async function deployment(latencyMs = 0) {
  const real = await openBackend({ broker: `memory:${randomUUID()}` });
  const mem = real.cache as MemoryCacheStore;
  const store = new FeedStore(mem, latencyMs > 0 ? feedOfMemoryStore(mem, { latencyMs }) : real.cache.changes);
  const backend: Backend = { ...real, cache: store };
  return { backend, store };
}

async function open(backend: Backend, operations: BackacheOptions['operations'], o: Partial<BackacheOptions> = { l1: {} }) {
  const app = await createBackache({ operations, backend, ...o });
  apps.push(app);
  if (o.l1) await vi.waitUntil(() => app.l1Stats()?.up, { timeout: 2000 });
  return app;
}

const opsOf = (over: Record<string, unknown> = {}) =>
  defineOperations({
    upper: { run: async (uri: string) => uri.toUpperCase(), ...over },
  });

const counters = async (app: Backache, op = 'upper') => (await app.stats()).ops.find((o) => o.op === op)!;

describe('engine with l1 (memory)', () => {
  it('hits the tier holds need no store read and count as hits and as l1Hits; misses and store hits do not count as l1Hits', async () => {
    const { backend, store } = await deployment();
    const app = await open(backend, opsOf());
    const reqs = ['a', 'b'].map((uri) => ({ op: 'upper', uri }));
    const first = await app.bulkGetOrDelegate(reqs);
    expect(first.delegated).toHaveLength(2);
    const w = app.startWorker();
    await Promise.all(first.delegated.map((d) => app.waitFor(d.jobId, { timeout: '5s' })));
    await w.stop();
    await sleep(100); // the feed's news of the worker's writes (which may drop what waitFor read)
    const before = store.reads;
    const second = await app.bulkGetOrDelegate(reqs);
    expect(second.hits.map((h) => h.value)).toEqual(['A', 'B']);
    const fromStore = store.reads - before; // 0, or 1 when the feed's news came after waitFor
    expect(fromStore).toBeLessThanOrEqual(1);
    const third = await app.bulkGetOrDelegate(reqs);
    expect(third.hits.map((h) => h.value)).toEqual(['A', 'B']);
    expect(await app.getOrDelegate('upper', 'a')).toEqual({ status: 'hit', value: 'A', stale: false });
    expect(store.reads - before).toBe(fromStore); // every hit since came from the tier
    expect(await counters(app)).toMatchObject({ hits: 5, l1Hits: fromStore ? 3 : 5, misses: 2 });
    expect(app.l1Stats()).toMatchObject({ up: true, entries: 2 });
  });

  it('counts only the hits the tier served in a batch that also reads the store', async () => {
    const { backend, store } = await deployment();
    const app = await open(backend, opsOf());
    await backend.cache.setMany(['a', 'b'].map((id) => ({ key: { ns: 'upper', id }, entry: { value: id, createdAt: Date.now(), expiresAt: null, staleUntil: null } })));
    await sleep(50); // the feed's news of these writes
    await app.get('upper', 'a'); // a is now in the tier
    const reads = store.reads;
    const r = await app.bulkGetOrDelegate(['a', 'b', 'c'].map((uri) => ({ op: 'upper', uri })));
    expect(r.hits.map((h) => h.uri)).toEqual(['a', 'b']);
    expect(store.reads).toBe(reads + 1);
    expect(store.keysRead.slice(-2).map((k) => k.id)).toEqual(['b', 'c']);
    expect(await counters(app)).toMatchObject({ hits: 2, l1Hits: 1, misses: 1 });
  });

  it('get and getMany read through the tier; warm --dry-run too', async () => {
    const { backend, store } = await deployment();
    const app = await open(backend, opsOf());
    const w = app.startWorker();
    expect(await app.call('upper', 'x', { timeout: '5s' })).toBe('X');
    await w.stop();
    await sleep(50); // the feed's news of the worker's write
    expect(await app.get('upper', 'x')).toMatchObject({ value: 'X', stale: false, uri: 'x' });
    const reads = store.reads;
    expect((await app.getMany('upper', ['x', 'y'])).map((e) => e?.value)).toEqual(['X', undefined]);
    expect(await app.get('upper', 'x')).toMatchObject({ value: 'X' });
    expect((await app.getMany('upper', ['x', 'y'])).map((e) => e?.value)).toEqual(['X', undefined]);
    expect(store.reads).toBe(reads + 1); // y, once: its absence is kept too
    expect(await app.warm([{ op: 'upper', uri: 'x' }], { dryRun: true })).toMatchObject({ fresh: 1, queued: 0 });
    expect(store.reads).toBe(reads + 1);
  });

  it("an invalidation drops this process's entries at once, and another process's once the feed tells it", async () => {
    const { backend } = await deployment(30);
    const a = await open(backend, opsOf());
    const b = await open(backend, opsOf());
    const put = (id: string, value: string) => backend.cache.setMany([{ key: { ns: 'upper', id }, entry: { value, createdAt: Date.now(), expiresAt: null, staleUntil: null } }]);
    await put('h', 'H');
    await put('s', 'S');
    for (const app of [a, b]) {
      expect((await app.getMany('upper', ['h', 's'])).map((e) => e?.value)).toEqual(['H', 'S']);
    }
    expect(await a.invalidate({ op: 'upper', uris: ['h'] })).toMatchObject({ invalidated: 1 });
    expect(await a.invalidate({ op: 'upper', uris: ['s'], soft: true })).toMatchObject({ invalidated: 1 });
    expect(await a.get('upper', 'h')).toBeUndefined();
    expect(await a.get('upper', 's')).toMatchObject({ value: 'S', stale: true });
    await waitUntil(async () => (await b.get('upper', 'h')) === undefined && (await b.get('upper', 's'))?.stale === true, "b sees a's invalidations");
    // A whole-deployment cleanup empties a's tier at once.
    await put('h', 'H2');
    await a.get('upper', 'h');
    await a.cleanup();
    expect(await a.get('upper', 'h')).toBeUndefined();
  });

  it('a stale hit from the tier enqueues one refresh, as a stale hit from the store does; the refresh reaches the tier', async () => {
    const { backend } = await deployment();
    let runs = 0;
    const app = await open(backend, opsOf({ ttl: '500ms', grace: '1h', run: async (uri: string) => `${uri.toUpperCase()}${++runs}` }));
    const w = app.startWorker();
    expect(await app.call('upper', 'a', { timeout: '5s' })).toBe('A1');
    const computed = Date.now();
    expect(await app.getOrDelegate('upper', 'a')).toEqual({ status: 'hit', value: 'A1', stale: false });
    await w.stop();
    await sleep(computed + 600 - Date.now());
    await app.get('upper', 'a'); // in the tier (again, if the feed's news of the write dropped it)
    const before = await counters(app);
    expect(await app.getOrDelegate('upper', 'a')).toEqual({ status: 'hit', value: 'A1', stale: true });
    expect(await app.getOrDelegate('upper', 'a')).toEqual({ status: 'hit', value: 'A1', stale: true });
    const c = await counters(app);
    expect(c).toMatchObject({ hits: before.hits + 2, l1Hits: before.l1Hits + 2, stale: 2, misses: 1, waiting: 1 });
    const w2 = app.startWorker();
    await waitUntil(async () => (await app.get('upper', 'a'))?.value === 'A2', 'the refreshed value');
    await w2.stop();
    expect(runs).toBe(2);
  });

  it('reads its own writes: after waitFor on a job another process computed, after this process computed inline', async () => {
    // The feed tells late: what the engine reads right after a computation must not be the
    // miss its tier kept when the request was delegated.
    const { backend } = await deployment(300);
    const client = await open(backend, opsOf());
    const worker = await open(backend, opsOf(), {});
    const r = await client.getOrDelegate('upper', 'p');
    expect(r.status).toBe('delegated');
    const w = worker.startWorker();
    expect((await client.waitFor((r as { jobId: string }).jobId, { timeout: '5s' })).value).toBe('P');
    await w.stop();
    expect(await client.get('upper', 'p')).toMatchObject({ value: 'P' });
    expect(await client.getOrDelegate('upper', 'p')).toEqual({ status: 'hit', value: 'P', stale: false });

    expect((await client.getMany('upper', ['i'])).map((e) => e?.value)).toEqual([undefined]); // a miss kept
    const inline = await client.bulkGetOrDelegate([{ op: 'upper', uri: 'i' }], { inline: true });
    expect(inline.hits.map((h) => h.value)).toEqual(['I']);
    expect(await client.get('upper', 'i')).toMatchObject({ value: 'I' });

    // And this process's own worker.
    expect((await client.getOrDelegate('upper', 'q')).status).toBe('delegated');
    const own = client.startWorker();
    await waitUntil(async () => (await client.get('upper', 'q'))?.value === 'Q', "this process's worker's result, before the feed tells");
    await own.stop();
  });

  it('close stops the tier and leaves a backend it did not open alone', async () => {
    const { backend, store } = await deployment();
    const app = await open(backend, opsOf());
    await app.get('upper', 'z');
    await app.close();
    expect(app.l1Stats()).toMatchObject({ up: false, entries: 0 });
    expect(store.closed).toBe(false);
    expect(await backend.cache.getMany([{ ns: 'upper', id: 'z' }])).toEqual([undefined]);
    const plain = await open(backend, opsOf(), {});
    expect(plain.l1Stats()).toBeUndefined();
  });

  it('configuration: a bad option fails before any connection; a store without a feed is refused; memory: works once its store has a feed', async () => {
    const bad = createBackache({ operations: opsOf(), broker: 'redis://127.0.0.1:1', l1: { maxBytes: '64XB' } });
    await expect(bad).rejects.toThrow(ConfigError);
    await expect(bad).rejects.toThrow(`l1.maxBytes "64XB": use a number of bytes or a size such as '64MB'`);
    const { backend } = await deployment();
    const mem = (await openBackend({ broker: `memory:${randomUUID()}` })).cache;
    const noFeed = { ...backend, cache: { ...stripFeed(mem), kind: 'custom' } };
    await expect(createBackache({ operations: opsOf(), backend: noFeed, l1: {} })).rejects.toThrow('l1 needs a cache store with a change feed (memory:, sqlite:, redis:); custom has none');
    const app = await createBackache({ operations: opsOf(), broker: `memory:${randomUUID()}`, l1: {} });
    apps.push(app);
    await vi.waitUntil(() => app.l1Stats()?.up, { timeout: 2000 });
    await app.get('upper', 'n');
    await app.get('upper', 'n');
    expect(app.l1Stats()).toMatchObject({ hits: 1, misses: 1 });
  });
});

/** A store like `s` without a change feed. */
function stripFeed(s: Backend['cache']): Backend['cache'] {
  return {
    kind: s.kind,
    getMany: (k) => s.getMany(k),
    setMany: (i) => s.setMany(i),
    deleteMany: (k) => s.deleteMany(k),
    markStale: (k, n) => s.markStale(k, n),
    scan: (ns, p, o) => s.scan(ns, p, o),
    namespaces: () => s.namespaces(),
    count: (ns) => s.count(ns),
    clear: () => s.clear(),
    close: () => s.close(),
  };
}
