/**
 * The Redis broker against real redis-server processes started by the test helpers:
 * key layout, credentials, fail-fast opening, restarts, BullMQ retries and stalled-job
 * recovery after a SIGKILL, TLS and Sentinel URLs, and cleanup that touches nothing else.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/core/backends/index.js';
import { parseRedisUrl, redisBackend, RedisKeys } from '../../src/core/backends/redis/index.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { hashId } from '../../src/core/hash.js';
import type { Backend, ClaimedJob, QuarantineItem } from '../../src/core/ports.js';
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

describe('key layout', () => {
  it('every key is hash-tagged per operation (or per deployment) and contains no raw URI', async () => {
    const prefix = uniquePrefix();
    const b = await openBackend({ broker: server.url, prefix });
    try {
      const uri = 'https://example.com/some path/ü?q="x"&y={z}';
      const key = { ns: 'title', id: uri };
      await b.cache.setMany([{ key, entry: entry({ t: 1 }) }, { key: { ns: 'thumb', id: uri }, entry: entry(2) }]);
      await b.pending.addMany([{ key, cbArgs: { who: 1 }, jobId: 'job-a' }]);
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
      // The operation's BullMQ queue lives under the operation's tag.
      expect(keys).toContain(`{${prefix}:title}:jobs:job-a`);
      expect(keys.some((k) => k.startsWith(`{${prefix}:title}:jobs:`) && k.endsWith(':meta'))).toBe(true);
      // The raw URI is stored as data.
      const k = new RedisKeys(prefix);
      // (An entry is one STRING since the benchmark work: MGET reads a batch; see cache.ts encodeEntry.)
      expect(await raw.get(k.entry('title', uri))).toContain(`|${uri}`);
      expect(await raw.zrange(k.cacheIndex('title'), 0, -1)).toEqual([uri]);
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
      const ttl = await raw.pttl(k.entry('op', 'u/1'));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60);
      expect(await raw.pttl(k.entry('op', 'u/2'))).toBe(-1);
      await sleep(100);
      expect(await raw.exists(k.entry('op', 'u/1'))).toBe(0);
      expect(await raw.zcard(k.cacheIndex('op'))).toBe(3); // lazily cleaned
      const ids: string[] = [];
      for await (const id of b.cache.scan('op', 'u/', { batchSize: 1 })) ids.push(id);
      expect(ids).toEqual(['u/2', 'u/ü/3']);
      expect(await raw.zrange(k.cacheIndex('op'), 0, -1)).toEqual(['u/2', 'u/ü/3']);
      const unicode: string[] = [];
      for await (const id of b.cache.scan('op', 'u/ü')) unicode.push(id);
      expect(unicode).toEqual(['u/ü/3']);
      // An entry written already past its grace is not stored at all.
      await b.cache.setMany([{ key: { ns: 'op', id: 'u/4' }, entry: { value: 4, createdAt: 1, expiresAt: 1, staleUntil: 2 } }]);
      expect(await raw.exists(k.entry('op', 'u/4'))).toBe(0);
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
        const c = b.queue.consume({ ops: ['op'], concurrency: () => 1, handler: async () => ((ran = true), { type: 'completed', result: { value: 1, cbArgs: [] } }) });
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
        job: { state: 'completed', result: { value: 42 } },
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
        expect(await raw.get(new RedisKeys(prefix).entry('op', 'via-sentinel'))).toMatch(/\|via-sentinel7$/);
        await b.queue.addMany([{ id: 's1', data: { op: 'op', uri: 'u', kwargs: {} } }]);
        let ran = false;
        const c = b.queue.consume({ ops: ['op'], concurrency: () => 1, handler: async () => ((ran = true), { type: 'completed', result: { value: 1, cbArgs: [] } }) });
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

  it('a retry outcome keeps the BullMQ job id, updates kwargs and increments attempt', async () => {
    await b.queue.addMany([{ id: 'retry-me', data: { op: 'r', uri: 'https://x/r', kwargs: { n: 0 } } }]);
    const runs: ClaimedJob[] = [];
    const states: string[] = [];
    const c = b.queue.consume({
      ops: ['r'],
      concurrency: () => 1,
      handler: async (j) => {
        runs.push(j);
        if (j.attempt < 3) return { type: 'retry', delayMs: 300, kwargs: { n: j.attempt } };
        return { type: 'completed', result: { value: 'done', cbArgs: [] } };
      },
    });
    await waitUntil(() => runs.length >= 1, 'first run');
    await sleep(50);
    states.push((await b.queue.getState('retry-me')).state);
    await waitUntil(async () => (await b.queue.getState('retry-me')).state === 'completed', 'completion');
    await c.stop();
    expect(states).toEqual(['delayed']);
    expect(runs.map((r) => [r.id, r.attempt, r.data.kwargs.n])).toEqual([
      ['retry-me', 1, 0],
      ['retry-me', 2, 1],
      ['retry-me', 3, 2],
    ]);
    // One BullMQ job throughout, under our id.
    const q = new Queue('jobs', { connection: raw, prefix: `{${prefix}:r}` });
    const job = await q.getJob('retry-me');
    expect(job?.attemptsStarted).toBe(3);
    expect(job?.data.kwargs).toEqual({ n: 2 });
    expect(job?.returnvalue).toEqual({ backache: 'completed', result: { value: 'done', cbArgs: [] } });
    expect(await q.count()).toBe(0);
    await q.close();
    expect(await b.queue.getState('retry-me')).toEqual({ state: 'completed', result: { value: 'done', cbArgs: [] } });
  });

  it('standard jobs added by queue-add-8.lua read back through BullMQ like addBulk ones', async () => {
    const q = new Queue('jobs', { connection: raw, prefix: `{${prefix}:same}` });
    await q.addBulk([{ name: 'same', data: { op: 'same', uri: 'https://x/bull', kwargs: {} }, opts: { jobId: 'by-bullmq' } }]);
    await b.queue.addMany([
      { id: 'by-us', data: { op: 'same', uri: 'https://x/ours', kwargs: { k: 1 } } },
      { id: 'by-bullmq', data: { op: 'same', uri: 'https://x/other', kwargs: {} } }, // exists: left alone
    ]);
    const [ours, theirs] = await Promise.all([q.getJob('by-us'), q.getJob('by-bullmq')]);
    expect(ours?.data).toEqual({ op: 'same', uri: 'https://x/ours', kwargs: { k: 1 } });
    expect(theirs?.data.uri).toBe('https://x/bull');
    expect(ours?.opts).toEqual(theirs?.opts === undefined ? undefined : { ...theirs.opts, jobId: 'by-us' });
    expect([ours?.name, ours?.delay, ours?.priority]).toEqual([theirs?.name, theirs?.delay, theirs?.priority]);
    expect(await q.getJobState('by-us')).toBe('waiting');
    expect(await q.getJobCounts('wait')).toEqual({ wait: 2 });
    const events = (await raw.xrange(`{${prefix}:same}:jobs:events`, '-', '+')).map(([, f]) => `${f[1]}:${f[3]}`);
    expect(events).toEqual(['added:by-bullmq', 'waiting:by-bullmq', 'added:by-us', 'waiting:by-us']);
    await q.close();
  });

  it('finished jobs are trimmed to keepFinished.count in batches, newest kept, whole job removed', async () => {
    const p = uniquePrefix();
    const small = await redisBackend(server.url, p, { queue: { keepFinished: { count: 5, age: 3600 }, trimEvery: 4 } });
    try {
      const ids = Array.from({ length: 20 }, (_, i) => `t${String(i).padStart(2, '0')}`);
      await small.queue.addMany(ids.map((id) => ({ id, data: { op: 'trim', uri: `https://x/${id}`, kwargs: {} } })));
      let done = 0;
      const c = small.queue.consume({ ops: ['trim'], concurrency: () => 1, handler: async () => (done++, { type: 'completed', result: { value: null, cbArgs: [] } }) });
      await waitUntil(async () => (await small.queue.getState('t19')).state === 'completed', 'all 20 completed');
      await c.stop();
      // Trims ran after completions 4, 8, 12, 16 and 20 (each keeping 5): at most 5 + 3 remain.
      await waitUntil(async () => (await raw.zcard(`{${p}:trim}:jobs:completed`)) <= 8, 'trimmed');
      const kept = await raw.zrange(`{${p}:trim}:jobs:completed`, 0, -1);
      expect(kept.length).toBeGreaterThanOrEqual(5);
      expect(kept.slice(-5)).toEqual(['t15', 't16', 't17', 't18', 't19']);
      expect(await small.queue.getState('t00')).toEqual({ state: 'unknown' });
      expect(await raw.exists(`{${p}:trim}:jobs:t00`)).toBe(0);
      expect(done).toBe(20);
    } finally {
      await small.close();
    }
  });

  it('ids BullMQ would refuse (integers, colons) are kept as given', async () => {
    await b.queue.addMany([
      { id: '12345', data: { op: 'ids', uri: 'a', kwargs: {} } },
      { id: 'a:b:c:d', data: { op: 'ids', uri: 'b', kwargs: {} } },
      { id: '~tilde', data: { op: 'ids', uri: 'c', kwargs: {} } },
    ]);
    const seen: string[] = [];
    const c = b.queue.consume({ ops: ['ids'], concurrency: () => 3, handler: async (j) => (seen.push(j.id), { type: 'completed', result: { value: j.data.uri, cbArgs: [] } }) });
    await waitUntil(() => seen.length >= 3, 'three jobs');
    await c.stop();
    expect(seen.sort()).toEqual(['12345', '~tilde', 'a:b:c:d'].sort());
    expect(await b.queue.getState('a:b:c:d')).toMatchObject({ state: 'completed', result: { value: 'b' } });
    const recent = await b.queue.recent!('ids', 10);
    expect(recent.map((r) => r.id).sort()).toEqual(['12345', '~tilde', 'a:b:c:d'].sort());
    expect(recent.every((r) => r.state === 'completed')).toBe(true);
  });

  it('one consumer serves several operations, each with its own concurrency and rate limit', async () => {
    const ops = { fast: 4, slow: 1 };
    await b.queue.addMany([
      ...Array.from({ length: 8 }, (_, i) => ({ id: `f${i}`, data: { op: 'fast', uri: `f${i}`, kwargs: {} } })),
      ...Array.from({ length: 6 }, (_, i) => ({ id: `s${i}`, data: { op: 'slow', uri: `s${i}`, kwargs: {} } })),
    ]);
    const active = { fast: 0, slow: 0 };
    const peak = { fast: 0, slow: 0 };
    const startedAt: Record<string, number[]> = { fast: [], slow: [] };
    let finished = 0;
    const c = b.queue.consume({
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
        return { type: 'completed', result: { value: j.id, cbArgs: [] } };
      },
    });
    await waitUntil(() => finished >= 14, 'all jobs of both operations', 15_000);
    await c.stop();
    expect(peak.fast).toBeGreaterThanOrEqual(2);
    expect(peak.fast).toBeLessThanOrEqual(4);
    expect(peak.slow).toBe(1);
    // 6 jobs at 2 per 400 ms: the last starts at least ~800 ms after the first.
    expect(startedAt.slow!.at(-1)! - startedAt.slow![0]!).toBeGreaterThanOrEqual(700);
  });

  it('a global rate limit and concurrency set through BullMQ\'s Queue are honoured', async () => {
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
          return { type: 'completed', result: { value: null, cbArgs: [] } };
        },
      });
      await waitUntil(() => startedAt.length === 6, 'all six jobs', 15_000);
      await c.stop();
      expect(peak).toBe(1);
      // 6 jobs at 2 per 400 ms: the last starts at least ~800 ms after the first.
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

  it('several consumers of one operation run every job exactly once, recorded in BullMQ\'s layout', async () => {
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
            return { type: 'completed', result: { value: j.data.uri, cbArgs: [] } };
          },
        }),
      );
      await waitUntil(async () => (await raw.zcard(`{${p}:many}:jobs:completed`)) === 300, 'all 300 recorded as completed', 20_000);
      await Promise.all(consumers.map((c) => c.stop()));
      expect([...runs.values()].every((n) => n === 1)).toBe(true);
      expect(runs.size).toBe(300);
      expect(consumers.reduce((n, c) => n + c.processed, 0)).toBe(300);
      const q = new Queue('jobs', { connection: raw, prefix: `{${p}:many}` });
      expect(await q.getJobCounts('wait', 'active', 'completed', 'delayed')).toEqual({ wait: 0, active: 0, completed: 300, delayed: 0 });
      const job = await q.getJob('m42');
      expect([job?.attemptsStarted, job?.attemptsMade, job?.finishedOn! >= job?.processedOn!]).toEqual([1, 1, true]);
      expect(job?.returnvalue).toEqual({ backache: 'completed', result: { value: 'https://x/m42', cbArgs: [] } });
      expect(await raw.exists(`{${p}:many}:jobs:m42:lock`)).toBe(0);
      const events = await raw.xrange(`{${p}:many}:jobs:events`, '-', '+');
      // BullMQ's QueueEvents see the usual events (the stream is capped, so count the recent ones).
      const seen = new Set(events.map(([, f]) => f[1]));
      expect(['added', 'waiting', 'active', 'completed'].every((e) => seen.has(e))).toBe(true);
      await q.close();
    } finally {
      await Promise.all(backends.map((be) => be.close()));
    }
  });

  it('finished jobs older than keepFinished.age are removed by the batch trims', async () => {
    const p = uniquePrefix();
    const aged = await redisBackend(server.url, p, { queue: { keepFinished: { count: 100, age: 1 }, trimEvery: 3 } });
    try {
      const ok = async () => ({ type: 'completed' as const, result: { value: null, cbArgs: [] } });
      const c = aged.queue.consume({ ops: ['age'], concurrency: () => 3, handler: ok });
      const add = (names: string[]) => aged.queue.addMany(names.map((id) => ({ id, data: { op: 'age', uri: id, kwargs: {} } })));
      await add(['old1', 'old2', 'old3']);
      await waitUntil(async () => (await aged.queue.getState('old3')).state === 'completed', 'the first three');
      await sleep(1200);
      await add(['new1', 'new2', 'new3']);
      await waitUntil(async () => (await aged.queue.getState('old1')).state === 'unknown', 'the old ones trimmed by age');
      await c.stop();
      expect(await raw.zrange(`{${p}:age}:jobs:completed`, 0, -1)).toEqual(expect.arrayContaining(['new1', 'new2', 'new3']));
      expect(await raw.exists(`{${p}:age}:jobs:old2`)).toBe(0);
    } finally {
      await aged.close();
    }
  });

  it('an idle consumer waits on the marker, wakes for new jobs, and stops at once, closing its connections', async () => {
    const p = uniquePrefix();
    const be = await openBackend({ broker: server.url, prefix: p });
    const clients = async () => String(await raw.client('LIST')).split('\n').filter(Boolean).length;
    try {
      const before = await clients();
      const seen: string[] = [];
      const c = be.queue.consume({ ops: ['idle'], concurrency: () => 2, handler: async (j) => (seen.push(j.id), { type: 'completed', result: { value: null, cbArgs: [] } }) });
      await waitUntil(async () => String(await raw.client('LIST')).includes('cmd=bzpopmin'), 'the consumer to block on the marker');
      await be.queue.addMany([{ id: 'wake', data: { op: 'idle', uri: 'w', kwargs: {} } }]);
      await waitUntil(() => seen.includes('wake'), 'the new job');
      await c.stop(60_000); // nothing runs: returns without waiting for the blocking call
      await waitUntil(async () => (await clients()) === before, 'the consumer connections to close');
    } finally {
      await be.close();
    }
  });

  it('a holder whose lock vanished loses the lease: its signal aborts, its late outcome is dropped, the job runs again', async () => {
    const p = uniquePrefix();
    const be = await openBackend({ broker: server.url, prefix: p });
    try {
      await be.queue.addMany([{ id: 'lose-me', data: { op: 'lose', uri: 'https://x/lose', kwargs: {} } }]);
      let aborted: unknown;
      const attempts: number[] = [];
      const c = be.queue.consume({
        ops: ['lose'],
        concurrency: () => 1,
        leaseMs: 400,
        handler: async (j, signal) => {
          attempts.push(j.attempt);
          if (j.attempt > 1) return { type: 'completed', result: { value: 'again', cbArgs: [] } };
          await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
          aborted = signal.reason;
          return { type: 'completed', result: { value: 'late', cbArgs: [] } };
        },
      });
      await waitUntil(() => attempts.length === 1, 'the first attempt to start');
      // As if the holder had stalled past its lease and the lock had expired.
      await raw.del(`{${p}:lose}:jobs:lose-me:lock`);
      await waitUntil(() => aborted !== undefined, 'the holder to learn it lost the lease');
      expect(String((aborted as Error)?.message)).toContain('lease lost');
      // The stalled check puts the job back, and it runs again (here, on the same consumer).
      await waitUntil(async () => (await be.queue.getState('lose-me')).state === 'completed', 'the job to run again', 10_000);
      await c.stop();
      expect(attempts).toEqual([1, 2]);
      expect(await be.queue.getState('lose-me')).toEqual({ state: 'completed', result: { value: 'again', cbArgs: [] } });
      expect(c.processed).toBe(1);
    } finally {
      await be.close();
    }
  });

  it('asked to begin, the take also returns each job\'s fresh entry or its pair lock', async () => {
    const p = uniquePrefix();
    const be = await openBackend({ broker: server.url, prefix: p });
    try {
      const k = (id: string) => ({ ns: 'pre', id });
      await be.cache.setMany([{ key: k('https://x/cached'), entry: entry('have') }]);
      const held = await be.locker.acquire(k('https://x/held'), 10_000);
      await be.queue.addMany([
        { id: 'j-cached', data: { op: 'pre', uri: 'https://x/cached', kwargs: {} } },
        { id: 'j-new', data: { op: 'pre', uri: 'https://x/new', kwargs: {} } },
        { id: 'j-held', data: { op: 'pre', uri: 'https://x/held', kwargs: {} } },
        { id: 'j-refresh', data: { op: 'pre', uri: 'https://x/cached', kwargs: {}, refresh: true } },
      ]);
      const seen = new Map<string, ClaimedJob['begun']>();
      const c = be.queue.consume({
        ops: ['pre'],
        concurrency: () => 4,
        begin: { lockMs: 5000 },
        handler: async (j) => (seen.set(j.id, j.begun), { type: 'completed', result: { value: null, cbArgs: [] } }),
      });
      await waitUntil(() => seen.size === 4, 'all four jobs');
      await c.stop();
      expect(seen.get('j-cached')).toMatchObject({ entry: { value: 'have', expiresAt: null } });
      const token = (seen.get('j-new') as { token: string }).token;
      expect(await raw.get(`{${p}:pre}:l:${hashId('https://x/new')}`)).toBe(token);
      expect(seen.get('j-held')).toBeUndefined(); // someone else's lock: the engine waits for it itself
      expect(seen.get('j-refresh')).toHaveProperty('token'); // a refresh skips the entry
      expect(await be.locker.release(k('https://x/held'), held!)).toBe(true);
    } finally {
      await be.close();
    }
  });

  it('a consumer SIGKILLed mid-job: another consumer takes the job again (attempt 2) and completes it', async () => {
    const p = uniquePrefix();
    const mine = await openBackend({ broker: server.url, prefix: p });
    let victim: ChildProcess | undefined;
    try {
      await mine.queue.addMany([{ id: 'stall-me', data: { op: 'k', uri: 'https://x/k', kwargs: {} } }]);
      const c1 = child(['consume', server.url, p, 'k', '1000']);
      victim = c1.p;
      await waitUntil(() => c1.lines.some((l) => l.started === 'stall-me'), `the child to start the job (${c1.stderr()})`, 20_000);
      expect(c1.lines.find((l) => l.started)).toMatchObject({ attempt: 1 });
      expect(await mine.queue.getState('stall-me')).toEqual({ state: 'active' });
      c1.p.kill('SIGKILL');
      await c1.exited;
      const t0 = Date.now();
      const taken: ClaimedJob[] = [];
      const c2 = mine.queue.consume({
        ops: ['k'],
        concurrency: () => 1,
        leaseMs: 1000,
        handler: async (j) => (taken.push(j), { type: 'completed', result: { value: 'recovered', cbArgs: [] } }),
      });
      await waitUntil(async () => (await mine.queue.getState('stall-me')).state === 'completed', 'the stalled job to be completed', 15_000);
      await c2.stop();
      expect(taken.map((j) => [j.id, j.attempt])).toEqual([['stall-me', 2]]);
      expect(Date.now() - t0).toBeLessThan(6000);
      expect(await mine.queue.getState('stall-me')).toEqual({ state: 'completed', result: { value: 'recovered', cbArgs: [] } });
    } finally {
      victim?.kill('SIGKILL');
      await mine.close();
    }
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
      const c = b.queue.consume({ ops: ['op'], concurrency: () => 1, handler: async () => ((ran = true), { type: 'completed', result: { value: 1, cbArgs: [] } }) });
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
