/**
 * The engine scenarios of the original Backache suite, written once and run on every
 * backend (memory.test.ts, sqlite.test.ts, redis.test.ts in this folder).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createBackache, defineOperations, type Backache, type OperationsDef } from '../../src/index.js';
import { QuarantinedError } from '../../src/core/errors.js';
import { openBackend } from '../../src/core/backends/index.js';
import type { L1Options } from '../../src/core/l1.js';
import type { Backend } from '../../src/core/ports.js';
import { sleep, waitUntil } from '../helpers/wait.js';

/**
 * Returns broker (and optional cache) URLs for a fresh, isolated deployment, and optionally
 * an open backend of it and `l1` options (the scenarios with the L1 tier on).
 */
/** Where the scenarios run; with `shards`, every operation of the scenarios gets that many. */
export type Deployment = () => Promise<{ broker: string; cache?: string; prefix?: string; shards?: number; l1?: L1Options; backend?: Backend }>;

/** The same operations, each with `shards: n`. */
export const withShards = (ops: OperationsDef, n: number): OperationsDef =>
  Object.fromEntries(Object.entries(ops).map(([k, d]) => [k, typeof d === 'function' ? { run: d, shards: n } : { ...d, shards: n }]));

export function describeEngineScenarios(name: string, deployment: Deployment) {
  describe(`engine scenarios: ${name}`, () => {
    const apps: Backache[] = [];
    const open = async (operations: OperationsDef, leaseMs?: number) => {
      const { shards, ...d } = await deployment();
      const app = await createBackache({ operations: shards ? withShards(operations, shards) : operations, ...d, leaseMs });
      apps.push(app);
      return app;
    };
    afterEach(async () => {
      await Promise.all(apps.splice(0).map((a) => a.close()));
    });

    it('bulk: first call all misses with callbacks per request; second call hits and delegates only the new pair', async () => {
      const results: { op: string; value: unknown; cbArgs: unknown[] }[] = [];
      const ops = defineOperations({
        len: { run: async (uri) => uri.length, onResult: (value, cbArgs) => void results.push({ op: 'len', value, cbArgs }) },
        upper: { run: async (uri) => uri.toUpperCase(), onResult: (value, cbArgs) => void results.push({ op: 'upper', value, cbArgs }) },
      });
      const app = await open(ops);
      const first = await app.bulkGetOrDelegate([
        { op: 'len', uri: 'abc', cbArgs: { req: 1 } },
        { op: 'upper', uri: 'abc', cbArgs: { req: 2 } },
        { op: 'len', uri: 'hello', cbArgs: { req: 3 } },
      ]);
      expect(first.hits).toEqual([]);
      expect(first.errors).toEqual([]);
      expect(first.delegated.map((d) => [d.op, d.uri, d.coalesced])).toEqual([
        ['len', 'abc', false],
        ['upper', 'abc', false],
        ['len', 'hello', false],
      ]);
      const w = app.startWorker({ concurrency: 4 });
      await waitUntil(() => results.length === 3, 'three callbacks');
      expect(results).toEqual(
        expect.arrayContaining([
          { op: 'len', value: 3, cbArgs: [{ req: 1 }] },
          { op: 'upper', value: 'ABC', cbArgs: [{ req: 2 }] },
          { op: 'len', value: 5, cbArgs: [{ req: 3 }] },
        ]),
      );
      let onHits: unknown[] | undefined;
      const second = await app.bulkGetOrDelegate(
        [
          { op: 'len', uri: 'abc', cbArgs: 'a' },
          { op: 'upper', uri: 'abc', cbArgs: 'b' },
          { op: 'upper', uri: 'new', cbArgs: 'c' },
        ],
        { onHits: (h) => void (onHits = h) },
      );
      expect(second.hits).toEqual([
        { op: 'len', uri: 'abc', cbArgs: 'a', value: 3, stale: false },
        { op: 'upper', uri: 'abc', cbArgs: 'b', value: 'ABC', stale: false },
      ]);
      expect(onHits).toEqual(second.hits);
      expect(second.delegated.map((d) => [d.op, d.uri])).toEqual([['upper', 'new']]);
      await waitUntil(() => results.length === 4, 'the fourth callback');
      expect(results[3]).toEqual({ op: 'upper', value: 'NEW', cbArgs: ['c'] });
      await w.stop();
      const s = await app.stats();
      const len = s.ops.find((o) => o.op === 'len')!;
      expect(len).toMatchObject({ hits: 1, misses: 2, completed: 2, entries: 2 });
    });

    it('bulk: duplicates inside one batch coalesce; bad requests are errors that do not stop the batch', async () => {
      const results: unknown[][] = [];
      const app = await open({ id: { run: async (u) => u, onResult: (_v, cb) => void results.push(cb) } });
      const r = await app.bulkGetOrDelegate([
        { op: 'id', uri: 'x', cbArgs: 1 },
        { op: 'nope', uri: 'x' },
        { op: 'id', uri: 'x', cbArgs: 2 },
        { op: 'id', uri: '' },
      ]);
      expect(r.delegated.map((d) => d.coalesced)).toEqual([false, true]);
      expect(r.delegated[0]!.jobId).toBe(r.delegated[1]!.jobId);
      expect(r.errors.map((e) => e.error)).toEqual([expect.stringContaining('unknown operation "nope"; known operations: id'), expect.stringContaining('uri')]);
      const w = app.startWorker();
      expect(await app.waitFor(r.delegated[0]!.jobId, { timeout: 10_000 })).toEqual({ value: 'x', cbArgs: [1, 2] });
      expect(results).toEqual([[1, 2]]);
      await w.stop();
    });

    it('quarantine: retry with kwargs until attempt 3, then quarantine keeping kwargs and details', async () => {
      const seen: unknown[] = [];
      const quarantined: unknown[] = [];
      const app = await open({
        flaky: {
          run: async (_uri, ctx) => {
            const attempt = (ctx.kwargs.attempt as number | undefined) ?? 1;
            seen.push(attempt);
            if (attempt !== 3) throw ctx.retry({ delay: 10, kwargs: { attempt: attempt + 1 } });
            throw ctx.quarantine({ reason: 'gave up', attempt });
          },
          onQuarantine: (item) => void quarantined.push(item.id),
        },
      });
      const d = await app.getOrDelegate('flaky', 'https://x/1', { cbArgs: { who: 'me' } });
      expect(d.status).toBe('delegated');
      const w = app.startWorker();
      const err = await app.waitFor((d as { jobId: string }).jobId, { timeout: 10_000 }).catch((e) => e);
      expect(err).toBeInstanceOf(QuarantinedError);
      expect(seen).toEqual([1, 2, 3]);
      const { items } = await app.quarantine.list({ op: 'flaky' });
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({ op: 'flaky', uri: 'https://x/1', kwargs: { attempt: 3 }, details: { reason: 'gave up', attempt: 3 }, cbArgs: [{ who: 'me' }], attempts: 3 });
      expect(quarantined).toEqual([items[0]!.id]);
      expect(await app.quarantine.get(items[0]!.id)).toEqual(items[0]);
      await w.stop();
    });

    it('quarantine: at once; unexpected error after the retry policy; retry then succeed; replay (dry and real) and purge', async () => {
      let failUnexpected = true;
      let flakyRuns = 0;
      const delivered: unknown[] = [];
      const app = await open({
        now: async (_u, ctx) => ctx.quarantine({ status: 404 }),
        boom: {
          retries: 2,
          backoff: { type: 'fixed', delay: 10 },
          run: async (uri) => {
            if (failUnexpected) throw new TypeError(`cannot parse ${uri}`);
            return 'fixed';
          },
          onResult: (_v, cb) => void delivered.push(...cb),
        },
        eventually: async (_u, ctx) => {
          flakyRuns++;
          if (ctx.attempt < 2) throw ctx.retry({ delay: 10 });
          return 'ok';
        },
      });
      const w = app.startWorker();
      const a = (await app.getOrDelegate('now', 'u1')) as { jobId: string };
      const b = (await app.getOrDelegate('boom', 'u2', { cbArgs: 'cb-b' })) as { jobId: string };
      const c = (await app.getOrDelegate('eventually', 'u3')) as { jobId: string };
      await expect(app.waitFor(a.jobId, { timeout: 10_000 })).rejects.toThrow(/quarantined by the operation/);
      await expect(app.waitFor(b.jobId, { timeout: 10_000 })).rejects.toThrow('cannot parse u2');
      expect(await app.waitFor(c.jobId, { timeout: 10_000 })).toEqual({ value: 'ok', cbArgs: [null] });
      expect(flakyRuns).toBe(2);

      const boomItem = (await app.quarantine.list({ op: 'boom' })).items[0]!;
      expect(boomItem).toMatchObject({ error: { name: 'TypeError', message: 'cannot parse u2' }, attempts: 3, cbArgs: ['cb-b'] });
      expect(boomItem.error.stack).toContain('TypeError');
      expect((await app.quarantine.list({ op: 'now' })).items[0]).toMatchObject({ details: { status: 404 }, attempts: 1 });
      expect((await app.quarantine.list({})).items).toHaveLength(2);
      expect((await app.quarantine.list({ match: 'u*' })).items).toHaveLength(2);
      expect((await app.quarantine.list({ since: '1h' })).items).toHaveLength(2);
      expect((await app.quarantine.list({ since: Date.now() + 1000 })).items).toHaveLength(0);

      const dry = await app.quarantine.replay({ op: 'boom' }, { dryRun: true });
      expect(dry).toMatchObject({ matched: 1, replayed: 0 });
      expect((await app.quarantine.list({ op: 'boom' })).items).toHaveLength(1);

      // Fails again after the replay: the same item, attempts accumulated, firstFailedAt kept.
      await app.quarantine.replay({ ids: [boomItem.id] });
      await waitUntil(async () => (await app.quarantine.get(boomItem.id))?.attempts === 6, 'the replayed item to fail again');
      const again = (await app.quarantine.get(boomItem.id))!;
      expect(again.firstFailedAt).toBe(boomItem.firstFailedAt);
      expect(again.lastFailedAt).toBeGreaterThanOrEqual(boomItem.lastFailedAt);

      // Now it works: the replay delivers the original cbArgs.
      failUnexpected = false;
      const r = await app.quarantine.replay({ ids: [boomItem.id] });
      expect(r.replayed).toBe(1);
      expect(await app.waitFor(r.jobIds[0]!, { timeout: 10_000 })).toEqual({ value: 'fixed', cbArgs: ['cb-b'] });
      expect(delivered).toEqual(['cb-b']);
      expect(await app.quarantine.get(boomItem.id)).toBeUndefined();

      expect((await app.quarantine.purge({ op: 'now', dryRun: true })).matched).toBe(1);
      expect((await app.quarantine.purge({ op: 'now' })).purged).toBe(1);
      expect((await app.quarantine.list({})).items).toEqual([]);
      await expect(app.quarantine.purge({})).rejects.toThrow(/say which/);
      await w.stop();
    });

    it('quarantine: non-serialisable results, timeouts and unknown operations say so', async () => {
      const app = await open({
        fn: async () => ({ f: () => 1 }),
        big: async () => BigInt(1),
        slow: { timeout: 50, run: (_u, ctx) => new Promise((r) => ctx.signal.addEventListener('abort', () => r('late'))) },
      });
      const w = app.startWorker();
      const ids = await Promise.all(['fn', 'big', 'slow'].map(async (op) => ((await app.getOrDelegate(op, 'u')) as { jobId: string }).jobId));
      for (const id of ids) await app.waitFor(id, { timeout: 10_000 }).catch(() => {});
      const items = (await app.quarantine.list({})).items;
      const byOp = Object.fromEntries(items.map((i) => [i.op, i.error.message]));
      expect(byOp.fn).toMatch(/not JSON-serialisable: f is a function/);
      expect(byOp.big).toMatch(/not JSON-serialisable: .*BigInt/);
      expect(byOp.slow).toMatch(/timed out after 50 ms/);
      await w.stop();
      expect(() => app.startWorker({ ops: ['ghost'] })).toThrow('unknown operation "ghost"; known operations: fn, big, slow');
      // A job for an operation this process does not define (queued by another version of
      // the operations module) is quarantined with an error that says so.
      await app.backend.queue.addMany([{ id: 'ghost-1', data: { op: 'ghost', uri: 'u', kwargs: {} } }]);
      const w2 = app.startWorker({ ops: ['fn'], extraOps: ['ghost'] });
      await expect(app.waitFor('ghost-1', { timeout: 10_000 })).rejects.toThrow('unknown operation "ghost": this worker knows fn, big, slow');
      await w2.stop();
    });

    it('redirects: chains A→B→C→D and F→E→B compute once, then every name is a hit', async () => {
      const chain: Record<string, string> = { A: 'B', B: 'C', C: 'D', F: 'E', E: 'B' };
      let computed = 0;
      const app = await open({
        resolve: async (uri, ctx) => {
          let cur = uri;
          while (chain[cur]) {
            cur = chain[cur]!;
            const cached = await ctx.getOrAddRedirect(cur);
            if (cached !== undefined) return cached;
          }
          computed++;
          return { final: cur };
        },
      });
      const w = app.startWorker({ concurrency: 1 });
      expect(await app.call('resolve', 'A', { timeout: 10_000 })).toEqual({ final: 'D' });
      for (const u of ['A', 'B', 'C', 'D']) expect(await app.get('resolve', u)).toMatchObject({ value: { final: 'D' }, uri: 'A' });
      expect(await app.call('resolve', 'F', { timeout: 10_000 })).toEqual({ final: 'D' });
      expect(computed).toBe(1);
      const r = await app.bulkGetOrDelegate(['A', 'B', 'C', 'D', 'E', 'F'].map((uri) => ({ op: 'resolve', uri })));
      expect(r.hits).toHaveLength(6);
      expect(r.delegated).toHaveLength(0);
      await w.stop();
    });

    it('coalescing: many concurrent requests for one pair make one job, one computation, one onResult with every cbArg', async () => {
      let runs = 0;
      const calls: unknown[][] = [];
      const app = await open({
        slow: {
          run: async (uri) => {
            runs++;
            await sleep(200);
            return uri;
          },
          onResult: (_v, cbArgs) => void calls.push(cbArgs),
        },
      });
      const w = app.startWorker({ concurrency: 8 });
      const first = await Promise.all(Array.from({ length: 100 }, (_, i) => app.getOrDelegate('slow', 'https://x/one', { cbArgs: i })));
      await sleep(50); // the job is running now; more requests still coalesce
      const later = await Promise.all(Array.from({ length: 100 }, (_, i) => app.getOrDelegate('slow', 'https://x/one', { cbArgs: 100 + i })));
      const all = [...first, ...later];
      const ids = new Set(all.map((r) => (r as { jobId: string }).jobId));
      expect(all.every((r) => r.status === 'delegated')).toBe(true);
      expect(ids.size).toBe(1);
      expect(all.filter((r) => r.status === 'delegated' && !r.coalesced)).toHaveLength(1);
      await waitUntil(() => calls.length === 1, 'onResult');
      await sleep(100);
      expect(runs).toBe(1);
      expect(calls).toHaveLength(1);
      expect((calls[0] as number[]).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
      const s = (await app.stats()).ops.find((o) => o.op === 'slow')!;
      expect(s).toMatchObject({ misses: 200, coalesced: 199, completed: 1 });
      await w.stop();
    });

    it('a pair whose first client died between the pending set and the queue is healed by the next request', async () => {
      const got: unknown[][] = [];
      const app = await open({ heal: { run: async (u) => u, onResult: (_v, cb) => void got.push(cb) } });
      // The first client recorded its request as pending, then died before queueing the job.
      await app.backend.pending.addMany([{ key: { ns: 'heal', id: 'u' }, cbArgs: 'lost-client', jobId: 'orphan-1' }]);
      const r = await app.getOrDelegate('heal', 'u', { cbArgs: 'second' });
      expect(r).toMatchObject({ status: 'delegated', jobId: 'orphan-1', coalesced: true });
      const w = app.startWorker();
      expect(await app.waitFor('orphan-1', { timeout: 10_000 })).toEqual({ value: 'u', cbArgs: ['lost-client', 'second'] });
      expect(got).toEqual([['lost-client', 'second']]);
      await w.stop();
    });

    it('stale refresh: many stale hits serve the old value and enqueue exactly one refresh', async () => {
      let runs = 0;
      const app = await open({
        clock: {
          ttl: 100,
          grace: '1h',
          run: async () => {
            runs++;
            await sleep(100);
            return runs;
          },
        },
      });
      const w = app.startWorker({ concurrency: 8 });
      expect(await app.call('clock', 'u', { timeout: 10_000 })).toBe(1);
      await sleep(150);
      const hits = await Promise.all(Array.from({ length: 50 }, () => app.getOrDelegate('clock', 'u')));
      expect(hits.every((h) => h.status === 'hit' && h.value === 1 && h.stale)).toBe(true);
      const bulk = await app.bulkGetOrDelegate(Array.from({ length: 20 }, () => ({ op: 'clock', uri: 'u' })));
      expect(bulk.hits.every((h) => h.stale && h.value === 1)).toBe(true);
      await waitUntil(async () => (await app.get('clock', 'u'))?.value === 2, 'the refreshed value');
      await sleep(200);
      expect(runs).toBe(2);
      await w.stop();
    });

    it('ttl 0 grace: an expired entry is a miss; invalidate soft and hard, by uris, template and glob, with dry run', async () => {
      let n = 0;
      const app = await open({ v: { ttl: 80, grace: 0, run: async (u) => `${u}#${++n}` }, w: async (u) => u });
      const wk = app.startWorker();
      await app.call('v', 'a', { timeout: 10_000 });
      await sleep(120);
      expect(await app.get('v', 'a')).toBeUndefined();
      expect((await app.getOrDelegate('v', 'a')).status).toBe('delegated');

      for (const id of [1, 2, 3]) await app.call('w', `https://x/users/${id}/feed`, { timeout: 10_000 });
      await app.call('w', 'https://x/users/1/other', { timeout: 10_000 });
      await app.call('w', 'https://y/users/1/feed', { timeout: 10_000 });

      const dry = await app.invalidate({ op: 'w', template: 'https://x/users/{id}/feed', dryRun: true });
      expect(dry.items!.map((i) => i.uri).sort()).toEqual([1, 2, 3].map((i) => `https://x/users/${i}/feed`));
      expect(await app.get('w', 'https://x/users/1/feed')).toBeDefined();

      expect(await app.invalidate({ op: 'w', template: 'https://x/users/{id}/feed', vars: { id: ['1', '2'] }, soft: true })).toMatchObject({ matched: 2, invalidated: 2 });
      expect(await app.get('w', 'https://x/users/1/feed')).toMatchObject({ stale: true });
      expect(await app.get('w', 'https://x/users/3/feed')).toMatchObject({ stale: false });

      expect(await app.invalidate({ op: 'w', match: 'https://x/users/*' })).toMatchObject({ invalidated: 4 });
      expect(await app.get('w', 'https://x/users/1/other')).toBeUndefined();
      expect(await app.get('w', 'https://y/users/1/feed')).toBeDefined();
      expect(await app.invalidate({ op: 'w', uris: ['https://y/users/1/feed', 'nope'] })).toMatchObject({ invalidated: 1 });
      await wk.stop();
    });

    it('warm fills what is missing, force refreshes everything; inline computes in the caller', async () => {
      let runs = 0;
      const got: unknown[][] = [];
      const app = await open({ c: { run: async (u) => (runs++, u.length), onResult: (_v, cb) => void got.push(cb) } });
      const w = app.startWorker();
      await app.call('c', 'aa', { timeout: 10_000 });
      const r = await app.warm([{ op: 'c', uri: 'aa' }, { op: 'c', uri: 'bbb' }, { op: 'c', uri: 'bbb' }]);
      expect(r).toMatchObject({ queued: 1, fresh: 1 });
      await waitUntil(async () => (await app.get('c', 'bbb')) !== undefined, 'warmed entry');
      const f = await app.warm([{ op: 'c', uri: 'aa' }], { force: true });
      expect(f.queued).toBe(1);
      await waitUntil(() => runs === 3, 'forced refresh');
      await w.stop();
      // warm has no callbacks: onResult heard only the call's request.
      expect(got).toEqual([[null]]);
      const inline = await app.bulkGetOrDelegate([{ op: 'c', uri: 'zzzz', cbArgs: 'inline' }, { op: 'c', uri: 'zzzz', cbArgs: 'dup' }], { inline: true });
      expect(inline.delegated).toEqual([]);
      expect(inline.hits).toEqual([
        { op: 'c', uri: 'zzzz', cbArgs: 'inline', value: 4, stale: false },
        { op: 'c', uri: 'zzzz', cbArgs: 'dup', value: 4, stale: false },
      ]);
      expect(await app.get('c', 'zzzz')).toMatchObject({ value: 4 });
      expect(got.at(-1)).toEqual(['inline', 'dup']);
      expect(await app.backend.steps.records('c')).toBe(0);
    });

    it('warm goes through the pending set: repeated warms queue one job, and a request joins it', async () => {
      const got: unknown[][] = [];
      let runs = 0;
      const app = await open({ c: { run: async (u) => (runs++, u.length), onResult: (_v, cb) => void got.push(cb) } });
      const a = await app.warm([{ op: 'c', uri: 'pend' }]);
      const b = await app.warm([{ op: 'c', uri: 'pend' }]);
      expect(a).toMatchObject({ queued: 1, pending: 0 });
      expect(b).toMatchObject({ queued: 0, pending: 1 });
      const d = await app.getOrDelegate('c', 'pend', { cbArgs: 'me' });
      expect(d).toMatchObject({ status: 'delegated', coalesced: true, jobId: a.jobIds[0] });
      expect((await app.stats()).ops.find((o) => o.op === 'c')).toMatchObject({ waiting: 1 });
      const w = app.startWorker();
      expect(await app.waitFor(a.jobIds[0]!, { timeout: 10_000 })).toEqual({ value: 4, cbArgs: ['me'] });
      await w.stop();
      expect(runs).toBe(1);
      expect(got).toEqual([['me']]);
    });

    it('stop past its timeout with signal-honouring runs hands the jobs back: the next worker delivers every callback, nothing quarantined', async () => {
      const got: { uri: string; cbArgs: unknown[]; attempt: number }[] = [];
      let slow = true;
      const app = await open({
        f: {
          run: (uri, ctx) =>
            new Promise((resolve, reject) => {
              const t = setTimeout(() => resolve(uri.length), slow ? 20_000 : 5);
              ctx.signal.addEventListener('abort', () => (clearTimeout(t), reject(ctx.signal.reason)), { once: true });
            }),
          onResult: (_v, cbArgs, info) => void got.push({ uri: info.uri, cbArgs, attempt: info.attempt }),
          retries: 3,
        },
      });
      const uris = ['s1', 's22', 's333'];
      const r = await app.bulkGetOrDelegate(uris.map((uri) => ({ op: 'f', uri, cbArgs: uri })));
      const a = app.startWorker({ concurrency: 3, lease: '30s' });
      await waitUntil(async () => (await app.stats()).ops.find((o) => o.op === 'f')?.active === 3, 'three running jobs');
      await a.stop('500ms');
      expect(got).toEqual([]);
      slow = false;
      const b = app.startWorker({ concurrency: 3, lease: '30s' });
      const done = await Promise.all(r.delegated.map((d) => app.waitFor(d.jobId, { timeout: 10_000 })));
      await b.stop();
      expect(done.map((d) => d.cbArgs)).toEqual(uris.map((u) => [u]));
      expect(got.map((g) => g.uri).sort()).toEqual([...uris].sort());
      expect(got.every((g) => g.attempt === 1)).toBe(true);
      expect((await app.quarantine.list({})).items).toEqual([]);
      expect((await app.stats()).ops.find((o) => o.op === 'f')).toMatchObject({ retried: 0, failed: 0 });
    });

    it('a replay delivers every cbArgs the item holds, once each', async () => {
      let fail = true;
      const got: unknown[][] = [];
      const app = await open({
        r: {
          run: async (u) => u.length,
          onResult: (_v, cbArgs) => {
            if (fail) throw new Error('callback down');
            got.push(cbArgs);
          },
        },
      });
      const r = await app.bulkGetOrDelegate(['alice', 'bob', 'carol'].map((who) => ({ op: 'r', uri: 'x', cbArgs: who })));
      const w = app.startWorker();
      await expect(app.waitFor(r.delegated[0]!.jobId, { timeout: 10_000 })).rejects.toThrow(/callback down/);
      const [item] = (await app.quarantine.list({})).items;
      expect(item!.cbArgs).toEqual(['alice', 'bob', 'carol']);
      fail = false;
      const rp = await app.quarantine.replay({ ids: [item!.id] });
      expect(await app.waitFor(rp.jobIds[0]!, { timeout: 10_000 })).toEqual({ value: 1, cbArgs: ['alice', 'bob', 'carol'] });
      await w.stop();
      expect(got).toEqual([['alice', 'bob', 'carol']]);
      expect((await app.quarantine.list({})).items).toEqual([]);
    });

    it('a replay whose jobs fail again while the replay is still going keeps every item: none is removed after it came back', async () => {
      // The worker runs while the replay queues jobs; a job that fails again writes its item
      // back under the same id before the replay removes the old one.
      // Removing items is slowed down, so jobs replayed in a batch fail again before their old items go.
      const { shards: _s, ...d } = await deployment();
      const backend = await openBackend(d);
      const q = backend.quarantine;
      const deleteMany = q.deleteMany.bind(q);
      q.deleteMany = async (ids, unchanged) => (await sleep(300), deleteMany(ids, unchanged));
      const app = await createBackache({ operations: { q: { run: async (_u, ctx) => Promise.reject(ctx.quarantine({ reason: 'still broken' })) } }, backend });
      apps.push(app);
      const uris = Array.from({ length: 40 }, (_, i) => `u${i}`);
      await app.bulkGetOrDelegate(uris.map((uri) => ({ op: 'q', uri, cbArgs: uri })));
      const w = app.startWorker({ concurrency: 8 });
      await waitUntil(async () => (await app.quarantine.list({ limit: 100 })).items.length === 40, 'forty quarantined');
      for (let round = 0; round < 3; round++) {
        const rp = await app.quarantine.replay({ op: 'q' });
        expect(rp.replayed).toBe(40);
        await waitUntil(async () => (await app.quarantine.list({ limit: 100 })).items.length === 40 && (await app.stats()).totals.waiting + (await app.stats()).totals.active === 0, `forty back after replay ${round + 1}`);
      }
      await w.stop();
      const items = (await app.quarantine.list({ limit: 100 })).items;
      expect(items.map((i) => i.cbArgs[0]).sort()).toEqual([...uris].sort());
      expect(items.every((i) => i.attempts === 4)).toBe(true);
      await app.close();
      await backend.close();
    }, 60_000);

    it('a run that ignores its signal is abandoned at a stop: its lock goes, the next worker runs it at once, its late value is never stored', async () => {
      const got: unknown[] = [];
      let first = true;
      const app = await open({
        z: {
          run: async (u) => {
            if (first) {
              first = false;
              await sleep(1500); // deaf to ctx.signal
              return 'LATE';
            }
            return u;
          },
          onResult: (v) => void got.push(v),
        },
      });
      const d = await app.getOrDelegate('z', 'zz', { cbArgs: 1 });
      const a = app.startWorker({ lease: '30s' });
      await waitUntil(async () => (await app.stats()).ops.find((o) => o.op === 'z')?.active === 1, 'the run');
      await a.stop('200ms');
      const b = app.startWorker({ lease: '30s' });
      expect(await app.waitFor((d as { jobId: string }).jobId, { timeout: 5000 })).toEqual({ value: 'zz', cbArgs: [1] });
      await sleep(1600); // the deaf run returns now: nothing of it may land
      await b.stop();
      expect(got).toEqual(['zz']);
      expect(await app.get('z', 'zz')).toMatchObject({ value: 'zz' });
    });

    it('a step that fails (the backend hiccups) is neither a retry nor a quarantine: the job runs again and delivers', async () => {
      const d = await deployment();
      const backend = await openBackend(d);
      const finish = backend.steps.finish.bind(backend.steps);
      let failures = 1;
      backend.steps = {
        ...backend.steps,
        begin: backend.steps.begin.bind(backend.steps),
        quarantine: backend.steps.quarantine.bind(backend.steps),
        settle: backend.steps.settle.bind(backend.steps),
        records: backend.steps.records.bind(backend.steps),
        finish: async (...a) => {
          if (failures-- > 0) throw new Error('connection reset');
          return finish(...a);
        },
      };
      const got: unknown[][] = [];
      const app = await createBackache({ operations: { h: { run: async (u: string) => u.length, onResult: (_v: unknown, cb: unknown[]) => void got.push(cb) } }, backend, leaseMs: 1000 });
      apps.push(app);
      const r = await app.getOrDelegate('h', 'hic', { cbArgs: 'me' });
      const w = app.startWorker({ lease: '1s' });
      expect(await app.waitFor((r as { jobId: string }).jobId, { timeout: 15_000 })).toEqual({ value: 3, cbArgs: ['me'] });
      await w.stop();
      expect(got).toEqual([['me']]);
      expect((await app.quarantine.list({})).items).toEqual([]);
      await app.close();
      await backend.close();
    }, 20_000);

    it('job data that is not backache\'s is quarantined once, not retried', async () => {
      let runs = 0;
      const app = await open({ c: { run: async () => ++runs, retries: 3 } });
      // Another program wrote to the queue: no uri, or kwargs that are not an object.
      await app.backend.queue.addMany([
        { id: 'alien-1', data: { op: 'c', kwargs: {} } as never },
        { id: 'alien-2', data: { op: 'c', uri: 'u', kwargs: [1, 2] } as never },
      ]);
      const w = app.startWorker();
      await waitUntil(async () => (await app.quarantine.list({})).items.length === 2, 'two quarantine items');
      await w.stop();
      const { items } = await app.quarantine.list({});
      expect(items.map((i) => [i.id, i.error.name, i.attempts]).sort()).toEqual([
        ['alien-1', 'UnreadableJobError', 1],
        ['alien-2', 'UnreadableJobError', 1],
      ]);
      expect(items.find((i) => i.id === 'alien-1')!.error.message).toMatch(/no uri/);
      expect(runs).toBe(0);
      await expect(app.waitFor('alien-1', { timeout: 2000 })).rejects.toThrow(/not written by backache/);
    });

    it('URIs that are not well-formed Unicode are refused on every entry point; two never share a key', async () => {
      const app = await open({ c: async (u) => u.length });
      const lone = ['a\uD800', 'a\uDC00'];
      for (const uri of lone) {
        await expect(app.getOrDelegate('c', uri)).rejects.toThrow(/well-formed/);
        await expect(app.call('c', uri)).rejects.toThrow(/well-formed/);
      }
      const bulk = await app.bulkGetOrDelegate(lone.map((uri) => ({ op: 'c', uri })));
      expect(bulk.errors.map((e) => e.error)).toEqual([expect.stringMatching(/lone surrogate/), expect.stringMatching(/lone surrogate/)]);
      expect(bulk.delegated).toEqual([]);
      const w = await app.warm(lone.map((uri) => ({ op: 'c', uri })));
      expect(w.errors).toHaveLength(2);
      expect(w.queued).toBe(0);
      await expect(app.get('c', lone[0]!)).rejects.toThrow(/well-formed/);
      await expect(app.invalidate({ op: 'c', uris: lone })).rejects.toThrow(/well-formed/);
      await expect(app.invalidate({ op: 'c', template: 'https://x/{id}', vars: { id: [lone[0]!] } })).rejects.toThrow(/--var id .*well-formed/);
      await expect(app.invalidate({ op: 'c', match: 'a\uDC00*' })).rejects.toThrow(/match .*well-formed/);
      await expect(app.quarantine.list({ match: 'a\uDC00*' })).rejects.toThrow(/well-formed/);
    });

    it('ctx carries op, uri, jobId, attempt and kwargs; progress reaches onProgress', async () => {
      const d = await deployment();
      const seen: unknown[] = [];
      const progress: number[] = [];
      const app = await createBackache({
        ...d,
        onProgress: (p) => void progress.push(p.progress),
        operations: {
          ctx: async (uri, ctx) => {
            seen.push({ op: ctx.op, uri: ctx.uri, jobId: ctx.jobId, attempt: ctx.attempt, kwargs: ctx.kwargs, aborted: ctx.signal.aborted });
            ctx.progress(50);
            ctx.progress(100);
            ctx.log.info('done');
            return 1;
          },
        },
      });
      apps.push(app);
      const r = (await app.getOrDelegate('ctx', 'u', { kwargs: { k: 1 } })) as { jobId: string };
      const w = app.startWorker();
      await app.waitFor(r.jobId, { timeout: 10_000 });
      expect(seen).toEqual([{ op: 'ctx', uri: 'u', jobId: r.jobId, attempt: 1, kwargs: { k: 1 }, aborted: false }]);
      expect(progress).toEqual([50, 100]);
      await w.stop();
    });

    it('workers and operations come from heartbeats; stats costs O(operations)', async () => {
      const app = await open({ a: async () => 1, b: async () => 2 });
      const w = app.startWorker({ concurrency: 3, ops: ['a'] });
      await waitUntil(async () => (await app.workers()).length === 1, 'worker heartbeat');
      expect(await app.operations()).toEqual([{ op: 'a', workers: 1, concurrency: 3 }]);
      const s = await app.stats();
      expect(s.ops.map((o) => o.op)).toEqual(['a', 'b']);
      expect(s.workers[0]).toMatchObject({ ops: ['a'], concurrency: 3, pid: process.pid });
      await w.stop();
      expect(await app.workers()).toEqual([]);
    });
  });
}
