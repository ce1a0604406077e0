/**
 * One conformance suite per port, written once and run against every backend
 * (memory.test.ts, sqlite.test.ts, redis.test.ts, mongodb.test.ts call these).
 * describeChangeFeed opens two backends of one deployment instead (OpenDeployment).
 * `open` must return a fresh, isolated deployment (a unique prefix or file) each time.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Backend, CacheChange, CacheStore, JobOutcome, ClaimedJob, Key, NewJob, QuarantineItem, StoredEntry } from '../../src/core/ports.js';
import { startFixture } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';

export type OpenBackend = () => Promise<Backend>;

const entry = (value: unknown, over: Partial<StoredEntry> = {}): StoredEntry => ({
  value,
  createdAt: Date.now(),
  expiresAt: null,
  staleUntil: null,
  ...over,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function collect(it: AsyncIterable<string>) {
  const out: string[] = [];
  for await (const x of it) out.push(x);
  return out;
}

function useBackend(open: OpenBackend) {
  const ref = {} as { b: Backend };
  beforeEach(async () => {
    ref.b = await open();
  });
  afterEach(async () => {
    await ref.b.close();
  });
  return ref;
}

export function describeCacheStore(name: string, open: OpenBackend, openCache?: () => Promise<{ cache: CacheStore; close(): Promise<void> }>) {
  describe(`CacheStore conformance: ${name}`, () => {
    const ref = {} as { c: CacheStore; close: () => Promise<void> };
    beforeEach(async () => {
      if (openCache) {
        const o = await openCache();
        ref.c = o.cache;
        ref.close = o.close;
      } else {
        const b = await open();
        ref.c = b.cache;
        ref.close = () => b.close();
      }
    });
    afterEach(async () => ref.close());

    it('getMany returns undefined for misses, in key order', async () => {
      await ref.c.setMany([{ key: { ns: 'a', id: 'x' }, entry: entry(1) }]);
      const got = await ref.c.getMany([{ ns: 'a', id: 'y' }, { ns: 'a', id: 'x' }, { ns: 'b', id: 'x' }]);
      expect(got.map((e) => e?.value)).toEqual([undefined, 1, undefined]);
    });

    it('round-trips JSON values and entry times exactly', async () => {
      const value = { s: 'é ü 😀 "q"', n: 1.5, a: [1, null, { b: true }], nul: null };
      const e = entry(value, { createdAt: 1000, expiresAt: Date.now() + 60_000, staleUntil: Date.now() + 120_000, uri: 'final' });
      await ref.c.setMany([{ key: { ns: 'op', id: 'u' }, entry: e }]);
      const [got] = await ref.c.getMany([{ ns: 'op', id: 'u' }]);
      expect(got).toEqual(e);
    });

    it('keeps any bytes of an id apart: spaces, unicode, quotes, very long, prefix-like', async () => {
      const ids = ['a b', 'ü/😀', `q"'\\`, 'x'.repeat(10_000), 'a', 'a*', 'a%', 'a_', '*', '', 'a\u0000b', 'a\nb'];
      await ref.c.setMany(ids.map((id, i) => ({ key: { ns: 'op', id }, entry: entry(i) })));
      const got = await ref.c.getMany(ids.map((id) => ({ ns: 'op', id })));
      expect(got.map((e) => e?.value)).toEqual(ids.map((_, i) => i));
    });

    it('namespaces are separate', async () => {
      await ref.c.setMany([
        { key: { ns: 'a', id: 'x' }, entry: entry('a') },
        { key: { ns: 'b', id: 'x' }, entry: entry('b') },
      ]);
      expect((await ref.c.getMany([{ ns: 'a', id: 'x' }, { ns: 'b', id: 'x' }])).map((e) => e?.value)).toEqual(['a', 'b']);
      expect((await ref.c.namespaces()).sort()).toEqual(['a', 'b']);
      expect(await ref.c.count('a')).toBe(1);
    });

    it('setMany overwrites', async () => {
      await ref.c.setMany([{ key: { ns: 'a', id: 'x' }, entry: entry(1) }]);
      await ref.c.setMany([{ key: { ns: 'a', id: 'x' }, entry: entry(2) }]);
      expect((await ref.c.getMany([{ ns: 'a', id: 'x' }]))[0]?.value).toBe(2);
      expect(await ref.c.count('a')).toBe(1);
    });

    it('entries past staleUntil are misses; stale ones are still returned', async () => {
      const now = Date.now();
      await ref.c.setMany([
        { key: { ns: 'a', id: 'gone' }, entry: entry(1, { expiresAt: now - 20, staleUntil: now - 10 }) },
        { key: { ns: 'a', id: 'stale' }, entry: entry(2, { expiresAt: now - 20, staleUntil: now + 60_000 }) },
        { key: { ns: 'a', id: 'soon' }, entry: entry(3, { expiresAt: now + 400, staleUntil: now + 400 }) },
      ]);
      const got = await ref.c.getMany(['gone', 'stale', 'soon'].map((id) => ({ ns: 'a', id })));
      expect(got.map((e) => e?.value)).toEqual([undefined, 2, 3]);
      await sleep(500);
      expect((await ref.c.getMany([{ ns: 'a', id: 'soon' }]))[0]).toBeUndefined();
    });

    it('deleteMany removes and counts what existed', async () => {
      await ref.c.setMany(['x', 'y'].map((id) => ({ key: { ns: 'a', id }, entry: entry(id) })));
      expect(await ref.c.deleteMany([{ ns: 'a', id: 'x' }, { ns: 'a', id: 'nope' }])).toBe(1);
      expect((await ref.c.getMany([{ ns: 'a', id: 'x' }, { ns: 'a', id: 'y' }])).map((e) => e?.value)).toEqual([undefined, 'y']);
      expect(await collect(ref.c.scan('a', ''))).toEqual(['y']);
    });

    it('markStale keeps the value and ends its fresh lifetime', async () => {
      const now = Date.now();
      await ref.c.setMany([
        { key: { ns: 'a', id: 'x' }, entry: entry('v', { expiresAt: null, staleUntil: null }) },
        { key: { ns: 'a', id: 'y' }, entry: entry('w', { expiresAt: now + 60_000, staleUntil: now + 120_000 }) },
      ]);
      expect(await ref.c.markStale([{ ns: 'a', id: 'x' }, { ns: 'a', id: 'y' }, { ns: 'a', id: 'z' }], now)).toBe(2);
      const [x, y] = await ref.c.getMany([{ ns: 'a', id: 'x' }, { ns: 'a', id: 'y' }]);
      expect(x?.value).toBe('v');
      expect(x!.expiresAt).toBeLessThanOrEqual(now);
      expect(y?.value).toBe('w');
      expect(y!.expiresAt).toBeLessThanOrEqual(now);
      expect(y!.staleUntil).toBe(now + 120_000);
    });

    it('scan yields ids by literal prefix in order, never confusing wildcard characters', async () => {
      const ids = ['https://x/users/1/feed', 'https://x/users/2/feed', 'https://x/usersX', 'https://y/', 'https://x/users%', 'https://x/users_1'];
      await ref.c.setMany(ids.map((id) => ({ key: { ns: 'a', id }, entry: entry(1) })));
      await ref.c.setMany([{ key: { ns: 'b', id: 'https://x/users/3' }, entry: entry(1) }]);
      expect(await collect(ref.c.scan('a', 'https://x/users/'))).toEqual(['https://x/users/1/feed', 'https://x/users/2/feed']);
      expect(await collect(ref.c.scan('a', 'https://x/users%'))).toEqual(['https://x/users%']);
      expect(await collect(ref.c.scan('a', 'https://x/users_'))).toEqual(['https://x/users_1']);
      expect((await collect(ref.c.scan('a', ''))).length).toBe(6);
    });

    it('scan goes through large namespaces in batches', async () => {
      const ids = Array.from({ length: 2500 }, (_, i) => `u/${String(i).padStart(5, '0')}`);
      await ref.c.setMany(ids.map((id) => ({ key: { ns: 'big', id }, entry: entry(1) })));
      const got = await collect(ref.c.scan('big', 'u/', { batchSize: 300 }));
      expect(got).toEqual(ids);
    });

    it('clear removes everything of this deployment', async () => {
      await ref.c.setMany([{ key: { ns: 'a', id: 'x' }, entry: entry(1) }]);
      await ref.c.clear();
      expect(await ref.c.getMany([{ ns: 'a', id: 'x' }])).toEqual([undefined]);
      expect(await ref.c.namespaces()).toEqual([]);
    });
  });
}

export function describeLocker(name: string, open: OpenBackend) {
  describe(`Locker conformance: ${name}`, () => {
    const ref = useBackend(open);
    const key = { ns: 'op', id: 'https://x/ü "q"' };

    it('excludes while held, and releases with the right token only', async () => {
      const l = ref.b.locker;
      const t = await l.acquire(key, 5000);
      expect(t).toBeTruthy();
      expect(await l.acquire(key, 5000)).toBeNull();
      expect(await l.isLocked(key)).toBe(true);
      expect(await l.release(key, 'not-the-token')).toBe(false);
      expect(await l.isLocked(key)).toBe(true);
      expect(await l.release(key, t!)).toBe(true);
      expect(await l.isLocked(key)).toBe(false);
      expect(await l.acquire(key, 5000)).toBeTruthy();
    });

    it('expires after its ttl, and the old token cannot extend or release the new holder', async () => {
      const l = ref.b.locker;
      const t1 = await l.acquire(key, 100);
      await sleep(200);
      const t2 = await l.acquire(key, 5000);
      expect(t2).toBeTruthy();
      expect(await l.extend(key, t1!, 5000)).toBe(false);
      expect(await l.release(key, t1!)).toBe(false);
      expect(await l.isLocked(key)).toBe(true);
    });

    it('extend keeps it held past the first ttl', async () => {
      // Margins of seconds, not milliseconds: a loaded machine may sleep long past a short ttl.
      const l = ref.b.locker;
      const t = await l.acquire(key, 1000);
      expect(await l.extend(key, t!, 10_000)).toBe(true);
      await sleep(1300);
      expect(await l.acquire(key, 1000)).toBeNull();
      expect(await l.release(key, t!)).toBe(true);
    });

    it('only one of many concurrent acquirers wins', async () => {
      const l = ref.b.locker;
      const results = await Promise.all(Array.from({ length: 50 }, () => l.acquire(key, 5000)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('different keys and namespaces do not interfere', async () => {
      const l = ref.b.locker;
      expect(await l.acquire({ ns: 'a', id: 'x' }, 5000)).toBeTruthy();
      expect(await l.acquire({ ns: 'b', id: 'x' }, 5000)).toBeTruthy();
      expect(await l.acquire({ ns: 'a', id: 'y' }, 5000)).toBeTruthy();
    });
  });
}

export function describePendingSet(name: string, open: OpenBackend) {
  describe(`PendingSet conformance: ${name}`, () => {
    const ref = useBackend(open);
    const key = { ns: 'op', id: 'u 1' };

    it('the first add is first; later ones coalesce onto its job id', async () => {
      const p = ref.b.pending;
      expect(await p.addMany([{ key, cbArgs: { n: 1 }, jobId: 'j1' }])).toEqual([{ first: true, jobId: 'j1' }]);
      expect(await p.addMany([{ key, cbArgs: { n: 2 }, jobId: 'j2' }])).toEqual([{ first: false, jobId: 'j1' }]);
      expect(await p.jobIdOf(key)).toBe('j1');
      expect(await p.count('op')).toBe(1);
      expect(await p.takeAll(key)).toEqual([{ n: 1 }, { n: 2 }]);
      expect(await p.takeAll(key)).toEqual([]);
      expect(await p.jobIdOf(key)).toBeUndefined();
      expect(await p.addMany([{ key, cbArgs: 3, jobId: 'j3' }])).toEqual([{ first: true, jobId: 'j3' }]);
    });

    it('duplicates inside one batch coalesce; other pairs are independent', async () => {
      const p = ref.b.pending;
      const k2 = { ns: 'op', id: 'u 2' };
      const k3 = { ns: 'other', id: 'u 1' };
      const res = await p.addMany([
        { key, cbArgs: 'a', jobId: 'j1' },
        { key: k2, cbArgs: 'b', jobId: 'j2' },
        { key, cbArgs: 'c', jobId: 'j3' },
        { key: k3, cbArgs: 'd', jobId: 'j4' },
      ]);
      expect(res).toEqual([
        { first: true, jobId: 'j1' },
        { first: true, jobId: 'j2' },
        { first: false, jobId: 'j1' },
        { first: true, jobId: 'j4' },
      ]);
      expect(await p.takeAll(key)).toEqual(['a', 'c']);
      expect(await p.takeAll(k2)).toEqual(['b']);
    });

    it('keeps undefined, null and nested cbArgs', async () => {
      const p = ref.b.pending;
      await p.addMany([
        { key, cbArgs: undefined, jobId: 'j1' },
        { key, cbArgs: null, jobId: 'j2' },
        { key, cbArgs: { deep: [1, { x: 'é' }] }, jobId: 'j3' },
      ]);
      const got = await p.takeAll(key);
      expect(got).toHaveLength(3);
      expect(got[0] ?? null).toBeNull();
      expect(got[1]).toBeNull();
      expect(got[2]).toEqual({ deep: [1, { x: 'é' }] });
    });

    it('the same request added twice (a resent command) counts once and answers the same', async () => {
      const p = ref.b.pending;
      const a = { key, cbArgs: 'a', jobId: 'ra' };
      const b = { key, cbArgs: 'b', jobId: 'rb' };
      expect(await p.addMany([a])).toEqual([{ first: true, jobId: 'ra' }]);
      expect(await p.addMany([a])).toEqual([{ first: true, jobId: 'ra' }]);
      expect(await p.addMany([b, b])).toEqual([
        { first: false, jobId: 'ra' },
        { first: false, jobId: 'ra' },
      ]);
      expect(await p.addMany([b])).toEqual([{ first: false, jobId: 'ra' }]);
      expect(await p.takeAll(key)).toEqual(['a', 'b']);
    });

    it('a silent request (warm) makes or joins the pending job without cbArgs', async () => {
      const p = ref.b.pending;
      expect(await p.addMany([{ key, cbArgs: undefined, jobId: 's1', silent: true }])).toEqual([{ first: true, jobId: 's1' }]);
      expect(await p.jobIdOf(key)).toBe('s1');
      expect(await p.count('op')).toBe(1);
      expect(await p.addMany([{ key, cbArgs: 'real', jobId: 'r1' }, { key, cbArgs: 'x', jobId: 's2', silent: true }])).toEqual([
        { first: false, jobId: 's1' },
        { first: false, jobId: 's1' },
      ]);
      expect(await p.takeAll(key)).toEqual(['real']);
      expect(await p.jobIdOf(key)).toBeUndefined();
      const k2 = { ns: 'op', id: 'only silent' };
      await p.addMany([{ key: k2, cbArgs: 1, jobId: 's3', silent: true }]);
      expect(await p.takeAll(k2)).toEqual([]);
    });

    it('many concurrent adders: exactly one first, all cbArgs taken once', async () => {
      const p = ref.b.pending;
      const res = await Promise.all(Array.from({ length: 200 }, (_, i) => p.addMany([{ key, cbArgs: i, jobId: `j${i}` }])));
      const firsts = res.flat().filter((r) => r.first);
      expect(firsts).toHaveLength(1);
      expect(new Set(res.flat().map((r) => r.jobId)).size).toBe(1);
      const taken = await p.takeAll(key);
      expect((taken as number[]).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    });
  });
}

export function describeJobQueue(name: string, open: OpenBackend) {
  describe(`JobQueue conformance: ${name}`, () => {
    const ref = useBackend(open);
    const job = (id: string, op = 'op', over: Partial<NewJob> = {}): NewJob => ({ id, data: { op, uri: `u-${id}`, kwargs: {} }, ...over });
    const done = (tag: unknown = 1): JobOutcome => ({ type: 'completed', result: { cbArgs: [tag], deliveryId: `d-${String(tag)}` } });

    async function drain(ops: string[], handler: (j: ClaimedJob) => Promise<JobOutcome>, until: () => boolean, concurrency = 4, timeout = 10_000) {
      const c = ref.b.queue.consume({ ops, concurrency: () => concurrency, handler: (j) => handler(j), leaseMs: 5000 });
      const t0 = Date.now();
      while (!until() && Date.now() - t0 < timeout) await sleep(20);
      await c.stop(2000);
    }

    it('runs every job once and records its result', async () => {
      const q = ref.b.queue;
      await q.addMany(Array.from({ length: 50 }, (_, i) => job(`j${i}`)));
      expect((await q.counts('op')).waiting).toBe(50);
      const seen: string[] = [];
      await drain(['op'], async (j) => {
        seen.push(j.id);
        expect(j.attempt).toBe(1);
        return done(j.data.uri);
      }, () => seen.length >= 50);
      await sleep(50);
      expect(seen.sort()).toEqual(Array.from({ length: 50 }, (_, i) => `j${i}`).sort());
      expect(await q.getState('j7')).toEqual({ state: 'completed', result: { cbArgs: ['u-j7'], deliveryId: 'd-u-j7' }, op: 'op', uri: 'u-j7' });
      expect(await q.counts('op')).toMatchObject({ waiting: 0, active: 0, delayed: 0 });
    });

    it('adding an existing id is a no-op', async () => {
      const q = ref.b.queue;
      await q.addMany([job('same'), job('same')]);
      await q.addMany([job('same')]);
      expect((await q.counts('op')).waiting).toBe(1);
    });

    it('keeps data intact: kwargs, unicode, long uris', async () => {
      const q = ref.b.queue;
      const uri = `https://x/ü "q" ${'z'.repeat(10_000)}`;
      await q.addMany([{ id: 'k', data: { op: 'op', uri, kwargs: { attempt: 2, deep: { a: [1] } }, refresh: true } }]);
      let got: ClaimedJob | undefined;
      await drain(['op'], async (j) => ((got = j), done()), () => !!got);
      expect(got!.data).toEqual({ op: 'op', uri, kwargs: { attempt: 2, deep: { a: [1] } }, refresh: true });
    });

    it('only consumes the operations it is given', async () => {
      const q = ref.b.queue;
      await q.addMany([job('a1', 'a'), job('b1', 'b')]);
      const seen: string[] = [];
      await drain(['a'], async (j) => (seen.push(j.id), done()), () => seen.length >= 1);
      await sleep(100);
      expect(seen).toEqual(['a1']);
      expect((await q.counts('b')).waiting).toBe(1);
    });

    it('retry runs the same job id later with new kwargs and a higher attempt', async () => {
      const q = ref.b.queue;
      await q.addMany([job('r')]);
      const runs: ClaimedJob[] = [];
      await drain(['op'], async (j) => {
        runs.push(j);
        if (j.attempt < 3) return { type: 'retry', delayMs: 50, kwargs: { attempt: j.attempt + 1 } };
        return done('ok');
      }, () => runs.length >= 3);
      expect(runs.map((r) => [r.id, r.attempt, r.data.kwargs.attempt])).toEqual([
        ['r', 1, undefined],
        ['r', 2, 2],
        ['r', 3, 3],
      ]);
      await sleep(50);
      expect(await q.getState('r')).toMatchObject({ state: 'completed' });
    });

    it('delayed jobs wait, and are counted as delayed', async () => {
      const q = ref.b.queue;
      await q.addMany([job('d', 'op', { delayMs: 400 })]);
      expect(await q.counts('op')).toMatchObject({ delayed: 1, waiting: 0 });
      expect((await q.getState('d')).state).toBe('delayed');
      const seen: number[] = [];
      const t0 = Date.now();
      await drain(['op'], async () => (seen.push(Date.now() - t0), done()), () => seen.length >= 1);
      expect(seen[0]).toBeGreaterThanOrEqual(300);
    });

    it('quarantined outcome is the job state', async () => {
      const q = ref.b.queue;
      await q.addMany([job('qq')]);
      let ran = false;
      await drain(['op'], async () => ((ran = true), { type: 'quarantined', quarantineId: 'Q1', error: { name: 'Error', message: 'boom' } }), () => ran);
      await sleep(50);
      expect(await q.getState('qq')).toMatchObject({ state: 'quarantined', quarantineId: 'Q1', error: { message: 'boom' } });
      expect(await q.getState('never-added')).toEqual({ state: 'unknown' });
    });

    it('respects concurrency per operation', async () => {
      const q = ref.b.queue;
      await q.addMany(Array.from({ length: 12 }, (_, i) => job(`c${i}`)));
      let active = 0;
      let peak = 0;
      let finished = 0;
      await drain(['op'], async () => {
        active++;
        peak = Math.max(peak, active);
        await sleep(30);
        active--;
        finished++;
        return done();
      }, () => finished >= 12, 3);
      expect(peak).toBeLessThanOrEqual(3);
      expect(peak).toBeGreaterThanOrEqual(2);
    });

    it('priority: lower numbers run first', async () => {
      const q = ref.b.queue;
      // One URI: where an operation is spread (Redis shards) priority orders each shard's jobs.
      const at = (id: string, priority: number): NewJob => ({ id, data: { op: 'op', uri: 'u-prio', kwargs: {} }, priority });
      await q.addMany([at('low', 10), at('high', 1), at('mid', 5)]);
      const order: string[] = [];
      await drain(['op'], async (j) => (order.push(j.id), done()), () => order.length >= 3, 1);
      expect(order).toEqual(['high', 'mid', 'low']);
    });

    it('pause stops claiming; resume goes on', async () => {
      const q = ref.b.queue;
      await q.pause('op');
      expect((await q.counts('op')).paused).toBe(true);
      await q.addMany([job('p1')]);
      const seen: string[] = [];
      const c = q.consume({ ops: ['op'], concurrency: () => 2, handler: async (j) => (seen.push(j.id), done()) });
      await sleep(400);
      expect(seen).toEqual([]);
      await q.resume('op');
      const t0 = Date.now();
      while (seen.length < 1 && Date.now() - t0 < 5000) await sleep(20);
      await c.stop();
      expect(seen).toEqual(['p1']);
      expect((await q.counts('op')).paused).toBe(false);
    });

    it('stop waits for running jobs to finish', async () => {
      const q = ref.b.queue;
      await q.addMany([job('slow')]);
      let started = false;
      let finished = false;
      const c = q.consume({ ops: ['op'], concurrency: () => 1, handler: async () => {
        started = true;
        await sleep(300);
        finished = true;
        return done();
      } });
      while (!started) await sleep(10);
      await c.stop(5000);
      expect(finished).toBe(true);
      await sleep(20);
      expect((await q.getState('slow')).state).toBe('completed');
    });

    it('a job still running when stop passes its timeout is handed back: the next consumer takes it at once, same attempt, no stall', async () => {
      const q = ref.b.queue;
      await q.addMany([job('hand')]);
      let aborted = false;
      let claimed = false;
      const recorded: string[] = [];
      const first = q.consume({
        ops: ['op'],
        concurrency: () => 1,
        leaseMs: 30_000,
        recorded: (_j, o) => recorded.push(o.type),
        handler: (_j, signal) => {
          claimed = true;
          // An operation that honours its signal answers handback (as consume.ts does).
          return new Promise<JobOutcome>((resolve) => signal.addEventListener('abort', () => ((aborted = true), resolve({ type: 'handback' }))));
        },
      });
      while (!claimed) await sleep(10);
      await first.stop(200);
      expect(aborted).toBe(true);
      expect(recorded).toEqual(['handback']);
      expect(first.processed).toBe(0);
      expect((await q.getState('hand')).state).toBe('waiting');
      const second: ClaimedJob[] = [];
      // The lease was 30 s: being taken within a few seconds shows it was handed back, not left to expire.
      const c = q.consume({ ops: ['op'], concurrency: () => 1, leaseMs: 5000, handler: async (j) => (second.push(j), done('second')) });
      const t0 = Date.now();
      while (second.length < 1 && Date.now() - t0 < 8000) await sleep(20);
      await c.stop();
      expect(second).toHaveLength(1);
      expect(second[0]).toMatchObject({ id: 'hand', attempt: 1, stalls: 0 });
    });

    it('a run that ignores its signal past the stop is handed back too, and its late outcome is dropped', async () => {
      const q = ref.b.queue;
      await q.addMany([job('deaf')]);
      let claimed = false;
      let release: () => void = () => {};
      const first = q.consume({
        ops: ['op'],
        concurrency: () => 1,
        handler: () => {
          claimed = true;
          return new Promise<JobOutcome>((resolve) => (release = () => resolve(done('late'))));
        },
      });
      while (!claimed) await sleep(10);
      await first.stop(100);
      release();
      await sleep(100);
      expect((await q.getState('deaf')).state).toBe('waiting');
    });

    it('tells `recorded` of each outcome once the queue holds it', async () => {
      const q = ref.b.queue;
      await q.addMany([job('ok1'), job('bad1')]);
      const recorded = new Map<string, string>();
      const c = q.consume({
        ops: ['op'],
        concurrency: () => 2,
        recorded: (j, o) => recorded.set(j.id, o.type),
        handler: async (j) => (j.id === 'bad1' ? { type: 'quarantined', quarantineId: 'Qb', error: { name: 'Error', message: 'no' } } : done('ok')),
      });
      const t0 = Date.now();
      while (recorded.size < 2 && Date.now() - t0 < 8000) await sleep(20);
      await c.stop();
      expect(Object.fromEntries(recorded)).toEqual({ ok1: 'completed', bad1: 'quarantined' });
      expect((await q.getState('ok1')).state).toBe('completed');
      expect((await q.getState('bad1')).state).toBe('quarantined');
    });

    it('list: jobs by state in the order they run (finished ones newest first); job: one in full, with its worker', async () => {
      const q = ref.b.queue;
      // One URI: where an operation is spread (Redis shards) the order is each shard's.
      const at = (id: string, over: Partial<NewJob> = {}): NewJob => ({ id, data: { op: 'op', uri: 'u-list', kwargs: {} }, ...over });
      await q.addMany([at('a1'), at('a2', { priority: 5 }), at('dl', { delayMs: 60_000 }), job('x1', 'other'), at('a3')]);
      const ids = (js: { id: string }[]) => js.map((j) => j.id);
      expect(ids(await q.list('op', { state: 'waiting' }))).toEqual(['a1', 'a3', 'a2']);
      expect(ids(await q.list('op', { state: 'waiting', limit: 2 }))).toEqual(['a1', 'a3']);
      const [dl] = await q.list('op', { state: 'delayed' });
      expect(dl).toMatchObject({ id: 'dl', state: 'delayed', attempts: 0 });
      expect(dl!.runAt).toBeGreaterThan(Date.now() + 50_000);
      expect(ids(await q.list('op'))).toEqual(['a1', 'a3', 'a2', 'dl']);
      expect(ids(await q.list('op', { limit: 3 }))).toEqual(['a1', 'a3', 'a2']);
      expect(ids(await q.list('other'))).toEqual(['x1']);
      expect(await q.list('op', { state: 'completed' })).toEqual([]);
      const a1 = await q.job('a1');
      expect(a1).toMatchObject({ id: 'a1', op: 'op', uri: 'u-list', state: 'waiting', data: { op: 'op', uri: 'u-list', kwargs: {} }, priority: 0, attempts: 0, stalls: 0 });
      expect(a1!.createdAt).toBeGreaterThan(Date.now() - 60_000);
      expect((await q.job('a2'))?.priority).toBe(5);
      expect(await q.job('never-added')).toBeUndefined();

      // Run them in their order (one at a time where a shard's share of the concurrency is 1):
      // a1 is quarantined, a3 completes, a2 is held (active).
      let release: (o: JobOutcome) => void = () => {};
      const recorded = new Set<string>();
      const c = q.consume({
        ops: ['op'],
        workerId: 'worker-1',
        concurrency: () => 3,
        leaseMs: 5000,
        recorded: (j) => recorded.add(j.id),
        handler: (j) =>
          j.id === 'a2'
            ? new Promise<JobOutcome>((r) => (release = r))
            : Promise.resolve(j.id === 'a3' ? done('three') : { type: 'quarantined', quarantineId: 'Q1', error: { name: 'Error', message: 'no a1' } }),
      });
      const t0 = Date.now();
      while ((recorded.size < 2 || !c.runningJobs().includes('a2')) && Date.now() - t0 < 8000) await sleep(20);
      expect(c.runningJobs()).toEqual(['a2']);
      const [active] = await q.list('op', { state: 'active' });
      expect(active).toMatchObject({ id: 'a2', state: 'active', worker: 'worker-1', attempts: 1 });
      expect(ids(await q.list('op'))).toEqual(['a2', 'dl']);
      expect(await q.list('op', { state: 'completed' })).toEqual([
        expect.objectContaining({ id: 'a3', state: 'completed', worker: 'worker-1', attempts: 1, result: { cbArgs: ['three'], deliveryId: 'd-three' } }),
      ]);
      expect((await q.job('a3'))?.finishedAt).toBeGreaterThanOrEqual(t0 - 1000);
      expect(await q.job('a1')).toMatchObject({ state: 'failed', quarantineId: 'Q1', error: { name: 'Error', message: 'no a1' } });
      release({ type: 'quarantined', quarantineId: 'Q2', error: { name: 'Error', message: 'no a2' } });
      while (recorded.size < 3 && Date.now() - t0 < 8000) await sleep(20);
      await c.stop();
      expect(ids(await q.list('op', { state: 'failed' }))).toEqual(['a2', 'a1']);
    });

    it('remove takes waiting and delayed jobs of its operation only, never an active or finished one', async () => {
      const q = ref.b.queue;
      // One URI, so one consumer runs them in turn (where an operation is spread over shards too).
      const at = (id: string): NewJob => ({ id, data: { op: 'op', uri: 'u-rm', kwargs: {} } });
      await q.addMany([at('fin'), at('act')]);
      let release: () => void = () => {};
      const recorded = new Set<string>();
      const c = q.consume({
        ops: ['op'],
        concurrency: () => 1,
        leaseMs: 5000,
        recorded: (j) => recorded.add(j.id),
        handler: (j) => (j.id === 'fin' ? Promise.resolve(done('fin')) : new Promise<JobOutcome>((r) => (release = () => r(done('act'))))),
      });
      const t0 = Date.now();
      while ((!recorded.has('fin') || !c.runningJobs().includes('act')) && Date.now() - t0 < 8000) await sleep(20);
      // Paused, so no idle consumer (of another shard) takes the new jobs.
      await q.pause('op');
      await q.addMany([job('w'), job('dl', 'op', { delayMs: 60_000 }), job('w-other', 'other')]);
      expect(await q.remove('other', ['w', 'dl'])).toEqual([]);
      expect((await q.remove('op', ['w', 'dl', 'act', 'fin', 'w-other', 'never-added'])).sort()).toEqual(['dl', 'w']);
      expect(await q.remove('op', ['w'])).toEqual([]);
      expect(await q.counts('op')).toMatchObject({ waiting: 0, delayed: 0, active: 1 });
      expect(await q.job('w')).toBeUndefined();
      expect((await q.job('fin'))?.state).toBe('completed');
      expect((await q.job('act'))?.state).toBe('active');
      expect((await q.job('w-other'))?.state).toBe('waiting');
      await q.resume('op');
      release();
      while (!recorded.has('act') && Date.now() - t0 < 8000) await sleep(20);
      await c.stop();
      expect((await q.getState('act')).state).toBe('completed');
    });
  });
}

export function describeQuarantineStore(name: string, open: OpenBackend) {
  describe(`QuarantineStore conformance: ${name}`, () => {
    const ref = useBackend(open);
    const item = (id: string, over: Partial<QuarantineItem> = {}): QuarantineItem => ({
      id,
      op: 'op',
      uri: `https://x/${id}`,
      cbArgs: [{ id }],
      kwargs: { attempt: 3 },
      error: { name: 'Error', message: 'boom', stack: 'Error: boom\n at x' },
      details: { status: 500 },
      attempts: 1,
      firstFailedAt: 1000,
      lastFailedAt: 1000,
      worker: 'w1',
      ...over,
    });

    it('put, get and replace by id', async () => {
      const s = ref.b.quarantine;
      await s.put(item('a'));
      expect(await s.get('a')).toEqual(item('a'));
      await s.put(item('a', { attempts: 2, lastFailedAt: 2000 }));
      expect(await s.get('a')).toMatchObject({ attempts: 2, firstFailedAt: 1000, lastFailedAt: 2000 });
      expect(await s.get('nope')).toBeUndefined();
    });

    it('deleteMany with unchanged: an item that failed again since it was read stays', async () => {
      const s = ref.b.quarantine;
      await s.put(item('a', { lastFailedAt: 1000 }));
      await s.put(item('b', { lastFailedAt: 1000 }));
      await s.put(item('a', { attempts: 2, lastFailedAt: 2000 })); // failed again after a replay read it at 1000
      expect(await s.deleteMany(['a', 'b', 'nope'], [1000, 1000, 1000])).toBe(1);
      expect(await s.get('a')).toMatchObject({ attempts: 2, lastFailedAt: 2000 });
      expect(await s.get('b')).toBeUndefined();
      expect(await s.countByOp()).toEqual({ op: 1 });
      expect((await s.list({})).items.map((i) => i.id)).toEqual(['a']);
      expect(await s.deleteMany(['a'], [2000])).toBe(1);
      expect(await s.countByOp()).toEqual({});
    });

    it('lists newest first with filters and a cursor that visits every item once', async () => {
      const s = ref.b.quarantine;
      for (let i = 0; i < 25; i++) await s.put(item(`i${String(i).padStart(2, '0')}`, { lastFailedAt: 1000 + (i % 5), op: i % 2 ? 'odd' : 'even' }));
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await s.list({ limit: 7, cursor });
        seen.push(...page.items.map((x) => x.id));
        cursor = page.cursor;
      } while (cursor);
      expect(seen).toHaveLength(25);
      expect(new Set(seen).size).toBe(25);
      const all = (await s.list({ limit: 100 })).items;
      for (let i = 1; i < all.length; i++) expect(all[i - 1]!.lastFailedAt).toBeGreaterThanOrEqual(all[i]!.lastFailedAt);
      expect((await s.list({ op: 'odd', limit: 100 })).items.every((x) => x.op === 'odd')).toBe(true);
      expect((await s.list({ op: 'odd', limit: 100 })).items).toHaveLength(12);
      expect((await s.list({ since: 1004, limit: 100 })).items).toHaveLength(5);
      expect((await s.list({ uriPrefix: 'https://x/i1', limit: 100 })).items.map((x) => x.id).sort()).toEqual(
        Array.from({ length: 10 }, (_, i) => `i1${i}`),
      );
      expect(await s.countByOp()).toEqual({ odd: 12, even: 13 });
    });

    it('deleteMany and clear', async () => {
      const s = ref.b.quarantine;
      await s.put(item('a'));
      await s.put(item('b'));
      expect(await s.deleteMany(['a', 'zz'])).toBe(1);
      expect((await s.list({})).items.map((x) => x.id)).toEqual(['b']);
      await s.clear();
      expect((await s.list({})).items).toEqual([]);
      expect(await s.countByOp()).toEqual({});
    });
  });
}

export function describeRegistry(name: string, open: OpenBackend) {
  describe(`Registry conformance: ${name}`, () => {
    const ref = useBackend(open);
    const w = (id: string) => ({ id, host: 'h', pid: 1, ops: ['a', 'b'], concurrency: 4, startedAt: 1, lastSeen: Date.now(), processed: 0 });

    it('workers are alive until their heartbeat ttl passes, and can be removed', async () => {
      const r = ref.b.registry;
      await r.heartbeat(w('w1'), 200);
      await r.heartbeat(w('w2'), 10_000);
      expect((await r.workers()).map((x) => x.id).sort()).toEqual(['w1', 'w2']);
      await sleep(300);
      expect((await r.workers()).map((x) => x.id)).toEqual(['w2']);
      await r.heartbeat({ ...w('w2'), processed: 7 }, 10_000);
      expect((await r.workers())[0]).toMatchObject({ id: 'w2', processed: 7, ops: ['a', 'b'] });
      await r.remove('w2');
      expect(await r.workers()).toEqual([]);
    });

    it('counters accumulate per operation', async () => {
      const r = ref.b.registry;
      await r.incr({ a: { hits: 2, misses: 1 }, b: { completed: 1 } });
      await Promise.all(Array.from({ length: 20 }, () => r.incr({ a: { hits: 1 } })));
      const c = await r.counters();
      expect(c.a).toMatchObject({ hits: 22, misses: 1, completed: 0 });
      expect(c.b).toMatchObject({ completed: 1, hits: 0 });
    });

    it('durations keep a bounded recent window', async () => {
      const r = ref.b.registry;
      await r.recordDurations('a', [1, 2, 3]);
      for (let i = 0; i < 10; i++) await r.recordDurations('a', Array.from({ length: 100 }, () => 5));
      const d = await r.durations();
      expect(d.a!.length).toBeGreaterThan(100);
      expect(d.a!.length).toBeLessThanOrEqual(1000);
      expect(d.a!.at(-1)).toBe(5);
    });
  });
}

export function describeWorkerSteps(name: string, open: OpenBackend) {
  describe(`WorkerSteps conformance: ${name}`, () => {
    const ref = useBackend(open);
    const key = { ns: 'op', id: 'https://x/ü 1' };
    const add = (cbArgs: unknown, jobId: string, k = key) => ref.b.pending.addMany([{ key: k, cbArgs, jobId }]);
    const item = (id: string): QuarantineItem => ({
      id,
      op: 'op',
      uri: key.id,
      cbArgs: [],
      kwargs: { a: 1 },
      error: { name: 'Error', message: 'boom' },
      attempts: 1,
      firstFailedAt: 1,
      lastFailedAt: 2,
    });

    it('begin: the lock when nothing is cached; busy for another job while it is held; the fresh entry once stored', async () => {
      const s = ref.b.steps;
      const got = await s.begin(key, 'j1', 'run', 5000, false);
      expect(got).toHaveProperty('token');
      expect(await s.begin(key, 'j2', 'run', 5000, false)).toEqual({ busy: true });
      expect(await ref.b.locker.isLocked(key)).toBe(true);
      await s.finish(key, 'j1', [{ key, entry: entry('v') }], (got as { token: string }).token);
      expect(await ref.b.locker.isLocked(key)).toBe(false);
      const again = await s.begin(key, 'j2', 'run', 5000, false);
      expect(again).toMatchObject({ entry: { value: 'v' } });
      // force (a refresh) never takes the fresh entry: it locks.
      expect(await s.begin(key, 'j3', 'run', 5000, true)).toHaveProperty('token');
    });

    it('a stale entry is not fresh: begin locks', async () => {
      const s = ref.b.steps;
      await ref.b.cache.setMany([{ key, entry: entry('old', { expiresAt: Date.now() - 1000, staleUntil: null }) }]);
      expect(await s.begin(key, 'j1', 'run', 5000, false)).toHaveProperty('token');
    });

    it('finish stores the entry and its aliases, and moves every pending cbArgs into the job record, in order', async () => {
      const s = ref.b.steps;
      await add('a', 'j1');
      await add({ b: [1] }, 'j2');
      const alias = { ns: 'op', id: 'https://alias' };
      const { token } = (await s.begin(key, 'j1', 'run', 5000, false)) as { token: string };
      const rec = await s.finish(key, 'j1', [{ key, entry: entry(42) }, { key: alias, entry: entry(42) }], token);
      expect(rec).toMatchObject({ kind: 'result', cbArgs: ['a', { b: [1] }] });
      expect(typeof rec.deliveryId).toBe('string');
      expect((await ref.b.cache.getMany([key, alias])).map((e) => e?.value)).toEqual([42, 42]);
      expect(await ref.b.pending.jobIdOf(key)).toBeUndefined();
      expect(await s.records('op')).toBe(1);
      // A request arriving now starts a new job: the record is closed.
      expect(await add('late', 'j9')).toEqual([{ first: true, jobId: 'j9' }]);
    });

    it('finish run twice (a resend) returns the same record, and takes nothing more', async () => {
      const s = ref.b.steps;
      await add('a', 'j1');
      const { token } = (await s.begin(key, 'j1', 'run', 5000, false)) as { token: string };
      const first = await s.finish(key, 'j1', [{ key, entry: entry(1) }], token);
      await add('b', 'j2');
      const second = await s.finish(key, 'j1', [{ key, entry: entry(1) }], token);
      expect(second).toEqual(first);
      expect(await ref.b.pending.takeAll(key)).toEqual(['b']);
    });

    it('a job taken again before it was settled finds its record (same deliveryId) and the entry', async () => {
      const s = ref.b.steps;
      await add('a', 'j1');
      const { token } = (await s.begin(key, 'j1', 'run', 5000, false)) as { token: string };
      const rec = await s.finish(key, 'j1', [{ key, entry: entry('v') }], token);
      const again = await s.begin(key, 'j1', 'run', 5000, false);
      expect(again).toMatchObject({ delivery: rec, entry: { value: 'v' } });
      // Even with force (a refresh job): a record is delivered, not recomputed.
      expect(await s.begin(key, 'j1', 'run', 5000, true)).toMatchObject({ delivery: rec });
      // Another job of the pair has no record: it sees the fresh entry.
      expect(await s.begin(key, 'j2', 'run', 5000, false)).toMatchObject({ entry: { value: 'v' } });
      await s.settle(key, 'j1');
      await s.settle(key, 'j1');
      expect(await s.records('op')).toBe(0);
      expect(await s.begin(key, 'j1', 'run', 5000, false)).toMatchObject({ entry: { value: 'v' } });
    });

    it('a record whose entry was invalidated meanwhile comes back without it', async () => {
      const s = ref.b.steps;
      await add('a', 'j1');
      const { token } = (await s.begin(key, 'j1', 'run', 5000, false)) as { token: string };
      const rec = await s.finish(key, 'j1', [{ key, entry: entry('v') }], token);
      await ref.b.cache.deleteMany([key]);
      const again = await s.begin(key, 'j1', 'run', 5000, false);
      expect(again).toEqual({ delivery: rec, runs: 1 });
    });

    it('finish with nothing to store (a fresh entry found) still moves the pending cbArgs', async () => {
      const s = ref.b.steps;
      await ref.b.cache.setMany([{ key, entry: entry('v') }]);
      await add('a', 'j1');
      const rec = await s.finish(key, 'j1', [], null);
      expect(rec.cbArgs).toEqual(['a']);
      expect((await ref.b.cache.getMany([key]))[0]?.value).toBe('v');
    });

    it('quarantine moves the pending cbArgs into the item; twice answers the same; the lock is released', async () => {
      const s = ref.b.steps;
      await add('a', 'j1');
      await add('b', 'j2');
      const { token } = (await s.begin(key, 'j1', 'run', 5000, false)) as { token: string };
      const rec = await s.quarantine(key, 'j1', item('Q1'), token);
      expect(rec).toMatchObject({ kind: 'quarantine', cbArgs: ['a', 'b'], item: { id: 'Q1', cbArgs: ['a', 'b'], kwargs: { a: 1 } } });
      expect(await ref.b.locker.isLocked(key)).toBe(false);
      expect(await s.quarantine(key, 'j1', item('Q-other'), null)).toEqual(rec);
      expect(await s.begin(key, 'j1', 'run', 5000, false)).toMatchObject({ delivery: rec });
      expect(await add('c', 'j3')).toEqual([{ first: true, jobId: 'j3' }]);
    });

    it('quarantine of a job that has a result record (onResult failed) keeps its cbArgs and deliveryId', async () => {
      const s = ref.b.steps;
      await add('a', 'j1');
      const { token } = (await s.begin(key, 'j1', 'run', 5000, false)) as { token: string };
      const rec = await s.finish(key, 'j1', [{ key, entry: entry(1) }], token);
      await add('b', 'j2'); // a new job's request: not this record's
      const q = await s.quarantine(key, 'j1', item('Q2'), null);
      expect(q).toMatchObject({ kind: 'quarantine', deliveryId: rec.deliveryId, cbArgs: ['a'], item: { id: 'Q2', cbArgs: ['a'] } });
      expect(await ref.b.pending.takeAll(key)).toEqual(['b']);
    });

    it('records of two jobs of one pair, and of other operations, are apart', async () => {
      const s = ref.b.steps;
      const other = { ns: 'op2', id: key.id };
      await add('a', 'j1');
      await add('o', 'k1', other);
      const r1 = await s.finish(key, 'j1', [], null);
      await add('b', 'j2');
      const r2 = await s.finish(key, 'j2', [], null);
      const r3 = await s.finish(other, 'k1', [], null);
      expect([r1.cbArgs, r2.cbArgs, r3.cbArgs]).toEqual([['a'], ['b'], ['o']]);
      expect(new Set([r1.deliveryId, r2.deliveryId, r3.deliveryId]).size).toBe(3);
      expect(await s.records('op')).toBe(2);
      expect(await s.records('op2')).toBe(1);
    });

    it('counts the open runs of a job: a busy begin not, an ended run no more; settle forgets them', async () => {
      const s = ref.b.steps;
      const a = await s.begin(key, 'j1', 'r1', 5000, false);
      expect(a).toMatchObject({ runs: 1 });
      // Another job of the pair is busy: not counted, for either job.
      expect(await s.begin(key, 'j2', 'x1', 5000, false)).toEqual({ busy: true });
      // The worker of r1 died: its run stays open; the next take is the second.
      await ref.b.locker.release(key, (a as { token: string }).token);
      const b = await s.begin(key, 'j1', 'r2', 5000, false);
      expect(b).toMatchObject({ runs: 2 });
      // r2 ended without dying (a retry, a hand-back): only r1 and r3 are open.
      await ref.b.locker.release(key, (b as { token: string }).token);
      await s.end(key, 'j1', 'r2');
      await s.end(key, 'j1', 'r2');
      const c = await s.begin(key, 'j1', 'r3', 5000, false);
      expect(c).toMatchObject({ runs: 2 });
      await s.finish(key, 'j1', [{ key, entry: entry(1) }], (c as { token?: string }).token ?? null);
      // A record or a fresh entry counts the run too.
      expect(await s.begin(key, 'j1', 'r4', 5000, false)).toMatchObject({ delivery: expect.anything(), runs: 3 });
      expect(await s.begin(key, 'j3', 'r1', 5000, false)).toMatchObject({ entry: { value: 1 }, runs: 1 });
      await s.settle(key, 'j1');
      expect(await s.begin(key, 'j1', 'r5', 5000, false)).toMatchObject({ entry: { value: 1 }, runs: 1 });
    });

    it('a silent request (warm) is not delivered', async () => {
      const s = ref.b.steps;
      await ref.b.pending.addMany([{ key, cbArgs: undefined, jobId: 'w1', silent: true }]);
      await add('real', 'r1');
      expect((await s.finish(key, 'w1', [], null)).cbArgs).toEqual(['real']);
    });
  });
}

/** Every port's suite for one backend. */
export function describeBackend(name: string, open: OpenBackend) {
  describeCacheStore(name, open);
  describeLocker(name, open);
  describePendingSet(name, open);
  describeWorkerSteps(name, open);
  describeJobQueue(name, open);
  describeQuarantineStore(name, open);
  describeRegistry(name, open);
}

/** Opens a backend of the deployment named `deployment` (a prefix, or a memory name): twice = two processes of it. */
export type OpenDeployment = (deployment: string) => Promise<Backend>;

export interface ChangeFeedOptions {
  /** Drop every subscriber connection of the server(s) (Redis: CLIENT KILL TYPE pubsub). */
  dropSubscribers?: () => Promise<void>;
  /** Environment of a child process opening the same deployment (test/fixtures/cache-writer.ts). */
  childEnv?: (deployment: string) => Record<string, string>;
  /**
   * Redis Cluster: only changes of one namespace (one master) come in order; a clear's `all`
   * is published from another node than the writes after it, so it may come after them.
   */
  clearUnordered?: boolean;
}

interface Heard {
  changes: CacheChange[];
  ups: boolean[];
  /** Per change, what the listener's own backend read when it heard it (see listenTo). */
  reads: Promise<(StoredEntry | undefined)[]>[];
  stop: () => void;
}

/** Ids of `ns` in the changes heard from index `from` on. */
const idsHeard = (h: Heard, ns: string, from = 0) => new Set(h.changes.slice(from).flatMap((c) => ('ns' in c && c.ns === ns ? c.ids : [])));

/**
 * Listen on `b`'s feed. On each change, `b` reads at once (before anything else runs) the
 * ids told, or `probe` for an `all`, so a test can check the change was readable when told.
 */
function listenTo(b: Backend, probe: Key[] = []): Heard {
  const h = { changes: [], ups: [], reads: [] } as unknown as Heard;
  h.stop = b.cache.changes!.listen({
    change: (c) => {
      h.changes.push(c);
      const read = b.cache.getMany('ns' in c ? c.ids.map((id) => ({ ns: c.ns, id })) : probe);
      read.catch(() => {}); // awaited by the tests that look; others may close the backend first
      h.reads.push(read);
    },
    up: (u) => h.ups.push(u),
  });
  return h;
}

export function describeChangeFeed(name: string, open: OpenDeployment, opts: ChangeFeedOptions = {}) {
  describe(`ChangeFeed conformance: ${name}`, () => {
    // Two backends of one deployment: two processes of it, as far as the store can tell.
    const ref = {} as { a: Backend; b: Backend; d: string };
    beforeEach(async () => {
      ref.d = `cf-${randomUUID().slice(0, 8)}`;
      ref.a = await open(ref.d);
      ref.b = await open(ref.d);
    });
    afterEach(async () => {
      await ref.a.close();
      await ref.b.close();
    });
    const up = (h: Heard, what = 'the feed up') => waitUntil(() => h.ups.at(-1) === true, what, 10_000, 5);
    /** Wait until `h` heard every id of `ids` (from change `from` on); the entries it read then, by id. */
    async function told(h: Heard, ns: string, ids: string[], from: number) {
      await waitUntil(() => ids.every((id) => idsHeard(h, ns, from).has(id)), `${ns} ${ids.join(', ')} told`, 10_000, 5);
      const got = new Map<string, StoredEntry | undefined>();
      for (let i = from; i < h.changes.length; i++) {
        const c = h.changes[i]!;
        if (!('ns' in c) || c.ns !== ns) continue;
        const read = await h.reads[i]!;
        c.ids.forEach((id, j) => got.has(id) || got.set(id, read[j]));
      }
      return got;
    }

    it('tells another process of each set, delete, markStale, worker finish and clear, once it can read it', async () => {
      const { a, b } = ref;
      expect(b.cache.changes).toBeDefined();
      const x = { ns: 'a', id: 'https://x/ü 1' };
      const y = { ns: 'a', id: 'y' };
      const job = { ns: 'op', id: 'u1' };
      const alias = { ns: 'op', id: 'u1-alias' };
      const hb = listenTo(b, [y, job]);
      const ha = listenTo(a); // a process hears its own changes too
      await up(hb);
      await up(ha);

      let from = hb.changes.length;
      await a.cache.setMany([
        { key: x, entry: entry('v1') },
        { key: y, entry: entry('v2') },
      ]);
      let got = await told(hb, 'a', [x.id, y.id], from);
      expect([got.get(x.id)?.value, got.get(y.id)?.value]).toEqual(['v1', 'v2']);

      from = hb.changes.length;
      await a.cache.deleteMany([x]);
      got = await told(hb, 'a', [x.id], from);
      expect(got.get(x.id)).toBeUndefined();

      from = hb.changes.length;
      const now = Date.now();
      await a.cache.markStale([y], now);
      got = await told(hb, 'a', [y.id], from);
      expect(got.get(y.id)?.value).toBe('v2');
      expect(got.get(y.id)!.expiresAt).toBeLessThanOrEqual(now);

      from = hb.changes.length;
      const begun = await a.steps.begin(job, 'j1', 'run', 5000, false);
      expect(begun).toHaveProperty('token');
      await a.steps.finish(
        job,
        'j1',
        [
          { key: job, entry: entry(42) },
          { key: alias, entry: entry(42, { uri: job.id }) },
        ],
        (begun as { token: string }).token,
      );
      got = await told(hb, 'op', [job.id, alias.id], from);
      expect([got.get(job.id)?.value, got.get(alias.id)?.value]).toEqual([42, 42]);

      from = hb.changes.length;
      await a.cache.clear();
      await waitUntil(() => hb.changes.slice(from).some((c) => 'all' in c), 'the clear told', 10_000, 5);
      const i = hb.changes.findIndex((c, j) => j >= from && 'all' in c);
      expect(await hb.reads[i]).toEqual([undefined, undefined]);

      // A heard the same, itself.
      await waitUntil(() => ha.changes.some((c) => 'all' in c), 'the clear told to the writer', 10_000, 5);
      expect([...idsHeard(ha, 'a')].sort()).toEqual([x.id, y.id].sort());
      expect([...idsHeard(ha, 'op')].sort()).toEqual([job.id, alias.id].sort());
      expect(hb.ups).toEqual([true]);
    });

    it('tells changes in the order they were made', async () => {
      const { a, b } = ref;
      const hb = listenTo(b);
      await up(hb);
      const k = (id: string) => ({ ns: 'a', id });
      await a.cache.setMany([{ key: k('o1'), entry: entry(1) }]);
      await a.cache.deleteMany([k('o2')]);
      await a.cache.markStale([k('o3')], Date.now());
      await a.steps.finish(k('o4'), 'j4', [{ key: k('o4'), entry: entry(4) }], null);
      await a.cache.setMany([{ key: k('o5'), entry: entry(5) }]);
      const seq = () => hb.changes.flatMap((c) => ('all' in c ? ['*'] : c.ids));
      await waitUntil(() => idsHeard(hb, 'a').has('o5'), 'o5 told', 10_000, 5);
      expect(seq()).toEqual(['o1', 'o2', 'o3', 'o4', 'o5']);
      // (A clear may stand for the changes before it that a listener has not heard yet: SQLite.)
      await a.cache.clear();
      await a.cache.setMany([{ key: k('o6'), entry: entry(6) }]);
      await waitUntil(() => idsHeard(hb, 'a').has('o6') && seq().includes('*'), 'the last changes told', 10_000, 5);
      const after = seq().slice(5);
      expect(opts.clearUnordered ? after.sort() : after).toEqual(['*', 'o6']);
    });

    it('a listener is told up once the feed is live, asynchronously, and only once', async () => {
      const h1 = listenTo(ref.b);
      expect(h1.ups).toEqual([]); // starts down
      await up(h1);
      const h2 = listenTo(ref.b); // joins a live feed
      expect(h2.ups).toEqual([]);
      await up(h2);
      await sleep(50);
      expect([h1.ups, h2.ups]).toEqual([[true], [true]]);
    });

    it('a listener that stopped hears nothing more; the others still do', async () => {
      const { a, b } = ref;
      const gone = listenTo(b);
      const stays = listenTo(b);
      await up(gone);
      await up(stays);
      gone.stop();
      gone.stop(); // twice is harmless
      await a.cache.setMany([{ key: { ns: 'a', id: 'x' }, entry: entry(1) }]);
      await a.cache.clear();
      await waitUntil(() => stays.changes.some((c) => 'all' in c), 'the clear told', 10_000, 5);
      await sleep(50);
      expect(gone.changes).toEqual([]);
      // A listener added afterwards starts from now.
      const late = listenTo(b);
      await up(late);
      await a.cache.setMany([{ key: { ns: 'a', id: 'late' }, entry: entry(2) }]);
      await waitUntil(() => idsHeard(late, 'a').has('late'), 'the late change told', 10_000, 5);
      expect(late.changes).toEqual([{ ns: 'a', ids: ['late'] }]);
    });

    if (opts.dropSubscribers) {
      const drop = opts.dropSubscribers;
      it('a lost subscriber connection is told (down, then up once subscribed again), and changes flow again', async () => {
        const { a, b } = ref;
        const hb = listenTo(b);
        await up(hb);
        await drop();
        await waitUntil(() => hb.ups.includes(false), 'the feed down', 10_000, 5);
        await up(hb, 'the feed up again');
        expect(hb.ups).toEqual([true, false, true]);
        await a.cache.setMany([{ key: { ns: 'a', id: 'after' }, entry: entry('back') }]);
        const got = await told(hb, 'a', ['after'], 0);
        expect(got.get('after')?.value).toBe('back');
      });
    }

    if (opts.childEnv) {
      const env = opts.childEnv;
      it('tells a change made by another OS process', async () => {
        const hb = listenTo(ref.b);
        await up(hb);
        const child = await startFixture('cache-writer.ts', env(ref.d), false);
        expect(await child.exited, child.output()).toBe(0);
        const got = await told(hb, 'op', ['from-child'], 0);
        expect(got.get('from-child')?.value).toEqual({ pid: child.child.pid });
        await waitUntil(() => hb.changes.some((c) => 'ns' in c && c.ids.includes('gone')), 'the child delete told', 10_000, 5);
        expect(hb.changes.flatMap((c) => ('ns' in c ? c.ids : ['*']))).toEqual(['from-child', 'gone']);
      });
    }
  });
}
