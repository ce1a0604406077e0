/**
 * Regions across real processes (test/fixtures/region-child.ts): one creator per key for
 * every process sharing a store, and (with `l1`) every process's L1 tier kept coherent.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { startJsonChild, type JsonChild } from '../helpers/sqlite-child.js';

let redis: RedisServer;
const dir = mkdtempSync(join(tmpdir(), 'backache-region-proc-'));
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const stores: [string, () => string][] = [
  ['redis', () => redis.url],
  ['sqlite', () => `sqlite:${join(dir, `${randomUUID()}.db`)}`],
];

/**
 * Ask `child` until `done(answer)`; returns how long it took and every answer seen (to
 * check their order). Gives up after `limitMs` (the feed's bound is 100 ms: a wide margin).
 */
async function until<T>(child: JsonChild, cmd: Record<string, unknown>, done: (v: T) => boolean, limitMs = 2000) {
  const t0 = performance.now();
  const seen: T[] = [];
  for (;;) {
    const v = await child.send<T>(cmd);
    seen.push(v);
    if (done(v)) return { ms: performance.now() - t0, seen };
    if (performance.now() - t0 > limitMs) throw new Error(`not seen within ${limitMs} ms; answers: ${JSON.stringify(seen.slice(-5))}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Region child processes of one test, stopped after it. */
function useChildren() {
  const children: JsonChild[] = [];
  afterEach(async () => {
    await Promise.all(children.splice(0).map((c) => c.send({ cmd: 'stop' }).catch(() => c.child.kill('SIGKILL'))));
  });
  return async (store: string, name: string, opts: Record<string, unknown> = {}) => {
    const c = await startJsonChild('region-child.ts', [store, name, JSON.stringify(opts)]);
    children.push(c);
    return c;
  };
}

describe.each(stores)('regions across processes: %s', (kind, storeUrl) => {
  const start = useChildren();

  it('2 processes × 200 concurrent getOrCreate of one key: one creator, everyone gets its value', async () => {
    const store = storeUrl();
    const name = `s${randomUUID().slice(0, 8)}`;
    const [a, b] = await Promise.all([start(store, name), start(store, name)]);
    const counter = join(dir, `${name}.runs`);
    const cmd = { cmd: 'stampede', key: 'hot', callers: 200, creatorMs: 300, counter };
    const [va, vb] = await Promise.all([a.send<{ by: number }[]>(cmd), b.send<{ by: number }[]>(cmd)]);
    const runs = existsSync(counter) ? readFileSync(counter, 'utf8').split('\n').filter(Boolean) : [];
    expect(runs).toHaveLength(1);
    const creator = Number(runs[0]);
    expect([...va, ...vb]).toHaveLength(400);
    expect([...va, ...vb].every((v) => v.by === creator)).toBe(true);
    expect(await b.send({ cmd: 'get', key: 'hot' })).toEqual({ by: creator });
  });

  it('with l1: a set, a delete, soft and hard invalidation of the region, a template invalidation and a clear in A are seen by B in order, each within the feed\'s bound', async () => {
    const store = storeUrl();
    const name = `c${randomUUID().slice(0, 8)}`;
    const [a, b] = await Promise.all([start(store, name, { l1: {} }), start(store, name, { l1: {} })]);
    const timings: Record<string, number> = {};
    const get = { cmd: 'get', key: 'user:1' };
    // B holds a miss, then A's value, in its L1.
    expect(await b.send(get)).toBeNull();
    await until(b, { cmd: 'l1Stats' }, (s: { up: boolean }) => s.up);
    await a.send({ cmd: 'set', key: 'user:1', value: 'v1' });
    timings.set = (await until(b, get, (v) => v === 'v1')).ms;
    for (let i = 0; i < 3; i++) expect(await b.send(get)).toBe('v1'); // now from B's L1
    const hitsBefore = (await b.send<{ hits: number }>({ cmd: 'l1Stats' })).hits;
    expect(hitsBefore).toBeGreaterThanOrEqual(3);

    await a.send({ cmd: 'set', key: 'user:1', value: 'v2' });
    const second = await until(b, get, (v) => v === 'v2');
    timings.overwrite = second.ms;
    // Order: once v2 is seen, v1 never comes back.
    for (let i = 0; i < 5; i++) expect(await b.send(get)).toBe('v2');
    expect(second.seen.every((v) => v === 'v1' || v === 'v2')).toBe(true);

    await a.send({ cmd: 'invalidate', soft: true });
    timings.soft = (await until(b, { cmd: 'getEntry', key: 'user:1' }, (e: { stale: boolean } | null) => e?.stale === true)).ms;
    expect(await b.send(get)).toBeNull(); // get is fresh-only; the stale value stays servable
    expect(await b.send({ cmd: 'getEntry', key: 'user:1' })).toMatchObject({ value: 'v2', stale: true });

    await a.send({ cmd: 'set', key: 'user:1', value: 'v3' });
    timings.afterSoft = (await until(b, get, (v) => v === 'v3')).ms;
    await a.send({ cmd: 'invalidate' });
    timings.hard = (await until(b, { cmd: 'getEntry', key: 'user:1' }, (e) => e === null)).ms;

    await a.send({ cmd: 'set', key: 'user:2', value: 'x' });
    await until(b, { cmd: 'get', key: 'user:2' }, (v) => v === 'x');
    await a.send({ cmd: 'invalidate', template: 'user:{id}' });
    timings.template = (await until(b, { cmd: 'get', key: 'user:2' }, (v) => v === null)).ms;

    await a.send({ cmd: 'set', key: 'user:3', value: 'y' });
    await until(b, { cmd: 'get', key: 'user:3' }, (v) => v === 'y');
    await a.send({ cmd: 'delete', key: 'user:3' });
    timings.delete = (await until(b, { cmd: 'get', key: 'user:3' }, (v) => v === null)).ms;

    await a.send({ cmd: 'set', key: 'user:4', value: 'z' });
    await until(b, { cmd: 'get', key: 'user:4' }, (v) => v === 'z');
    await a.send({ cmd: 'clear' });
    timings.clear = (await until(b, { cmd: 'get', key: 'user:4' }, (v) => v === null)).ms;

    // Each was seen well within the margin `until` allows; the figures go to the log for the record.
    console.log(`${kind} l1 coherence, ms from A's reply to B's first sight:`, Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])));
    expect(Object.keys(timings)).toHaveLength(8);
  });

  it('with l1: a value created by getOrCreate in A replaces the miss B holds', async () => {
    const store = storeUrl();
    const name = `g${randomUUID().slice(0, 8)}`;
    const [a, b] = await Promise.all([start(store, name, { l1: {} }), start(store, name, { l1: {} })]);
    expect(await b.send({ cmd: 'get', key: 'hot' })).toBeNull();
    await until(b, { cmd: 'l1Stats' }, (s: { up: boolean }) => s.up);
    const counter = join(dir, `${name}.runs`);
    const [made] = await a.send<{ by: number }[]>({ cmd: 'stampede', key: 'hot', callers: 1, creatorMs: 1, counter });
    await until(b, { cmd: 'get', key: 'hot' }, (v: { by: number } | null) => v?.by === made!.by);
  });

});

describe('regions across processes: redis only', () => {
  const start = useChildren();

  it('with l1: a dropped feed connection empties L1; once back, changes are seen again', async () => {
    const store = redis.url;
    const name = `d${randomUUID().slice(0, 8)}`;
    const [a, b] = await Promise.all([start(store, name, { l1: {} }), start(store, name, { l1: {} })]);
    await a.send({ cmd: 'set', key: 'k', value: 'v1' });
    await until(b, { cmd: 'l1Stats' }, (s: { up: boolean }) => s.up);
    await until(b, { cmd: 'get', key: 'k' }, (v) => v === 'v1');
    expect((await b.send<{ entries: number }>({ cmd: 'l1Stats' })).entries).toBeGreaterThan(0);
    const { Redis } = await import('ioredis');
    const admin = new Redis(redis.port);
    try {
      const killed = await admin.client('KILL', 'TYPE', 'pubsub');
      expect(Number(killed)).toBeGreaterThanOrEqual(2); // a's and b's feed connections
      // b notices, empties its L1, resubscribes; nothing read in between, so it stays empty.
      await until(b, { cmd: 'l1Stats' }, (s: { entries: number }) => s.entries === 0);
      await until(b, { cmd: 'l1Stats' }, (s: { up: boolean }) => s.up);
      await a.send({ cmd: 'set', key: 'k', value: 'v2' });
      await until(b, { cmd: 'get', key: 'k' }, (v) => v === 'v2');
      for (let i = 0; i < 3; i++) expect(await b.send({ cmd: 'get', key: 'k' })).toBe('v2');
      await a.send({ cmd: 'set', key: 'k', value: 'v3' });
      await until(b, { cmd: 'get', key: 'k' }, (v) => v === 'v3');
    } finally {
      admin.disconnect();
    }
  });
});
