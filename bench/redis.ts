/**
 * Redis: backache vs the raw layer beneath it (BullMQ alone, ioredis alone), alternately in
 * one process, on a redis-server of its own (a free port, a temp dir, removed afterwards).
 *
 *   submit: bulkGetOrDelegate of 100k new URIs in batches of 1,000 vs BullMQ Queue.addBulk
 *   hits:   bulkGetOrDelegate of 100k cached URIs in batches of 1,000 vs MGET + JSON.parse
 *   drain:  startWorker draining 30k no-op jobs, concurrency 50 vs a BullMQ Worker with a
 *           no-op processor, concurrency 50 (BullMQ's default retention, then backache's)
 *
 * Run: npm run bench:submit | bench:hits | bench:drain   (BENCH_ROUNDS, SUBMIT_N, HITS_N, DRAIN_N)
 * Every round starts from an empty server (FLUSHALL, untimed).
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Backache } from '../src/index.js';
import { loadLibrary } from './lib.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { compare, printTable, rounds, save, watchServerCpu, type Variant } from './lib.js';

const { createBackache } = await loadLibrary();

const SUBMIT_N = Number(process.env.SUBMIT_N ?? 100_000);
const HITS_N = Number(process.env.HITS_N ?? 100_000);
const DRAIN_N = Number(process.env.DRAIN_N ?? 30_000);
const BATCH = 1000;
const CONCURRENCY = Number(process.env.DRAIN_CONCURRENCY ?? 50);

const uris = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `https://example.com/${tag}/${i}`);
const value = (uri: string) => ({ title: `Title of ${uri}`, length: uri.length, tags: ['a', 'b'] });

const server = await startRedisServer({ args: ['--maxmemory-policy', 'noeviction'] });
watchServerCpu(server.pid());
const admin = new Redis(server.url, { maxRetriesPerRequest: null });
const flush = () => admin.flushall();

/** Run `fn` over `all` in batches of BATCH, one after the other. */
async function inBatches<T>(all: T[], fn: (batch: T[]) => Promise<unknown>) {
  for (let i = 0; i < all.length; i += BATCH) await fn(all.slice(i, i + BATCH));
}

async function submit() {
  return compare('submit 100k new URIs, Redis broker', SUBMIT_N, rounds(), {
    raw: {
      async prepare(round) {
        await flush();
        const connection = new Redis(server.url, { maxRetriesPerRequest: null });
        const q = new Queue(`raw${round}`, { connection });
        await q.addBulk([{ name: 'noop', data: { op: 'noop', uri: 'warm-up', kwargs: {} } }]);
        const all = uris(SUBMIT_N, `raw${round}`).map((uri) => ({ name: 'noop', data: { op: 'noop', uri, kwargs: {} } }));
        return {
          run: () => inBatches(all, (b) => q.addBulk(b)),
          teardown: async () => {
            await q.close();
            connection.disconnect();
          },
        };
      },
    },
    backache: {
      async prepare(round) {
        await flush();
        const app = await createBackache({ operations: { noop: async () => null }, broker: server.url, prefix: `b${round}` });
        await app.bulkGetOrDelegate([{ op: 'noop', uri: 'warm-up' }]);
        const all = uris(SUBMIT_N, `b${round}`).map((uri) => ({ op: 'noop', uri }));
        return {
          run: () => inBatches(all, (b) => app.bulkGetOrDelegate(b)),
          teardown: () => app.close(),
        };
      },
    },
  });
}

async function hits() {
  // Filled once (both layers hold the same 100k values); hits change nothing but counters.
  await flush();
  const all = uris(HITS_N, 'hit');
  const rawClient = new Redis(server.url, { maxRetriesPerRequest: null });
  await inBatches(all, (b) => rawClient.mset(...b.flatMap((u) => [`raw:${u}`, JSON.stringify(value(u))])));
  const app: Backache = await createBackache({ operations: { title: async (u) => value(u) }, broker: server.url, prefix: 'hits' });
  await inBatches(all, (b) => app.backend.cache.setMany(b.map((u) => ({ key: { ns: 'title', id: u }, entry: { value: value(u), createdAt: Date.now(), expiresAt: null, staleUntil: null } }))));
  const rawKeys = all.map((u) => `raw:${u}`);
  const requests = all.map((uri) => ({ op: 'title', uri }));
  let got = 0;
  const row = await compare('100k cache hits, Redis cache', HITS_N, rounds(), {
    raw: {
      async prepare() {
        return {
          run: () =>
            inBatches(rawKeys, async (b) => {
              const vals = await rawClient.mget(...b);
              for (const v of vals) if (v !== null && JSON.parse(v)) got++;
            }),
        };
      },
    },
    backache: {
      async prepare() {
        return {
          run: () =>
            inBatches(requests, async (b) => {
              const r = await app.bulkGetOrDelegate(b);
              got += r.hits.length;
              if (r.hits.length !== b.length) throw new Error(`expected ${b.length} hits, got ${r.hits.length}`);
            }),
        };
      },
    },
  });
  if (got !== HITS_N * rounds() * 2) throw new Error(`hits: ${got} values read, expected ${HITS_N * rounds() * 2}`);
  await app.close();
  rawClient.disconnect();
  return row;
}

/** The raw side of the drain rows: a BullMQ Worker with a no-op processor, concurrency 50. */
function rawWorker(keep?: { count: number; age: number }): Variant {
  return {
    async prepare(round) {
      await flush();
      const connection = new Redis(server.url, { maxRetriesPerRequest: null });
      const name = `raw${round}`;
      const q = new Queue(name, { connection });
      await inBatches(
        uris(DRAIN_N, name).map((uri) => ({ name: 'noop', data: { op: 'noop', uri, kwargs: {} } })),
        (b) => q.addBulk(b),
      );
      return {
        run: async () => {
          let done = 0;
          let resolveAll!: () => void;
          const allDone = new Promise<void>((r) => (resolveAll = r));
          const w = new Worker(name, async () => null, {
            connection: new Redis(server.url, { maxRetriesPerRequest: null }),
            concurrency: CONCURRENCY,
            ...(keep ? { removeOnComplete: keep } : {}),
          });
          w.on('completed', () => void (++done === DRAIN_N && resolveAll()));
          await allDone;
          await w.close();
          (await w.client).disconnect();
        },
        teardown: async () => {
          await q.close();
          connection.disconnect();
        },
      };
    },
  };
}

/**
 * Drain: backache's worker vs a BullMQ Worker with a no-op processor. `keep` is the raw
 * Worker's removeOnComplete: BullMQ's default keeps every finished job forever, while backache
 * keeps 10,000 for an hour (bounded memory; BullMQ then removes one old job per completion),
 * so the second row compares at equal retention.
 */
async function drain(keep?: { count: number; age: number }) {
  const title = keep ? 'drain 30k no-op jobs, concurrency 50, Redis broker (raw with the same retention)' : 'drain 30k no-op jobs, concurrency 50, Redis broker';
  return compare(title, DRAIN_N, rounds(), {
    raw: rawWorker(keep),
    backache: {
      async prepare(round) {
        await flush();
        let finished = 0;
        let resolveAll!: () => void;
        const allDone = new Promise<void>((r) => (resolveAll = r));
        const app = await createBackache({
          operations: { noop: { run: async () => null, onResult: () => void (++finished === DRAIN_N && resolveAll()) } },
          broker: server.url,
          prefix: `b${round}`,
        });
        await inBatches(
          uris(DRAIN_N, `b${round}`).map((uri) => ({ op: 'noop', uri })),
          (b) => app.bulkGetOrDelegate(b),
        );
        return {
          run: async () => {
            const w = app.startWorker({ concurrency: CONCURRENCY });
            await allDone;
            await w.stop();
          },
          teardown: () => app.close(),
        };
      },
    },
  });
}

/** Drain 30k jobs of `app`'s "noop" operation (enqueued untimed) and resolve when all are done. */
async function backacheWithJobs(round: number, tag: string, operations: Parameters<typeof createBackache>[0]['operations']) {
  await flush();
  const app = await createBackache({ operations, broker: server.url, prefix: `${tag}${round}` });
  await inBatches(
    uris(DRAIN_N, `${tag}${round}`).map((uri) => ({ op: 'noop', uri })),
    (b) => app.bulkGetOrDelegate(b),
  );
  return app;
}

/**
 * Where the drain's time goes, as two measured parts against the same raw Worker:
 *  - "queue wrapper alone": backache's consumer loop over the BullMQ queue (consumer.ts:
 *    batched take/finish, outcome marker, leases, retention) with a handler that completes
 *    at once: no cache, lock or pending step.
 *  - "consume steps alone": the worker's two batched steps (consume-begin-n: fresh entry or
 *    lock; consume-finish-n: store, take the pending cbArgs, release) for 30k jobs, 50 in
 *    flight, with no queue at all.
 * Their CPU per job (this process + redis-server) adds up to what the full drain costs.
 */
async function drainParts() {
  const wrapper = await compare('drain part: backache queue wrapper alone (no consume steps)', DRAIN_N, rounds(), {
    raw: rawWorker(),
    backache: {
      async prepare(round) {
        const app = await backacheWithJobs(round, 'w', { noop: async () => null });
        return {
          run: async () => {
            let handled = 0;
            let resolveAll!: () => void;
            const allDone = new Promise<void>((r) => (resolveAll = r));
            const consumer = app.backend.queue.consume({
              ops: ['noop'],
              concurrency: () => CONCURRENCY,
              handler: async () => {
                if (++handled === DRAIN_N) setImmediate(resolveAll);
                return { type: 'completed', result: { value: null, cbArgs: [] } };
              },
            });
            await allDone;
            await consumer.stop();
          },
          teardown: () => app.close(),
        };
      },
    },
  });
  const steps = await compare('drain part: backache consume steps alone (no queue)', DRAIN_N, rounds(), {
    raw: rawWorker(),
    backache: {
      async prepare(round) {
        const app = await backacheWithJobs(round, 's', { noop: async () => null });
        const s = app.backend.steps;
        if (!s) throw new Error('the Redis backend has no consume steps');
        const keys = uris(DRAIN_N, `s${round}`).map((id) => ({ ns: 'noop', id }));
        return {
          run: async () => {
            let next = 0;
            let delivered = 0;
            await Promise.all(
              Array.from({ length: CONCURRENCY }, async () => {
                while (next < keys.length) {
                  const key = keys[next++]!;
                  const got = await s.begin(key, 30_000, false);
                  if (!('token' in got)) throw new Error(`expected the lock for ${key.id}`);
                  const entry = { value: null, createdAt: Date.now(), expiresAt: null, staleUntil: null, uri: key.id };
                  const taken = await s.finish(key, [{ key, entry }], got.token);
                  delivered += taken.length;
                }
              }),
            );
            if (delivered !== keys.length) throw new Error(`steps: ${delivered} cbArgs taken, expected ${keys.length}`);
          },
          teardown: () => app.close(),
        };
      },
    },
  });
  return [wrapper, steps];
}

const which = process.argv[2] ?? 'all';
const rows = [];
try {
  if (which === 'all' || which === 'submit') rows.push(await submit());
  if (which === 'all' || which === 'hits') rows.push(await hits());
  if (which === 'all' || which === 'drain') {
    rows.push(await drain());
    rows.push(await drain({ count: 10_000, age: 3600 }));
    if (process.env.DRAIN_PARTS !== '0') rows.push(...(await drainParts()));
  }
  printTable(rows);
  save(`redis-${which}`, rows);
} finally {
  admin.disconnect();
  await server.stop();
}
