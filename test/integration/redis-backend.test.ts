/**
 * The Redis broker against real redis-server processes started by the test helpers:
 * key layout, credentials, fail-fast opening, restarts, the BullMQ queue (retries,
 * retention, rate limits, lost leases, stalled-job recovery after a SIGKILL), what BullMQ's
 * own Queue and QueueEvents see, the doctor's BullMQ version check, TLS and Sentinel URLs,
 * and cleanup that touches nothing else.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/core/backends/index.js';
import { parseRedisUrl, redisBackend, RedisKeys } from '../../src/core/backends/redis/index.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { checkStoreUrl } from '../../src/core/health.js';
import { hashId } from '../../src/core/hash.js';
import type { Backend, ClaimedJob, JobOutcome, QuarantineItem } from '../../src/core/ports.js';
import { createBackache } from '../../src/index.js';
import { freePort, makeTlsFiles, startRedisSentinel, startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const CHILD = fileURLToPath(new URL('../fixtures/redis-child.ts', import.meta.url));
const uniquePrefix = () => `it-${randomUUID().slice(0, 8)}`;

let server: RedisServer;
let raw: Redis;
beforeAll(async () => {
  server = await startRedisServer({ appendonly: true });
  raw = new Redis(server.url);
  raw.on('error', () => {}); // the server is restarted on purpose below
});
afterAll(async () => {
  raw?.disconnect();
  await server?.stop();
});

async function allKeys(match = '*') {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out.sort();
}

/** Spawn the fixture child; resolves JSON lines as they come. */
function child(args: string[], env: NodeJS.ProcessEnv = {}) {
  const p = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  let buf = '';
  let err = '';
  p.stdout!.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push(JSON.parse(line));
      } catch {
        /* not ours */
      }
    }
  });
  p.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  return { p, lines, stderr: () => err, exited };
}

const entry = (value: unknown) => ({ value, createdAt: Date.now(), expiresAt: null, staleUntil: null });
const done = (tag: unknown = 1, deliveryId = 'd'): JobOutcome => ({ type: 'completed', result: { cbArgs: [tag], deliveryId } });

describe('key layout', () => {
  it('every key is hash-tagged per operation (or per deployment) and contains no raw URI', async () => {
    const prefix = uniquePrefix();
    const b = await openBackend({ broker: server.url, prefix });
    try {
      const uri = 'https://example.com/some path/ü?q="x"&y={z}';
      const key = { ns: 'title', id: uri };
      await b.cache.setMany([{ key, entry: entry({ t: 1 }) }, { key: { ns: 'thumb', id: uri }, entry: entry(2) }]);
      await b.pending.addMany([{ key, cbArgs: { who: 1 }, jobId: 'job-a' }]);
      await b.pending.addMany([{ key: { ns: 'thumb', id: uri }, cbArgs: { who: 2 }, jobId: 'job-b' }]);
      await b.steps.finish({ ns: 'thumb', id: uri }, 'job-b', [], null); // a delivery record
      expect(await b.locker.acquire(key, 10_000)).toBeTruthy();
      await b.queue.addMany([{ id: 'job-a', data: { op: 'title', uri, kwargs: {} } }]);
      const q: QuarantineItem = {
        id: 'q1', op: 'title', uri, cbArgs: [], kwargs: {}, error: { name: 'Error', message: 'x' },
        attempts: 1, firstFailedAt: 1, lastFailedAt: 1,
      };
      await b.quarantine.put(q);
      await b.registry.incr({ title: { hits: 1 } });
      await b.registry.recordDurations('title', [5]);
      await b.registry.heartbeat({ id: 'w1', host: 'h', pid: 1, ops: ['title'], concurrency: 1, startedAt: 1, lastSeen: 1, processed: 0 }, 10_000);

      const keys = (await allKeys()).filter((k) => k.includes(prefix));
      expect(keys.length).toBeGreaterThan(10);
      for (const k of keys) {
        expect(k.startsWith(`{${prefix}:title}:`) || k.startsWith(`{${prefix}:thumb}:`) || k.startsWith(`{${prefix}:}:`), k).toBe(true);
        expect(k).not.toContain('example.com');
        expect(k).not.toContain(' ');
      }
      // The operation's BullMQ queue lives under the operation's tag, and so do delivery records.
      expect(keys).toContain(`{${prefix}:title}:jobs:job-a`);
      expect(keys).toContain(`{${prefix}:thumb}:p:d:${hashId('job-b')}`);
      expect(await raw.lrange(`{${prefix}:thumb}:p:d:${hashId('job-b')}`, 1, -1)).toEqual([JSON.stringify({ who: 2 })]);
      expect(keys.some((k) => k.startsWith(`{${prefix}:title}:jobs:`) && k.endsWith(':meta'))).toBe(true);
      // The raw URI is stored as data.
      const k = new RedisKeys(prefix);
      // (An entry is one STRING since the benchmark work: MGET reads a batch; see cache.ts encodeEntry.)
      expect(await raw.get(k.entry(k.tag('title'), hashId(uri)))).toContain(`|${uri}`);
      expect(await raw.zrange(k.cacheIndex(k.tag('title')), 0, -1)).toEqual([uri]);
    } finally {
      await b.close();
    }
  });

  it('odd namespaces are hashed into the tag, never pasted', async () => {
    const k = new RedisKeys('p');
    expect(k.tag('title')).toBe('{p:title}');
    for (const ns of ['a}b', 'a:b', 'with space', '', '{x}', 'ü']) {
      const tag = k.tag(ns);
      expect(tag).toMatch(/^\{p:#[A-Za-z0-9_-]+\}$/);
    }
  });

  it('ids with lone surrogates are refused with a TypeError at every entry point (two of them would share a key)', async () => {
    const b = await redisBackend(server.url, uniquePrefix());
    try {
      for (const id of ['a\uD800', 'a\uDC00']) {
        const key = { ns: 'op', id };
        await expect(b.cache.getMany([key])).rejects.toThrow(TypeError);
        await expect(b.cache.setMany([{ key, entry: entry(1) }])).rejects.toThrow(/lone surrogate/);
        await expect(b.cache.deleteMany([key])).rejects.toThrow(TypeError);
        await expect(b.pending.addMany([{ key, cbArgs: 1, jobId: 'j' }])).rejects.toThrow(TypeError);
        await expect(b.locker.acquire(key, 1000)).rejects.toThrow(TypeError);
        await expect(b.steps.begin(key, 'j', 'run', 1000, false)).rejects.toThrow(TypeError);
        await expect(b.steps.finish({ ns: 'op', id: 'fine' }, 'j', [{ key, entry: entry(1) }], null)).rejects.toThrow(TypeError);
      }
      // Nothing was written for them.
      expect(await b.cache.count('op')).toBe(0);
      expect(await b.pending.count('op')).toBe(0);
    } finally {
      await b.close();
    }
  });

  it('clear() removes this deployment only, by SCAN, including a prefix that extends ours', async () => {
    const p1 = uniquePrefix();
    const p2 = `${p1}:x`; // a different deployment whose prefix starts like ours
    const b1 = await openBackend({ broker: server.url, prefix: p1 });
    const b2 = await openBackend({ broker: server.url, prefix: p2 });
    try {
      for (const b of [b1, b2]) {
        await b.cache.setMany([{ key: { ns: 'x', id: 'u' }, entry: entry(1) }, { key: { ns: 'weird ns', id: 'u' }, entry: entry(1) }]);
        await b.pending.addMany([{ key: { ns: 'x', id: 'u' }, cbArgs: 1, jobId: 'j1' }]);
        await b.queue.addMany([{ id: 'j1', data: { op: 'x', uri: 'u', kwargs: {} } }]);
      }
      await raw.set('unrelated:{x}:c:thing', '1');
      // A key's deployment is its hash tag: `{P:}` or `{P:<namespace part, which has no ':'>}`.
      const tagOf = (k: string) => k.slice(1, k.indexOf('}'));
      const belongs = (k: string, p: string) => tagOf(k).startsWith(`${p}:`) && !tagOf(k).slice(p.length + 1).includes(':');
      const keysOf = async (p: string) => (await allKeys(`{${p}*`)).filter((k) => belongs(k, p));
      const keys2 = await keysOf(p2);
      expect(keys2.length).toBeGreaterThan(10);
      expect((await keysOf(p1)).length).toBeGreaterThan(10);
      await b1.cache.clear();
      await b1.pending.clear();
      await b1.queue.clear();
      await b1.quarantine.clear();
      await b1.registry.clear();
      expect(await keysOf(p1)).toEqual([]);
      expect(await keysOf(p2)).toEqual(keys2);
      expect(await raw.get('unrelated:{x}:c:thing')).toBe('1');
      expect((await b2.cache.getMany([{ ns: 'x', id: 'u' }]))[0]?.value).toBe(1);
      expect(await b2.pending.jobIdOf({ ns: 'x', id: 'u' })).toBe('j1');
    } finally {
      await raw.del('unrelated:{x}:c:thing');
      await b1.close();
      await b2.close();
    }
  });

  it('entries expire at staleUntil (PXAT); a scan skips their ids and drops them from the index', async () => {
    const prefix = uniquePrefix();
    const b = await redisBackend(server.url, prefix);
    try {
      const now = Date.now();
      await b.cache.setMany([
        { key: { ns: 'op', id: 'u/1' }, entry: { value: 1, createdAt: now, expiresAt: now + 20, staleUntil: now + 60 } },
        { key: { ns: 'op', id: 'u/2' }, entry: entry(2) },
        { key: { ns: 'op', id: 'u/ü/3' }, entry: entry(3) },
      ]);
      const k = new RedisKeys(prefix);
      const ttl = await raw.pttl(k.entry(k.tag('op'), hashId('u/1')));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60);
      expect(await raw.pttl(k.entry(k.tag('op'), hashId('u/2')))).toBe(-1);
      await sleep(100);
      expect(await raw.exists(k.entry(k.tag('op'), hashId('u/1')))).toBe(0);
      expect(await raw.zcard(k.cacheIndex(k.tag('op')))).toBe(3); // lazily cleaned
      const ids: string[] = [];
      for await (const id of b.cache.scan('op', 'u/', { batchSize: 1 })) ids.push(id);
      expect(ids).toEqual(['u/2', 'u/ü/3']);
      expect(await raw.zrange(k.cacheIndex(k.tag('op')), 0, -1)).toEqual(['u/2', 'u/ü/3']);
      const unicode: string[] = [];
      for await (const id of b.cache.scan('op', 'u/ü')) unicode.push(id);
      expect(unicode).toEqual(['u/ü/3']);
      // An entry written already past its grace is not stored at all.
      await b.cache.setMany([{ key: { ns: 'op', id: 'u/4' }, entry: { value: 4, createdAt: 1, expiresAt: 1, staleUntil: 2 } }]);
      expect(await raw.exists(k.entry(k.tag('op'), hashId('u/4')))).toBe(0);
      expect(await b.cache.count('op')).toBe(2);
    } finally {
      await b.close();
    }
  });

  it('batches are one script call per operation group, not one per item', async () => {
    const b = await redisBackend(server.url, uniquePrefix());
    const probe = new Redis(server.url);
    const scriptCalls = async () => {
      const info = await probe.info('commandstats');
      const calls = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
      return calls('evalsha') + calls('eval');
    };
    try {
      const keys = Array.from({ length: 400 }, (_, i) => ({ ns: i % 2 ? 'a' : 'b', id: `https://x/${i}` }));
      let before = await scriptCalls();
      await b.cache.setMany(keys.map((key, i) => ({ key, entry: entry(i) })));
      expect((await scriptCalls()) - before).toBe(2);
      expect((await b.cache.getMany(keys)).map((e) => e?.value)).toEqual(keys.map((_, i) => i));
      before = await scriptCalls();
      const res = await b.pending.addMany(keys.map((key, i) => ({ key, cbArgs: i, jobId: `j${i}` })));
      expect((await scriptCalls()) - before).toBe(2);
      expect(res.every((r) => r.first)).toBe(true);
      before = await scriptCalls();
      expect(await b.cache.deleteMany(keys)).toBe(400);
      expect((await scriptCalls()) - before).toBe(2);
    } finally {
      probe.disconnect();
      await b.close();
    }
  });
});

describe('connection URLs and failures', () => {
  it('an unreachable port fails fast with BackendUnavailableError naming the masked URL', async () => {
    const port = await freePort();
    const url = `redis://bob:topsecret@127.0.0.1:${port}/0`;
    const t0 = Date.now();
    const err = await openBackend({ broker: url }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as BackendUnavailableError).exitCode).toBe(3);
    expect((err as Error).message).toContain(`redis://bob:***@127.0.0.1:${port}/0`);
    expect((err as Error).message).not.toContain('topsecret');
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
  });

  it('an unreachable cache URL fails the same way', async () => {
    const port = await freePort();
    const err = await openBackend({ broker: 'memory:', cache: `redis://127.0.0.1:${port}` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toContain(`redis://127.0.0.1:${port}`);
  });

  it('parses redis, rediss and redis+sentinel URLs', () => {
    expect(parseRedisUrl('redis://u%40x:p%3Aw@h:7000/3')).toMatchObject({ host: 'h', port: 7000, db: 3, username: 'u@x', password: 'p:w' });
    expect(parseRedisUrl('redis://:pw@h')).toMatchObject({ host: 'h', port: 6379, password: 'pw' });
    expect(parseRedisUrl('redis://[::1]:6380')).toMatchObject({ host: '::1', port: 6380 });
    expect(parseRedisUrl('rediss://h:6380')).toMatchObject({ host: 'h', port: 6380, tls: {} });
    expect(parseRedisUrl('redis+sentinel://:pw@s1:26379,s2/mymaster/2?sentinelPassword=sp')).toMatchObject({
      sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }],
      name: 'mymaster',
      db: 2,
      password: 'pw',
      sentinelPassword: 'sp',
    });
    expect(() => parseRedisUrl('redis+sentinel://s1:26379')).toThrow(/master/);
    expect(() => parseRedisUrl('redis://h/notanumber')).toThrow(/database/);
  });

  describe('a password-protected server (requirepass and an ACL user)', () => {
    let secured: RedisServer;
    beforeAll(async () => {
      secured = await startRedisServer({ requirepass: 'default-secret', user: { name: 'alice', password: 'alice-secret' } });
    });
    afterAll(async () => secured?.stop());

    const base = () => `127.0.0.1:${secured.port}`;

    async function roundTrip(url: string) {
      const b = await openBackend({ broker: url, prefix: uniquePrefix() });
      try {
        await b.cache.setMany([{ key: { ns: 'op', id: 'u' }, entry: entry('ok') }]);
        await b.queue.addMany([{ id: 'a1', data: { op: 'op', uri: 'u', kwargs: {} } }]);
        let ran = false;
        const c = b.queue.consume({ ops: ['op'], concurrency: () => 1, handler: async () => ((ran = true), done()) });
        await waitUntil(() => ran, 'the job to run on the protected server', 10_000);
        await c.stop();
        return (await b.cache.getMany([{ ns: 'op', id: 'u' }]))[0]?.value;
      } finally {
        await b.close();
      }
    }

    it('works with an ACL user and with the default user password', async () => {
      expect(await roundTrip(`redis://alice:alice-secret@${base()}`)).toBe('ok');
      expect(await roundTrip(`redis://:default-secret@${base()}`)).toBe('ok');
    });

    it('without credentials: a clear error that says a password is required', async () => {
      const err = await openBackend({ broker: `redis://${base()}` }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackendUnavailableError);
      expect((err as Error).message).toMatch(/requires a password/);
      expect((err as Error).message).toContain(`redis://${base()}`);
      expect((err as BackendUnavailableError).hint).toMatch(/redis:\/\/USER:PASSWORD@/);
    });

    it('with a wrong password: a clear error that never shows the password', async () => {
      for (const url of [`redis://alice:wrong-secret@${base()}`, `redis://:wrong-secret@${base()}`]) {
        const err = await openBackend({ broker: url }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(BackendUnavailableError);
        expect((err as Error).message).toMatch(/refused the credentials/);
        expect((err as Error).message).not.toContain('wrong-secret');
        expect(JSON.stringify({ ...(err as object), message: (err as Error).message })).not.toContain('wrong-secret');
      }
    });
  });

  it('rediss:// connects over TLS (a throwaway CA trusted through NODE_EXTRA_CA_CERTS)', async () => {
    const tls = makeTlsFiles();
    const s = await startRedisServer({ tls, requirepass: 'tls-secret' });
    try {
      const c = child(['roundtrip', s.tlsUrl!, uniquePrefix(), 'op'], { NODE_EXTRA_CA_CERTS: tls.caFile });
      const code = await c.exited;
      expect(code, c.stderr()).toBe(0);
      expect(c.lines.at(-1)).toMatchObject({
        value: { ok: 1 },
        job: { state: 'completed', result: { cbArgs: [42] }, op: 'op', uri: 'https://x/tls' },
        describe: { broker: `rediss://:***@127.0.0.1:${s.tlsPort}` },
      });
      // Without trusting the CA, opening fails with a clear error (not a hang).
      const err = await openBackend({ broker: s.tlsUrl! }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackendUnavailableError);
      expect((err as Error).message).toContain(`rediss://:***@127.0.0.1:${s.tlsPort}`);
    } finally {
      await s.stop();
      rmSync(tls.dir, { recursive: true, force: true });
    }
  });

  it('redis+sentinel:// finds the master through a sentinel', async () => {
    const sentinel = await startRedisSentinel({ host: server.host, port: server.port }, 'mymaster');
    try {
      const prefix = uniquePrefix();
      const b = await openBackend({ broker: sentinel.url, prefix });
      try {
        await b.cache.setMany([{ key: { ns: 'op', id: 'via-sentinel' }, entry: entry(7) }]);
        expect((await b.cache.getMany([{ ns: 'op', id: 'via-sentinel' }]))[0]?.value).toBe(7);
        // It is the same master the plain URL reaches.
        expect(await raw.get(new RedisKeys(prefix).entry(`{${prefix}:op}`, hashId('via-sentinel')))).toMatch(/\|via-sentinel7$/);
        await b.queue.addMany([{ id: 's1', data: { op: 'op', uri: 'u', kwargs: {} } }]);
        let ran = false;
        const c = b.queue.consume({ ops: ['op'], concurrency: () => 1, handler: async () => ((ran = true), done()) });
        await waitUntil(() => ran, 'the job to run through sentinel', 10_000);
        await c.stop();
      } finally {
        await b.close();
      }
      const port = await freePort();
      const err = await openBackend({ broker: `redis+sentinel://127.0.0.1:${port}/mymaster` }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackendUnavailableError);
      expect((err as Error).message).toContain(`redis+sentinel://127.0.0.1:${port}/mymaster`);
    } finally {
      await sentinel.stop();
    }
  });
});

describe('BullMQ job queue', () => {
  let b: Backend;
  let prefix: string;
  beforeAll(async () => {
    prefix = uniquePrefix();
    b = await openBackend({ broker: server.url, prefix });
  });
  afterAll(async () => b?.close());

  it('a retry keeps the BullMQ job id, updates kwargs and increments attempt; completion keeps a small marker', async () => {
    await b.queue.addMany([{ id: 'retry-me', data: { op: 'r', uri: 'https://x/r', kwargs: { n: 0 } } }]);
    const runs: ClaimedJob[] = [];
    const states: string[] = [];
    const c = b.queue.consume({
      ops: ['r'],
      concurrency: () => 1,
      handler: async (j) => {
        runs.push(j);
        if (j.attempt < 3) return { type: 'retry', delayMs: 300, kwargs: { n: j.attempt } };
        return done('who', 'd1');
      },
    });
    await waitUntil(() => runs.length >= 1, 'first run');
    await waitUntil(async () => (await b.queue.getState('retry-me')).state !== 'active', 'the retry to be recorded');
    states.push((await b.queue.getState('retry-me')).state);
    await waitUntil(async () => (await b.queue.getState('retry-me')).state === 'completed', 'completion');
    await c.stop();
    expect(states).toEqual(['delayed']);
    expect(runs.map((r) => [r.id, r.attempt, r.stalls, r.data.kwargs.n])).toEqual([
      ['retry-me', 1, 0, 0],
      ['retry-me', 2, 0, 1],
      ['retry-me', 3, 0, 2],
    ]);
    // One BullMQ job throughout, under our id.
    const q = new Queue('jobs', { connection: raw, prefix: `{${prefix}:r}` });
    const job = await q.getJob('retry-me');
    expect(job?.attemptsStarted).toBe(3);
    expect(job?.data).toEqual({ op: 'r', uri: 'https://x/r', kwargs: { n: 2 } });
    expect(job?.returnvalue).toEqual({ backache: 1, cbArgs: ['who'], deliveryId: 'd1' });
    expect(await q.getJobState('retry-me')).toBe('completed');
    expect(await q.count()).toBe(0);
    await q.close();
    expect(await b.queue.getState('retry-me')).toEqual({ state: 'completed', result: { cbArgs: ['who'], deliveryId: 'd1' }, op: 'r', uri: 'https://x/r' });
  });

  it('a job BullMQ already holds under an id is left alone by addMany', async () => {
    const q = new Queue('jobs', { connection: raw, prefix: `{${prefix}:same}` });
    await q.add('same', { op: 'same', uri: 'https://x/bull', kwargs: {} }, { jobId: 'by-bullmq' });
    await b.queue.addMany([
      { id: 'by-us', data: { op: 'same', uri: 'https://x/ours', kwargs: { k: 1 } } },
      { id: 'by-bullmq', data: { op: 'same', uri: 'https://x/other', kwargs: {} } },
    ]);
    const [ours, theirs] = await Promise.all([q.getJob('by-us'), q.getJob('by-bullmq')]);
    expect(ours?.data).toEqual({ op: 'same', uri: 'https://x/ours', kwargs: { k: 1 } });
    expect(ours?.name).toBe('same');
    expect(theirs?.data.uri).toBe('https://x/bull');
    expect(await q.getJobCounts('wait')).toEqual({ wait: 2 });
    await q.close();
  });

  it('finished jobs are kept to keepFinished.count, newest kept, whole job removed', async () => {
    const p = uniquePrefix();
    const small = await redisBackend(server.url, p, { keepFinished: { count: 5 } });
    try {
      const ids = Array.from({ length: 20 }, (_, i) => `t${String(i).padStart(2, '0')}`);
      await small.queue.addMany(ids.map((id) => ({ id, data: { op: 'trim', uri: `https://x/${id}`, kwargs: {} } })));
      let n = 0;
      const c = small.queue.consume({ ops: ['trim'], concurrency: () => 1, handler: async () => done(n++) });
      await waitUntil(async () => (await small.queue.getState('t19')).state === 'completed', 'all 20 completed');
      await c.stop();
      expect(await raw.zrange(`{${p}:trim}:jobs:completed`, 0, -1)).toEqual(['t15', 't16', 't17', 't18', 't19']);
      expect(await small.queue.getState('t00')).toEqual({ state: 'unknown' });
      expect(await raw.exists(`{${p}:trim}:jobs:t00`)).toBe(0);
      expect(n).toBe(20);
    } finally {
      await small.close();
    }
  });

  it('finished jobs older than keepFinished.age are removed when later ones finish', async () => {
    const p = uniquePrefix();
    const aged = await redisBackend(server.url, p, { keepFinished: { count: 100, ageMs: 1000 } });
    try {
      const c = aged.queue.consume({ ops: ['age'], concurrency: () => 3, handler: async () => done() });
      const add = (names: string[]) => aged.queue.addMany(names.map((id) => ({ id, data: { op: 'age', uri: id, kwargs: {} } })));
      await add(['old1', 'old2', 'old3']);
      await waitUntil(async () => (await aged.queue.getState('old3')).state === 'completed', 'the first three');
      await sleep(2100); // BullMQ compares ages in whole seconds
      await add(['new1', 'new2', 'new3']);
      await waitUntil(async () => (await aged.queue.getState('new3')).state === 'completed', 'the next three');
      await waitUntil(async () => (await aged.queue.getState('old1')).state === 'unknown', 'the old ones removed by age');
      await c.stop();
      expect(await raw.zrange(`{${p}:age}:jobs:completed`, 0, -1)).toEqual(expect.arrayContaining(['new1', 'new2', 'new3']));
      expect(await raw.exists(`{${p}:age}:jobs:old2`)).toBe(0);
    } finally {
      await aged.close();
    }
  });

  it('ids BullMQ would refuse (integers, colons) are kept as given', async () => {
    await b.queue.addMany([
      { id: '12345', data: { op: 'ids', uri: 'a', kwargs: {} } },
      { id: 'a:b:c:d', data: { op: 'ids', uri: 'b', kwargs: {} } },
      { id: '~tilde', data: { op: 'ids', uri: 'c', kwargs: {} } },
    ]);
    const seen: string[] = [];
    const c = b.queue.consume({ ops: ['ids'], concurrency: () => 3, handler: async (j) => (seen.push(j.id), done(j.data.uri)) });
    await waitUntil(() => seen.length >= 3, 'three jobs');
    await waitUntil(async () => (await b.queue.getState('a:b:c:d')).state === 'completed', 'recorded');
    await c.stop();
    expect(seen.sort()).toEqual(['12345', '~tilde', 'a:b:c:d'].sort());
    expect(await b.queue.getState('a:b:c:d')).toMatchObject({ state: 'completed', result: { cbArgs: ['b'] }, uri: 'b' });
    const recent = await b.queue.recent!('ids', 10);
    expect(recent.map((r) => r.id).sort()).toEqual(['12345', '~tilde', 'a:b:c:d'].sort());
    expect(recent.every((r) => r.state === 'completed')).toBe(true);
  });

  it('one consumer serves several operations, each with its own concurrency and rate limit', async () => {
    const p = uniquePrefix();
    const be = await openBackend({ broker: server.url, prefix: p });
    try {
      const ops = { fast: 4, slow: 1 };
      await be.queue.addMany([
        ...Array.from({ length: 8 }, (_, i) => ({ id: `f${i}`, data: { op: 'fast', uri: `f${i}`, kwargs: {} } })),
        ...Array.from({ length: 6 }, (_, i) => ({ id: `s${i}`, data: { op: 'slow', uri: `s${i}`, kwargs: {} } })),
      ]);
      const active = { fast: 0, slow: 0 };
      const peak = { fast: 0, slow: 0 };
      const startedAt: Record<string, number[]> = { fast: [], slow: [] };
      let finished = 0;
      const c = be.queue.consume({
        ops: ['fast', 'slow'],
        concurrency: (op) => ops[op as keyof typeof ops],
        rateLimit: (op) => (op === 'slow' ? { max: 2, perMs: 400 } : undefined),
        handler: async (j) => {
          const op = j.data.op as keyof typeof ops;
          startedAt[op]!.push(Date.now());
          peak[op] = Math.max(peak[op], ++active[op]);
          await sleep(40);
          active[op]--;
          finished++;
          return done(j.id);
        },
      });
      await waitUntil(() => finished >= 14, 'all jobs of both operations');
      await c.stop();
      expect(peak.fast).toBeGreaterThanOrEqual(2);
      expect(peak.fast).toBeLessThanOrEqual(4);
      expect(peak.slow).toBe(1);
      // 6 jobs at 2 per 400 ms: the last starts at least ~800 ms after the first.
      expect(startedAt.slow!.at(-1)! - startedAt.slow![0]!).toBeGreaterThanOrEqual(700);
    } finally {
      await be.close();
    }
  });

  it('a rate-limited operation runs 20 times in a row without a stall', async () => {
    const p = uniquePrefix();
    const be = await openBackend({ broker: server.url, prefix: p });
    try {
      for (let round = 0; round < 20; round++) {
        const ids = Array.from({ length: 6 }, (_, i) => `r${round}-${i}`);
        await be.queue.addMany(ids.map((id) => ({ id, data: { op: 'limited', uri: id, kwargs: {} } })));
        const seen = new Set<string>();
        const c = be.queue.consume({
          ops: ['limited'],
          concurrency: () => 2,
          rateLimit: () => ({ max: 3, perMs: 100 }),
          handler: async (j) => (seen.add(j.id), done()),
        });
        await waitUntil(() => seen.size === ids.length, `round ${round}: every job of the rate-limited operation`, 10_000);
        await c.stop();
      }
      expect(await be.queue.counts('limited')).toEqual({ waiting: 0, active: 0, delayed: 0, paused: false });
    } finally {
      await be.close();
    }
  });

  it("a global rate limit and concurrency set through BullMQ's Queue are honoured", async () => {
    const p = uniquePrefix();
    const be = await openBackend({ broker: server.url, prefix: p });
    const q = new Queue('jobs', { connection: raw, prefix: `{${p}:glob}` });
    try {
      await q.setGlobalRateLimit(2, 400);
      await q.setGlobalConcurrency(1);
      await be.queue.addMany(Array.from({ length: 6 }, (_, i) => ({ id: `g${i}`, data: { op: 'glob', uri: `g${i}`, kwargs: {} } })));
      const startedAt: number[] = [];
      let active = 0;
      let peak = 0;
      const c = be.queue.consume({
        ops: ['glob'],
        concurrency: () => 4,
        handler: async () => {
          startedAt.push(Date.now());
          peak = Math.max(peak, ++active);
          await sleep(20);
          active--;
          return done();
        },
      });
      await waitUntil(() => startedAt.length === 6, 'all six jobs');
      await c.stop();
      expect(peak).toBe(1);
      expect(startedAt.at(-1)! - startedAt[0]!).toBeGreaterThanOrEqual(700);
    } finally {
      await q.close();
      await be.close();
    }
  });

  it('counts are O(1) and pause is global (seen by another connection)', async () => {
    const other = await openBackend({ broker: server.url, prefix });
    try {
      await b.queue.addMany(Array.from({ length: 5 }, (_, i) => ({ id: `c${i}`, data: { op: 'cnt', uri: `u${i}`, kwargs: {} }, priority: i })));
      await b.queue.addMany([{ id: 'cd', data: { op: 'cnt', uri: 'd', kwargs: {} }, delayMs: 60_000 }]);
      expect(await other.queue.counts('cnt')).toEqual({ waiting: 5, active: 0, delayed: 1, paused: false });
      await b.queue.pause('cnt');
      expect((await other.queue.counts('cnt')).paused).toBe(true);
      await other.queue.resume('cnt');
      expect((await b.queue.counts('cnt')).paused).toBe(false);
      // getState from another process (no local memory of the id) probes the known operations.
      expect(await other.queue.getState('cd')).toEqual({ state: 'delayed' });
      expect(await other.queue.getState('c3')).toEqual({ state: 'waiting' });
    } finally {
      await other.close();
    }
  });

  it("several consumers of one operation run every job exactly once, recorded in BullMQ's layout", async () => {
    const p = uniquePrefix();
    const backends = await Promise.all([0, 1, 2].map(() => openBackend({ broker: server.url, prefix: p })));
    try {
      const ids = Array.from({ length: 300 }, (_, i) => `m${i}`);
      await backends[0]!.queue.addMany(ids.map((id) => ({ id, data: { op: 'many', uri: `https://x/${id}`, kwargs: {} } })));
      const runs = new Map<string, number>();
      const consumers = backends.map((be) =>
        be.queue.consume({
          ops: ['many'],
          concurrency: () => 20,
          handler: async (j) => {
            runs.set(j.id, (runs.get(j.id) ?? 0) + 1);
            if (Math.random() < 0.3) await sleep(Math.random() * 5);
            return done(j.data.uri);
          },
        }),
      );
      await waitUntil(async () => (await raw.zcard(`{${p}:many}:jobs:completed`)) === 300, 'all 300 recorded as completed', 20_000);
      await Promise.all(consumers.map((c) => c.stop()));
      expect([...runs.values()].every((n) => n === 1)).toBe(true);
      expect(runs.size).toBe(300);
      expect(consumers.reduce((n, c) => n + c.processed, 0)).toBe(300);
      const q = new Queue('jobs', { connection: raw, prefix: `{${p}:many}` });
      expect(await q.getJobCounts('wait', 'active', 'completed', 'delayed', 'failed')).toEqual({ wait: 0, active: 0, completed: 300, delayed: 0, failed: 0 });
      const job = await q.getJob('m42');
      expect([job?.attemptsStarted, job?.attemptsMade, job?.finishedOn! >= job?.processedOn!]).toEqual([1, 1, true]);
      expect(job?.returnvalue).toEqual({ backache: 1, cbArgs: ['https://x/m42'], deliveryId: 'd' });
      expect(await raw.exists(`{${p}:many}:jobs:m42:lock`)).toBe(0);
      await q.close();
    } finally {
      await Promise.all(backends.map((be) => be.close()));
    }
  });

  it('an idle consumer blocks on the marker, wakes for new jobs, and stops at once, closing its connections', async () => {
    const p = uniquePrefix();
    const be = await openBackend({ broker: server.url, prefix: p });
    const clients = async () => String(await raw.client('LIST')).split('\n').filter(Boolean).length;
    try {
      const before = await clients();
      const seen: string[] = [];
      const c = be.queue.consume({ ops: ['idle'], concurrency: () => 2, handler: async (j) => (seen.push(j.id), done()) });
      await waitUntil(async () => String(await raw.client('LIST')).includes('cmd=bzpopmin'), 'the consumer to block on the marker');
      await be.queue.addMany([{ id: 'wake', data: { op: 'idle', uri: 'w', kwargs: {} } }]);
      await waitUntil(() => seen.includes('wake'), 'the new job');
      await c.stop(60_000); // nothing runs: returns without waiting for the blocking call
      await waitUntil(async () => (await clients()) === before, 'the consumer connections to close');
    } finally {
      await be.close();
    }
  });

  it('a holder whose lock vanished loses the lease: its signal aborts, its late outcome is dropped, the job runs again as a stall', async () => {
    const p = uniquePrefix();
    const be = await openBackend({ broker: server.url, prefix: p });
    try {
      await be.queue.addMany([{ id: 'lose-me', data: { op: 'lose', uri: 'https://x/lose', kwargs: {} } }]);
      let aborted: unknown;
      const runs: ClaimedJob[] = [];
      const c = be.queue.consume({
        ops: ['lose'],
        concurrency: () => 1,
        leaseMs: 400,
        handler: async (j, signal) => {
          runs.push(j);
          if (j.attempt > 1) return done('again');
          await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
          aborted = signal.reason;
          return done('late');
        },
      });
      await waitUntil(() => runs.length === 1, 'the first attempt to start');
      // As if the holder had stalled past its lease and the lock had expired.
      await raw.del(`{${p}:lose}:jobs:lose-me:lock`);
      await waitUntil(() => aborted !== undefined, 'the holder to learn it lost the lease');
      expect(String((aborted as Error)?.message)).toContain('lease lost');
      // BullMQ's stalled check puts the job back, and it runs again (here, on the same consumer).
      await waitUntil(async () => (await be.queue.getState('lose-me')).state === 'completed', 'the job to run again');
      await c.stop();
      expect(runs.map((r) => [r.attempt, r.stalls])).toEqual([
        [1, 0],
        [2, 1],
      ]);
      expect(await be.queue.getState('lose-me')).toMatchObject({ state: 'completed', result: { cbArgs: ['again'] } });
      expect(c.processed).toBe(1);
    } finally {
      await be.close();
    }
  });

  it('a consumer SIGKILLed mid-job: another consumer takes the job again (attempt 2, one stall) and completes it', async () => {
    const p = uniquePrefix();
    const mine = await openBackend({ broker: server.url, prefix: p });
    let victim: ChildProcess | undefined;
    try {
      await mine.queue.addMany([{ id: 'stall-me', data: { op: 'k', uri: 'https://x/k', kwargs: {} } }]);
      const c1 = child(['consume', server.url, p, 'k', '1000']);
      victim = c1.p;
      await waitUntil(() => c1.lines.some((l) => l.started === 'stall-me'), `the child to start the job (${c1.stderr()})`, 20_000);
      expect(c1.lines.find((l) => l.started)).toMatchObject({ attempt: 1, stalls: 0 });
      expect(await mine.queue.getState('stall-me')).toEqual({ state: 'active' });
      c1.p.kill('SIGKILL');
      await c1.exited;
      const taken: ClaimedJob[] = [];
      const c2 = mine.queue.consume({
        ops: ['k'],
        concurrency: () => 1,
        leaseMs: 1000,
        handler: async (j) => (taken.push(j), done('recovered')),
      });
      await waitUntil(async () => (await mine.queue.getState('stall-me')).state === 'completed', 'the stalled job to be completed');
      await c2.stop();
      expect(taken.map((j) => [j.id, j.attempt, j.stalls])).toEqual([['stall-me', 2, 1]]);
      expect(await mine.queue.getState('stall-me')).toMatchObject({ state: 'completed', result: { cbArgs: ['recovered'] } });
    } finally {
      victim?.kill('SIGKILL');
      await mine.close();
    }
  });
});

describe("what BullMQ's own tools see", () => {
  it('Queue and QueueEvents read backache jobs truthfully: completed with a small marker, quarantined as failed, the worker listed, progress kept', async () => {
    const p = uniquePrefix();
    const big = 'v'.repeat(200_000);
    const app = await createBackache({
      broker: server.url,
      prefix: p,
      operations: {
        ok: {
          run: async (_uri: string, ctx: { progress(n: number): void }) => {
            ctx.progress(50);
            return big;
          },
          onResult: async () => {},
        },
        bad: {
          run: async (_uri: string, ctx: { quarantine(details?: unknown): Error }) => {
            throw ctx.quarantine({ why: 'no' });
          },
        },
      },
    });
    const queues = { ok: new Queue('jobs', { connection: raw, prefix: `{${p}:ok}` }), bad: new Queue('jobs', { connection: raw, prefix: `{${p}:bad}` }) };
    // QueueEvents block on the events stream: BullMQ wants connections that wait through reconnects.
    const conn = new Redis(server.url, { maxRetriesPerRequest: null }); // each QueueEvents duplicates it
    const events = { ok: new QueueEvents('jobs', { connection: conn, prefix: `{${p}:ok}` }), bad: new QueueEvents('jobs', { connection: conn, prefix: `{${p}:bad}` }) };
    const seen: Record<string, unknown>[] = [];
    events.ok.on('completed', (e) => seen.push({ event: 'completed', ...e }));
    events.ok.on('progress', (e) => seen.push({ event: 'progress', ...e }));
    events.bad.on('failed', (e) => seen.push({ event: 'failed', ...e }));
    try {
      await Promise.all([events.ok.waitUntilReady(), events.bad.waitUntilReady()]);
      const okReq = await app.getOrDelegate('ok', 'https://x/ok', { cbArgs: { who: 1 } });
      const badReq = await app.getOrDelegate('bad', 'https://x/bad', { cbArgs: { who: 2 } });
      if (okReq.status !== 'delegated' || badReq.status !== 'delegated') throw new Error('expected two delegated requests');
      const rejected = app.waitFor(badReq.jobId, { timeout: 15_000 }).then(
        () => undefined,
        (e: Error) => e,
      );
      const w = app.startWorker({ concurrency: 2 });
      await waitUntil(async () => (await queues.ok.getWorkers()).length === 1 && (await queues.bad.getWorkers()).length === 1, "the worker in BullMQ's getWorkers");
      expect((await app.waitFor(okReq.jobId, { timeout: 15_000 })).value).toBe(big);
      const err = await rejected;
      await waitUntil(() => seen.length >= 3, 'the completed, progress and failed events');
      await w.stop();

      expect(await queues.ok.getJobCounts('completed', 'failed', 'active', 'wait')).toEqual({ completed: 1, failed: 0, active: 0, wait: 0 });
      expect(await queues.bad.getJobCounts('completed', 'failed', 'active', 'wait')).toEqual({ completed: 0, failed: 1, active: 0, wait: 0 });
      const okJob = await queues.ok.getJob(okReq.jobId);
      expect(await okJob!.getState()).toBe('completed');
      expect(okJob!.returnvalue).toEqual({ backache: 1, cbArgs: [{ who: 1 }], deliveryId: expect.any(String) });
      expect(JSON.stringify(okJob!.returnvalue).length).toBeLessThan(200); // the value is in the cache only
      expect(okJob!.progress).toBe(50);
      const badJob = await queues.bad.getJob(badReq.jobId);
      expect(await badJob!.getState()).toBe('failed');
      const item = await app.quarantine.get(badReq.jobId);
      expect(item).toMatchObject({ op: 'bad', cbArgs: [{ who: 2 }], details: { why: 'no' } });
      expect(badJob!.failedReason).toBe(item!.error.message);
      expect(err?.message).toContain(item!.error.message);
      expect(seen).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ event: 'progress', jobId: okReq.jobId, data: 50 }),
          expect.objectContaining({ event: 'completed', jobId: okReq.jobId, returnvalue: okJob!.returnvalue }),
          expect.objectContaining({ event: 'failed', jobId: badReq.jobId, failedReason: item!.error.message }),
        ]),
      );
      await waitUntil(async () => (await queues.ok.getWorkers()).length === 0, 'the stopped worker gone from getWorkers');
    } finally {
      await Promise.all([...Object.values(events), ...Object.values(queues)].map((x) => x.close()));
      conn.disconnect();
      await app.close();
    }
  });
});

describe('doctor', () => {
  it('says when an operation\'s queue was written by another BullMQ version than the pinned one', async () => {
    const p = uniquePrefix();
    const be = await openBackend({ broker: server.url, prefix: p });
    await be.queue.addMany([
      { id: 'v1', data: { op: 'mine', uri: 'u', kwargs: {} } },
      { id: 'v2', data: { op: 'theirs', uri: 'u', kwargs: {} } },
    ]);
    await be.close();
    const pinned = `bullmq:${JSON.parse(readFileSync(new URL('../../node_modules/bullmq/package.json', import.meta.url), 'utf8')).version}`;
    const agree = (await checkStoreUrl('broker', server.url, p)).find((c) => /BullMQ|bullmq/.test(c.message));
    expect(agree).toMatchObject({ status: 'ok', message: expect.stringContaining(`written by ${pinned}`) });
    // As an older BullMQ records itself in the queue's meta when its Queue opens.
    await raw.hset(`{${p}:theirs}:jobs:meta`, 'version', 'bullmq:5.81.5');
    const checks = await checkStoreUrl('broker', server.url, p);
    const w = checks.find((c) => c.status === 'warn' && /another BullMQ/.test(c.message));
    expect(w?.message).toContain('theirs (bullmq:5.81.5)');
    expect(w?.message).toContain(pinned);
    expect(w?.message).not.toContain('mine');
    expect(w?.hint).toMatch(/one backache version/);
    // Looking did not overwrite what it read.
    expect(await raw.hget(`{${p}:theirs}:jobs:meta`, 'version')).toBe('bullmq:5.81.5');
  });
});

describe('restarts', () => {
  it('a Redis restart (appendonly) keeps the data, and the backend reconnects by itself', async () => {
    const b = await openBackend({ broker: server.url, prefix: uniquePrefix() });
    try {
      await b.cache.setMany([{ key: { ns: 'op', id: 'before' }, entry: entry('kept') }]);
      await b.pending.addMany([{ key: { ns: 'op', id: 'p' }, cbArgs: 1, jobId: 'j1' }]);
      await b.queue.addMany([{ id: 'before-restart', data: { op: 'op', uri: 'u', kwargs: {} } }]);
      await sleep(1100); // appendfsync everysec
      await server.restart({ kill: true });
      // Scripts must be reloaded on the new server (EVALSHA → NOSCRIPT → EVAL), transparently.
      expect((await b.cache.getMany([{ ns: 'op', id: 'before' }]))[0]?.value).toBe('kept');
      expect(await b.pending.addMany([{ key: { ns: 'op', id: 'p' }, cbArgs: 2, jobId: 'j2' }])).toEqual([{ first: false, jobId: 'j1' }]);
      expect(await b.pending.takeAll({ ns: 'op', id: 'p' })).toEqual([1, 2]);
      let ran = false;
      const c = b.queue.consume({ ops: ['op'], concurrency: () => 1, handler: async () => ((ran = true), done()) });
      await waitUntil(() => ran, 'the job queued before the restart to run', 15_000);
      await c.stop();
    } finally {
      await b.close();
    }
  });

  it('commands issued while Redis is down complete once it is back', async () => {
    const b = await openBackend({ broker: server.url, prefix: uniquePrefix() });
    try {
      await server.kill();
      const pending = b.cache.setMany([{ key: { ns: 'op', id: 'during' }, entry: entry('late') }]);
      await sleep(500);
      await server.start();
      await pending;
      expect((await b.cache.getMany([{ ns: 'op', id: 'during' }]))[0]?.value).toBe('late');
    } finally {
      await b.close();
    }
  });
});
