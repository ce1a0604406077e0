/**
 * One contender of bench/region.ts, in a process of its own, driven by the coordinator over
 * the IPC channel (one message at a time, each answered once):
 *
 *   { type: 'setup', mode }         connect, write the 1,000 cached keys (throughput mode),
 *                                   warm the connections; answers what this contender can run
 *   { type: 'run', task, ms }       run `task` for `ms` milliseconds, answer items per second
 *   { type: 'stampede', … }         at the agreed instant, `callers` concurrent getOrCreate of
 *                                   one key whose creator INCRs a counter and sleeps 50 ms;
 *                                   answer the instant the last caller had its value
 *   { type: 'close' }
 *
 * Contenders: raw (ioredis, `new Redis(port, host)` with default options), backache (a region
 * and an engine over the same Redis), backache-l1 (the same with `l1`, when this build has
 * it), cache-manager (7, with @keyv/redis), bentocache (1.6, Redis only), bentocache-l1
 * (1.6 with its memory tier and Redis bus).
 *
 * Run by bench/region.ts: node --import tsx bench/region-worker.ts CONTENDER REDIS_URL
 */
import { Redis } from 'ioredis';
import type { Backache, BackacheOptions, Region, RegionOptions } from '../src/index.js';
import { loadLibrary } from './lib.js';

export type Task = 'get1' | 'get100' | 'getMany' | 'bulk' | 'miss100';
export type ContenderName = 'raw' | 'backache' | 'backache-l1' | 'cache-manager' | 'bentocache' | 'bentocache-l1';

export type Request =
  | { type: 'setup'; mode: 'throughput' | 'stampede' }
  | { type: 'run'; task: Task; ms: number }
  | { type: 'stampede'; key: string; counter: string; at: number; callers: number; creatorMs: number }
  | { type: 'close' };

export type Reply =
  | { ok: true; tasks?: Partial<Record<Task, string | true>>; perSecond?: number; start?: number; end?: number }
  | { ok: false; error: string };

/** The cached keys every read row reads: small enough to be hot in an L1 of 10,000 entries. */
export const HOT = 1000;
/** Lifetime of what the miss and stampede rows write, so that the server's memory stays bounded. */
const WRITE_TTL_MS = 30_000;
export const L1_OPTIONS = { maxEntries: 10_000 };

/** A value of about 200 bytes of JSON, recognisable by its id. */
interface Value {
  id: number;
  title: string;
  url: string;
  tags: string[];
  score: number;
  body: string;
}
const base = (id: number): Value => ({ id, title: `Title of item ${id}`, url: `https://example.com/items/${id}`, tags: ['alpha', 'beta', 'gamma'], score: id / 2, body: '' });
const PAD = 200 - JSON.stringify(base(500)).length;
export const value = (id: number): Value => ({ ...base(id), body: 'lorem ipsum dolor sit amet '.repeat(10).slice(0, PAD) });

const keys = Array.from({ length: HOT }, (_, i) => `item:${i}`);
const uris = Array.from({ length: HOT }, (_, i) => `https://example.com/items/${i}`);
const idOf = (v: unknown) => (v as Value | undefined)?.id;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const now = () => performance.timeOrigin + performance.now();

/** What one contender does; a missing member is a row this contender has no API for. */
interface Contender {
  get?(key: string): Promise<unknown>;
  getMany?(keys: string[]): Promise<unknown[]>;
  /** backache's engine: bulkGetOrDelegate of the (op, uri) requests of these URIs; the hits' values. */
  bulk?(uris: string[]): Promise<unknown[]>;
  getOrCreate?(key: string, create: () => Promise<Value>): Promise<unknown>;
  /** Tasks this contender would have but cannot run here, with the reason. */
  unavailable?: Partial<Record<Task, string>>;
  close(): Promise<void>;
}

const [name, url] = process.argv.slice(2) as [ContenderName, string];
const { hostname: host, port: portText } = new URL(url);
const port = Number(portText);
/** For the creators' INCR and for the L1 check; not the contender's own connection. */
const side = new Redis(port, host, { maxRetriesPerRequest: null });

/** Keys looked up by the server (keyspace hits + misses) while `fn` runs: 0 per read means an L1 answered. */
async function lookups(fn: () => Promise<unknown>) {
  const read = async () => {
    const s = await side.info('stats');
    return Number(/keyspace_hits:(\d+)/.exec(s)?.[1]) + Number(/keyspace_misses:(\d+)/.exec(s)?.[1]);
  };
  const before = await read();
  await fn();
  return (await read()) - before;
}

/**
 * Keys the server looks up per read once the keys are hot: `pass` reads `reads` keys; it runs
 * twice (an L1 fills, our own writes come back over the bus), then twice counted.
 */
async function lookupsPerRead(pass: () => Promise<unknown>, reads: number) {
  await pass();
  await sleep(300);
  await pass();
  await sleep(50);
  const n = await lookups(async () => {
    await pass();
    await pass();
  });
  return n / (2 * reads);
}

async function raw(fill: boolean): Promise<Contender> {
  const r = new Redis(port, host);
  const k = (key: string) => `raw:${key}`;
  const parse = (s: string | null) => (s === null ? undefined : (JSON.parse(s) as unknown));
  if (fill) await r.mset(...keys.flatMap((key, i) => [k(key), JSON.stringify(value(i))]));
  return {
    get: async (key) => parse(await r.get(k(key))),
    getMany: async (ks) => (await r.mget(ks.map(k))).map(parse),
    // The hand-written cache-aside: GET, and on a miss create and SET; no lock.
    async getOrCreate(key, create) {
      const got = await r.get(k(key));
      if (got !== null) return JSON.parse(got) as unknown;
      const v = await create();
      await r.set(k(key), JSON.stringify(v), 'PX', WRITE_TTL_MS);
      return v;
    },
    close: async () => void r.disconnect(),
  };
}

async function backache(fill: boolean, l1: boolean, withEngine: boolean): Promise<Contender> {
  const { createRegion, createBackache } = await loadLibrary();
  const tag = l1 ? 'bl1' : 'bk';
  const unavailable: Partial<Record<Task, string>> = {};
  const extra = l1 ? { l1: L1_OPTIONS } : {};
  // `l1` is being added to RegionOptions and BackacheOptions (issue 14): passed through a
  // cast, and its presence judged by what hot reads cost the server, not by the types.
  let region: Region | undefined;
  try {
    region = await createRegion({ store: url, name: 'bench', prefix: tag, ...extra } as RegionOptions);
  } catch (e) {
    if (!l1) throw e;
    for (const t of ['get1', 'get100', 'getMany', 'miss100'] as const) unavailable[t] = `createRegion with l1 failed: ${(e as Error).message}`;
  }
  if (region && fill) await region.setMany(Object.fromEntries(keys.map((key, i) => [key, value(i)])));
  let app: Backache | undefined;
  if (withEngine) {
    try {
      app = await createBackache({ operations: { title: async (uri: string) => value(Number(uri.slice(uri.lastIndexOf('/') + 1))) }, broker: url, prefix: `${tag}e`, ...extra } as BackacheOptions);
    } catch (e) {
      if (!l1) throw e;
      unavailable.bulk = `createBackache with l1 failed: ${(e as Error).message}`;
    }
    if (app && fill) {
      const createdAt = Date.now();
      await app.backend.cache.setMany(uris.map((uri, i) => ({ key: { ns: 'title', id: uri }, entry: { value: value(i), createdAt, expiresAt: null, staleUntil: null } })));
    }
  }
  const c: Contender = {
    unavailable,
    async close() {
      await region?.close();
      await app?.close();
    },
  };
  if (region) {
    const r = region;
    c.get = (key) => r.get(key);
    c.getMany = (ks) => r.getMany(ks);
    c.getOrCreate = (key, create) => r.getOrCreate(key, create, { ttl: WRITE_TTL_MS });
  }
  if (app) {
    const a = app;
    c.bulk = async (us) => {
      const res = await a.bulkGetOrDelegate(us.map((uri) => ({ op: 'title', uri })));
      if (res.delegated.length || res.errors.length) throw new Error(`bulkGetOrDelegate: ${res.delegated.length} delegated, ${res.errors.length} errors, expected only hits`);
      return res.hits.map((h) => h.value);
    };
  }
  if (l1 && fill) {
    if (c.get) {
      const sample = keys.slice(0, 100);
      const perRead = await lookupsPerRead(async () => {
        for (const key of sample) await c.get!(key);
      }, sample.length);
      if (perRead >= 0.5) {
        const why = `l1 not available: ${perRead.toFixed(1)} keys read by the server per region.get of a hot key`;
        for (const t of ['get1', 'get100', 'getMany'] as const) unavailable[t] = why;
        delete c.get;
        delete c.getMany;
      }
    }
    if (c.bulk) {
      const perRead = await lookupsPerRead(() => c.bulk!(uris), uris.length);
      const op = (await app!.stats()).ops.find((o) => o.op === 'title') as { l1Hits?: number } | undefined;
      if (perRead >= 0.5 && !(op?.l1Hits && op.l1Hits > 0)) {
        unavailable.bulk = `l1 not available: ${perRead.toFixed(1)} keys read by the server per request of a hot bulkGetOrDelegate`;
        delete c.bulk;
      }
    }
    delete c.getOrCreate; // not a row with l1
  }
  return c;
}

async function cacheManager(fill: boolean): Promise<Contender> {
  const { createCache } = await import('cache-manager');
  const { createKeyv } = await import('@keyv/redis');
  const cache = createCache({ stores: [createKeyv(url)] });
  const k = (key: string) => `cm:${key}`;
  if (fill) await cache.mset(keys.map((key, i) => ({ key: k(key), value: value(i) })));
  return {
    get: (key) => cache.get(k(key)),
    getMany: (ks) => cache.mget(ks.map(k)),
    // wrap: get, and on a miss create and set; concurrent callers of one process share one creator.
    getOrCreate: (key, create) => cache.wrap(k(key), create, WRITE_TTL_MS),
    close: async () => void (await cache.disconnect()),
  };
}

async function bentocache(fill: boolean, memoryTier: boolean): Promise<Contender> {
  const { BentoCache, bentostore } = await import('bentocache');
  const { redisDriver, redisBusDriver } = await import('bentocache/drivers/redis');
  const { memoryDriver } = await import('bentocache/drivers/memory');
  const store = memoryTier
    ? bentostore()
        .useL1Layer(memoryDriver({ maxItems: L1_OPTIONS.maxEntries }))
        .useL2Layer(redisDriver({ connection: { host, port } }))
        .useBus(redisBusDriver({ connection: { host, port } }))
    : bentostore().useL2Layer(redisDriver({ connection: { host, port } }));
  const bento = new BentoCache({ default: 'cache', prefix: memoryTier ? 'bento-l1' : 'bento', stores: { cache: store } });
  if (fill) await Promise.all(keys.map((key, i) => bento.set({ key, value: value(i) })));
  const c: Contender = {
    get: (key) => bento.get({ key }),
    // getOrSet: concurrent callers of one process share one factory.
    getOrCreate: (key, create) => bento.getOrSet({ key, factory: create, ttl: WRITE_TTL_MS }),
    close: () => bento.disconnectAll(),
  };
  if (memoryTier) delete c.getOrCreate; // not a row with the memory tier
  return c;
}

async function open(mode: 'throughput' | 'stampede'): Promise<Contender> {
  const fill = mode === 'throughput';
  switch (name) {
    case 'raw':
      return raw(fill);
    case 'backache':
      return backache(fill, false, fill);
    case 'backache-l1':
      return backache(fill, true, fill);
    case 'cache-manager':
      return cacheManager(fill);
    case 'bentocache':
      return bentocache(fill, false);
    case 'bentocache-l1':
      return bentocache(fill, true);
  }
  throw new Error(`unknown contender ${String(name)}`);
}

/** Run `op` from `concurrency` loops until `ms` have passed; items (not calls) per second. */
async function timed(concurrency: number, ms: number, op: (seq: number) => Promise<number>) {
  let items = 0;
  let seq = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const n = await op(seq++);
        items += n;
      }
    }),
  );
  return items / ((performance.now() - t0) / 1000);
}

const checkAll = (vals: unknown[], n: number, what: string) => {
  let ok = 0;
  for (const v of vals) if (typeof idOf(v) === 'number') ok++;
  if (ok !== n) throw new Error(`${name} ${what}: ${ok} values of ${n}`);
  return n;
};

let missSeq = 0;
function taskBody(c: Contender, task: Task): (seq: number) => Promise<number> {
  switch (task) {
    case 'get1':
    case 'get100': {
      const get = c.get!;
      return async (seq: number) => {
        const i = seq % HOT;
        const v = await get(keys[i]!);
        if (idOf(v) !== i) throw new Error(`${name} get ${keys[i]}: ${JSON.stringify(v)?.slice(0, 80)}`);
        return 1;
      };
    }
    case 'getMany': {
      const getMany = c.getMany!;
      return async () => checkAll(await getMany(keys), HOT, 'getMany');
    }
    case 'bulk': {
      const bulk = c.bulk!;
      return async () => checkAll(await bulk(uris), HOT, 'bulkGetOrDelegate');
    }
    case 'miss100': {
      const getOrCreate = c.getOrCreate!;
      return async () => {
        const id = missSeq++;
        // A key no one has read or written: every call is a miss.
        const v = await getOrCreate(`miss:${process.pid}:${id}`, async () => value(id));
        if (idOf(v) !== id) throw new Error(`${name} getOrCreate miss: ${JSON.stringify(v)?.slice(0, 80)}`);
        return 1;
      };
    }
  }
}

const has = (c: Contender, t: Task) => (t === 'bulk' ? !!c.bulk : t === 'getMany' ? !!c.getMany : t === 'miss100' ? !!c.getOrCreate : !!c.get);
const concurrencyOf: Record<Task, number> = { get1: 1, get100: 100, getMany: 1, bulk: 1, miss100: 100 };

let contender: Contender | undefined;

async function handle(m: Request): Promise<Reply> {
  switch (m.type) {
    case 'setup': {
      contender = await open(m.mode);
      const tasks: Partial<Record<Task, string | true>> = { ...contender.unavailable };
      for (const t of Object.keys(concurrencyOf) as Task[]) if (has(contender, t)) tasks[t] = true;
      return { ok: true, tasks };
    }
    case 'run': {
      const c = contender!;
      if (!has(c, m.task)) throw new Error(`${name} cannot run ${m.task}`);
      return { ok: true, perSecond: await timed(concurrencyOf[m.task], m.ms, taskBody(c, m.task)) };
    }
    case 'stampede': {
      const c = contender!;
      const creator = async () => {
        await side.incr(m.counter);
        await sleep(m.creatorMs);
        return value(7);
      };
      // Both processes start at the same instant: sleep to just before it, then spin.
      await sleep(Math.max(0, m.at - now() - 2));
      while (now() < m.at);
      const start = now();
      const vals = await Promise.all(Array.from({ length: m.callers }, () => c.getOrCreate!(m.key, creator)));
      const end = now();
      for (const v of vals) if (idOf(v) !== 7) throw new Error(`${name} stampede: a caller got ${JSON.stringify(v)?.slice(0, 80)}`);
      return { ok: true, start, end };
    }
    case 'close':
      await contender?.close();
      side.disconnect();
      setImmediate(() => process.exit(0));
      return { ok: true };
  }
}

process.on('message', (m: Request) => {
  handle(m).then(
    (r) => process.send!(r),
    (e: Error) => process.send!({ ok: false, error: e.stack ?? String(e) } satisfies Reply),
  );
});
process.send!({ ok: true } satisfies Reply); // ready
