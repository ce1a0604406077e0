/**
 * `Backache.drain` (queue drain) loses nothing, on memory, SQLite and Redis:
 * - stopped after any of its steps (a crash), the job's worker or a second drain finishes it,
 *   and every request ends in quarantine once (then a replay delivers it);
 * - beside a running worker, every request ends delivered or in quarantine.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBackache, defineOperations, type Backache } from '../../src/index.js';
import { drainedItem } from '../../src/core/drain.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { sleep, waitUntil } from '../helpers/wait.js';

type Deployment = () => { broker: string; prefix?: string };

function describeDrain(name: string, deployment: Deployment, shards?: number) {
  describe(`queue drain: ${name}`, () => {
    const apps: Backache[] = [];
    let delivered: unknown[] = [];
    const open = async (runMs = 0) => {
      const app = await createBackache({
        ...deployment(),
        operations: defineOperations({
          note: { run: async (uri) => (runMs && (await sleep(runMs)), uri.length), onResult: (_v, cbArgs) => void delivered.push(...cbArgs), ...(shards ? { shards } : {}) },
        }),
      });
      apps.push(app);
      return app;
    };
    afterEach(async () => {
      await Promise.all(apps.splice(0).map((a) => a.close()));
      delivered = [];
    });

    /** Run the first `steps` steps of draining one job by hand, as a drain that crashed after them. */
    async function partialDrain(app: Backache, jobId: string, steps: number) {
      const job = (await app.jobs('note')).find((j) => j.id === jobId)!;
      const key = { ns: 'note', id: job.uri, ...(job.place !== undefined ? { place: job.place } : {}) };
      const record = await app.backend.steps.quarantine(key, jobId, drainedItem(job, Date.now()), null);
      if (steps >= 2) await app.backend.quarantine.put(record.item!);
      if (steps >= 3) expect(await app.backend.queue.remove('note', [jobId])).toEqual([jobId]);
    }

    for (const [steps, then] of [
      [1, 'worker'],
      [1, 'drain'],
      [2, 'worker'],
      [2, 'drain'],
      [3, 'drain'],
    ] as const) {
      it(`stopped after step ${steps} of 4, then ${then === 'worker' ? 'a worker takes the job' : 'drained again'}: the requests are in quarantine once, and a replay delivers them`, async () => {
        const app = await open();
        const first = await app.getOrDelegate('note', 'u-1', { cbArgs: 'a' });
        await app.getOrDelegate('note', 'u-1', { cbArgs: 'b' });
        expect(first.status).toBe('delegated');
        const jobId = (first as { jobId: string }).jobId;
        await partialDrain(app, jobId, steps);
        if (then === 'worker') {
          const w = app.startWorker();
          await waitUntil(async () => (await app.backend.queue.getState(jobId)).state === 'quarantined', 'the worker to quarantine the job');
          await w.stop();
          // The request's waitFor says where it went.
          await expect(app.waitFor(jobId, { timeout: '5s' })).rejects.toMatchObject({ name: 'QuarantinedError', quarantineId: jobId });
        } else {
          const r = await app.drain('note');
          expect(r).toMatchObject({ drained: steps === 3 ? 0 : 1, taken: 0 });
          if (steps < 3) await expect(app.waitFor(jobId, { timeout: '5s' })).rejects.toMatchObject({ name: 'QuarantinedError', quarantineId: jobId });
        }
        expect(delivered).toEqual([]);
        const { items } = await app.quarantine.list({ op: 'note' });
        expect(items).toEqual([expect.objectContaining({ id: jobId, uri: 'u-1', cbArgs: ['a', 'b'], error: expect.objectContaining({ name: 'DrainedError' }) })]);
        expect(await app.jobs('note')).toEqual([]);
        // A new request is not lost on the drained job: it makes a job of its own.
        const again = await app.getOrDelegate('note', 'u-1', { cbArgs: 'c' });
        expect(again).toMatchObject({ status: 'delegated', coalesced: false });
        await app.quarantine.replay({ op: 'note' });
        const w = app.startWorker();
        await waitUntil(() => delivered.length >= 3, 'the replayed and the new requests to be delivered');
        await w.stop();
        expect([...delivered].sort()).toEqual(['a', 'b', 'c']);
      });
    }

    it('two drains beside a running worker: every request ends delivered or in quarantine, never both, each counted once; active jobs are left', async () => {
      const app = await open(5);
      const requests = Array.from({ length: 120 }, (_, i) => ({ op: 'note', uri: `u-${i % 80}`, cbArgs: i }));
      await app.bulkGetOrDelegate(requests);
      const w = app.startWorker({ concurrency: 4 });
      await waitUntil(() => delivered.length > 0, 'the worker to start');
      const [r, r2] = await Promise.all([app.drain('note'), app.drain('note')]);
      await waitUntil(async () => {
        const c = await app.backend.queue.counts('note');
        return c.waiting + c.active + c.delayed === 0;
      }, 'the queue to empty');
      await w.stop();
      const quarantined: unknown[] = [];
      for await (const it of app.quarantine.select({ op: 'note' })) quarantined.push(...it.cbArgs);
      expect(r.drained + r.taken + r2.drained + r2.taken).toBeGreaterThan(0);
      expect(quarantined.length).toBe(r.requests + r2.requests);
      expect(delivered.length + quarantined.length).toBe(120);
      expect(new Set([...delivered, ...quarantined]).size).toBe(120);
      expect((await app.stats()).ops.find((o) => o.op === 'note')).toMatchObject({ waiting: 0, active: 0, delayed: 0, quarantined: expect.any(Number) });
    });
  });
}

describeDrain('memory', () => ({ broker: `memory:${randomUUID()}` }));

const dir = mkdtempSync(join(tmpdir(), 'backache-drain-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
describeDrain('sqlite', () => ({ broker: `sqlite:${join(dir, `${randomUUID()}.db`)}` }));

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});
describeDrain('redis', () => ({ broker: redis.url, prefix: `t${randomUUID().slice(0, 8)}` }));
// An operation spread over 3 hash tags: each job is drained at its shard, where its pending requests are.
describeDrain('redis, 3 shards', () => ({ broker: redis.url, prefix: `t${randomUUID().slice(0, 8)}` }), 3);
