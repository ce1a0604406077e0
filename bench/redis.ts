/**
 * Redis: backache vs what a user would hand-write with the same libraries (BullMQ + ioredis),
 * and vs the raw layer beneath (BullMQ alone, ioredis alone), alternately in one process, on
 * a redis-server of its own (a free port, a temp dir, removed afterwards).
 *
 *   submit: bulkGetOrDelegate of 100k new URIs with cbArgs, batches of 1,000, vs
 *           - a hand-written producer: MGET the entries, RPUSH each request's cbArgs to the
 *             pair's list, addBulk the misses with jobId = hash of the pair;
 *           - BullMQ Queue.addBulk alone.
 *   hits:   bulkGetOrDelegate of 100k cached URIs in batches of 1,000 vs MGET + JSON.parse
 *   drain:  startWorker draining 30k jobs with cbArgs, concurrency 50, vs
 *           - a hand-written BullMQ Worker whose processor SETs the entry, takes the pair's
 *             cbArgs (LRANGE + DEL in a MULTI) and calls the callback;
 *           - a BullMQ Worker with a no-op processor.
 *           Both raw Workers keep finished jobs as backache does (10,000 for an hour).
 *
 * Run: npm run bench:submit | bench:hits | bench:drain   (BENCH_ROUNDS, SUBMIT_N, HITS_N, DRAIN_N)
 * Every round starts from an empty server (FLUSHALL, untimed).
 */
import { createHash } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
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
const KEEP = { count: 10_000, age: 3600 };

const uris = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `https://example.com/${tag}/${i}`);
const value = (uri: string) => ({ title: `Title of ${uri}`, length: uri.length, tags: ['a', 'b'] });
const sha1 = (s: string) => createHash('sha1').update(s).digest('base64url');

const server = await startRedisServer({ args: ['--maxmemory-policy', 'noeviction'] });
watchServerCpu(server.pid());
const admin = new Redis(server.url, { maxRetriesPerRequest: null });
const flush = () => admin.flushall();
/** Connections for the raw variants; BullMQ never closes a client it did not create, so these are closed at the end. */
const opened: Redis[] = [];
const redis = () => {
  const c = new Redis(server.url, { maxRetriesPerRequest: null });
  opened.push(c);
  return c;
};

/** Run `fn` over `all` in batches of BATCH, one after the other. */
async function inBatches<T>(all: T[], fn: (batch: T[]) => Promise<unknown>) {
  for (let i = 0; i < all.length; i += BATCH) await fn(all.slice(i, i + BATCH));
}

/** What a user would write for get-or-delegate with BullMQ and ioredis: one batch of requests. */
async function handWrittenSubmit(client: Redis, q: Queue, tag: string, batch: { uri: string; cbArgs: unknown }[]) {
  const keys = batch.map((r) => `${tag}:e:${sha1(r.uri)}`);
  const entries = await client.mget(...keys);
  const p = client.pipeline();
  const jobs: { name: string; data: unknown; opts: { jobId: string } }[] = [];
  batch.forEach((r, i) => {
    if (entries[i] !== null) return;
    const h = sha1(r.uri);
    p.rpush(`${tag}:cb:${h}`, JSON.stringify(r.cbArgs));
    jobs.push({ name: 'op', data: { uri: r.uri }, opts: { jobId: h } });
  });
  await p.exec();
  if (jobs.length) await q.addBulk(jobs);
}

function backacheSubmit(): Variant {
  return {
    async prepare(round) {
      await flush();
      const app = await createBackache({ operations: { noop: async () => null }, broker: server.url, prefix: `b${round}` });
      await app.bulkGetOrDelegate([{ op: 'noop', uri: 'warm-up' }]);
      const all = uris(SUBMIT_N, `b${round}`).map((uri, i) => ({ op: 'noop', uri, cbArgs: { i } }));
      return {
        run: () =>
          inBatches(all, async (b) => {
            const r = await app.bulkGetOrDelegate(b);
            if (r.delegated.length !== b.length) throw new Error(`expected ${b.length} delegated, got ${r.delegated.length}`);
          }),
        teardown: () => app.close(),
      };
    },
  };
}

async function submit() {
  const handWritten = await compare('submit 100k new URIs with cbArgs, Redis broker, vs a hand-written producer', SUBMIT_N, rounds(), {
    raw: {
      async prepare(round) {
        await flush();
        const client = redis();
        const q = new Queue(`hw${round}`, { connection: redis() });
        await handWrittenSubmit(client, q, `hw${round}`, [{ uri: 'warm-up', cbArgs: null }]);
        const all = uris(SUBMIT_N, `hw${round}`).map((uri, i) => ({ uri, cbArgs: { i } }));
        return {
          run: () => inBatches(all, (b) => handWrittenSubmit(client, q, `hw${round}`, b)),
          teardown: async () => {
            await q.close();
            client.disconnect();
          },
        };
      },
    },
    backache: backacheSubmit(),
  });
  const addBulk = await compare('submit 100k new URIs with cbArgs, Redis broker, vs BullMQ addBulk alone', SUBMIT_N, rounds(), {
    raw: {
      async prepare(round) {
        await flush();
        const q = new Queue(`raw${round}`, { connection: redis() });
        await q.addBulk([{ name: 'noop', data: { op: 'noop', uri: 'warm-up', kwargs: {} } }]);
        const all = uris(SUBMIT_N, `raw${round}`).map((uri) => ({ name: 'noop', data: { op: 'noop', uri, kwargs: {} } }));
        return { run: () => inBatches(all, (b) => q.addBulk(b)), teardown: () => q.close() };
      },
    },
    backache: backacheSubmit(),
  });
  return [handWritten, addBulk];
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

/**
 * A raw BullMQ Worker over 30k jobs enqueued (untimed) with one cbArgs each: `processor`
 * is either a no-op or what a user would hand-write for backache's job.
 */
function rawWorker(kind: 'noop' | 'hand-written'): Variant {
  return {
    async prepare(round) {
      await flush();
      const name = `raw${round}`;
      const client = redis();
      const q = new Queue(name, { connection: redis() });
      const all = uris(DRAIN_N, name).map((uri, i) => ({ uri, cbArgs: { i } }));
      await inBatches(all, (b) => handWrittenSubmit(client, q, name, b));
      let delivered = 0;
      const processor =
        kind === 'noop'
          ? async () => null
          : async (job: Job<{ uri: string }>) => {
              const h = sha1(job.data.uri);
              const v = value(job.data.uri);
              await client.set(`${name}:e:${h}`, JSON.stringify(v));
              const [[, cbArgs]] = (await client.multi().lrange(`${name}:cb:${h}`, 0, -1).del(`${name}:cb:${h}`).exec()) as [[null, string[]]];
              delivered += cbArgs.map((c) => JSON.parse(c)).length; // the callback
              return null;
            };
      return {
        run: async () => {
          let done = 0;
          let resolveAll!: () => void;
          const allDone = new Promise<void>((r) => (resolveAll = r));
          const w = new Worker(name, processor, { connection: redis(), concurrency: CONCURRENCY, removeOnComplete: KEEP, removeOnFail: KEEP });
          w.on('completed', () => void (++done === DRAIN_N && resolveAll()));
          await allDone;
          await w.close();
          if (kind === 'hand-written' && delivered !== DRAIN_N) throw new Error(`hand-written: ${delivered} cbArgs delivered, expected ${DRAIN_N}`);
        },
        teardown: async () => {
          await q.close();
          client.disconnect();
        },
      };
    },
  };
}

function backacheDrain(): Variant {
  return {
    async prepare(round) {
      await flush();
      let delivered = 0;
      let resolveAll!: () => void;
      const allDone = new Promise<void>((r) => (resolveAll = r));
      const app: Backache = await createBackache({
        operations: {
          noop: {
            run: async (uri) => value(uri),
            onResult: (_v, cbArgs) => void ((delivered += cbArgs.length) === DRAIN_N && resolveAll()),
          },
        },
        broker: server.url,
        prefix: `b${round}`,
      });
      await inBatches(
        uris(DRAIN_N, `b${round}`).map((uri, i) => ({ op: 'noop', uri, cbArgs: { i } })),
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
  };
}

async function drain() {
  const handWritten = await compare('drain 30k jobs with cbArgs, concurrency 50, Redis broker, vs a hand-written BullMQ Worker (SET, MULTI LRANGE+DEL, callback)', DRAIN_N, rounds(), {
    raw: rawWorker('hand-written'),
    backache: backacheDrain(),
  });
  const noop = await compare('drain 30k jobs with cbArgs, concurrency 50, Redis broker, vs a no-op BullMQ Worker', DRAIN_N, rounds(), {
    raw: rawWorker('noop'),
    backache: backacheDrain(),
  });
  return [handWritten, noop];
}

const which = process.argv[2] ?? 'all';
const rows = [];
try {
  if (which === 'all' || which === 'submit') rows.push(...(await submit()));
  if (which === 'all' || which === 'hits') rows.push(await hits());
  if (which === 'all' || which === 'drain') rows.push(...(await drain()));
  printTable(rows);
  save(`redis-${which}`, rows);
} finally {
  for (const c of opened) c.disconnect();
  admin.disconnect();
  await server.stop();
}
