import { ConfigError } from '../errors.js';
import type { Backend, CacheStore } from '../ports.js';
import { maskUrl, schemeOf } from '../url.js';
import { composeSteps } from './composed-steps.js';
import { composeRegionSteps } from './composed-region-steps.js';

/** The broker half of a backend: everything but (optionally) the cache. */
export type BrokerParts = Omit<Backend, 'describe' | 'close'> & { close(): Promise<void> };

/** What the engine tells a broker driver; each driver uses what applies to it. */
export interface BrokerSettings {
  /** Finished jobs kept for `getState`/`waitFor`: the newest `count`, none older than `ageMs`. */
  keepFinished?: { count?: number; ageMs?: number };
  /** How often an idle consumer looks for jobs (where the broker polls). */
  pollMs?: number;
  /** How often a consumer looks for stalled jobs (where the broker needs a look of its own). */
  stalledIntervalMs?: number;
  /** false: open only a store that exists (see BackendOptions.create). */
  create?: boolean;
}

/**
 * A store driver, found by URL scheme (dogpile's `register_backend`). Drivers load their
 * client library lazily inside these functions, so `better-sqlite3`, `ioredis`/`bullmq` and
 * `mongodb` are imported only when chosen.
 */
export interface StoreDriver {
  /** Jobs, locks, pending sets, quarantine, registry, and a cache. */
  broker?: (url: string, prefix: string, settings?: BrokerSettings) => Promise<BrokerParts>;
  /** A cache only (e.g. MongoDB). */
  cache?: (url: string, prefix: string, o?: { create?: boolean }) => Promise<CacheStore>;
}

const drivers = new Map<string, StoreDriver>();

/** Register (or replace) a driver for a URL scheme, e.g. `registerStore('memcached', {...})`. */
export function registerStore(scheme: string, driver: StoreDriver) {
  drivers.set(scheme.toLowerCase(), driver);
}

export const registeredStores = () => [...drivers.keys()];

registerStore('memory', {
  broker: async (url, prefix) => {
    const { memoryBackend } = await import('./memory/index.js');
    return memoryBackend(url, prefix);
  },
  cache: async (url, prefix) => {
    const { memoryBackend } = await import('./memory/index.js');
    return memoryBackend(url, prefix).cache;
  },
});

registerStore('sqlite', {
  broker: async (url, prefix, settings) => {
    const { sqliteBackend } = await import('./sqlite/index.js');
    return sqliteBackend(url, prefix, settings);
  },
  cache: async (url, prefix, o) => {
    const { sqliteCacheStore } = await import('./sqlite/index.js');
    return sqliteCacheStore(url, prefix, o);
  },
});

// Redis: BullMQ for jobs, ioredis for the rest; the cache alone when only `cache` points here.
for (const scheme of ['redis', 'rediss', 'redis+sentinel', 'redis+cluster', 'rediss+cluster']) {
  registerStore(scheme, {
    broker: async (url, prefix, settings) => {
      const { redisBackend } = await import('./redis/index.js');
      return redisBackend(url, prefix, settings);
    },
    cache: async (url, prefix) => {
      const { redisCache } = await import('./redis/index.js');
      return redisCache(url, prefix);
    },
  });
}

// MongoDB: a cache only (`cache: mongodb://…/db`).
for (const scheme of ['mongodb', 'mongodb+srv']) {
  registerStore(scheme, {
    cache: async (url, prefix) => {
      const { mongoCache } = await import('./mongodb/index.js');
      return mongoCache(url, prefix);
    },
  });
}

export const DEFAULT_BROKER = 'sqlite:.backache/backache.db';
export const DEFAULT_PREFIX = 'backache';

function driverFor(url: string, role: 'broker'): NonNullable<StoreDriver['broker']>;
function driverFor(url: string, role: 'cache'): NonNullable<StoreDriver['cache']>;
function driverFor(url: string, role: 'broker' | 'cache') {
  const scheme = schemeOf(url);
  const d = drivers.get(scheme);
  if (!d || !d[role]) {
    const known = [...drivers].filter(([, v]) => v[role]).map(([k]) => `${k}:`);
    throw new ConfigError(`${role} URL "${maskUrl(url)}" has no ${role} driver for "${scheme || '?'}:"; use one of ${known.join(', ')}`);
  }
  return d[role]!;
}

export interface BackendOptions {
  broker?: string;
  cache?: string;
  prefix?: string;
  settings?: BrokerSettings;
  /**
   * false: open only stores that exist, create none (read-only commands): a SQLite file
   * that is not there is a `NoStoreError` (exit 2) instead of a new empty database. Memory
   * and Redis have nothing to create and ignore it. Default true.
   */
  create?: boolean;
}

/** Open the stores of one deployment. The cache defaults to the broker's own store. */
export async function openBackend(opts: BackendOptions = {}): Promise<Backend> {
  const brokerUrl = opts.broker || DEFAULT_BROKER;
  const prefix = opts.prefix || DEFAULT_PREFIX;
  if (!/^[A-Za-z0-9_.:-]+$/.test(prefix)) throw new ConfigError(`prefix "${prefix}" may only contain letters, digits and _ . : -`);
  const create = opts.create !== false;
  const broker = await driverFor(brokerUrl, 'broker')(brokerUrl, prefix, create ? opts.settings : { ...opts.settings, create });
  let cache = broker.cache;
  const cacheUrl = opts.cache && opts.cache !== brokerUrl ? opts.cache : undefined;
  if (cacheUrl) {
    try {
      cache = await driverFor(cacheUrl, 'cache')(cacheUrl, prefix, { create });
    } catch (e) {
      await broker.close();
      throw e;
    }
  }
  return {
    ...broker,
    warnings: broker.warnings ?? [],
    cache,
    steps: cacheUrl ? composeSteps(broker.steps, broker.locker, cache) : broker.steps,
    regionSteps: cacheUrl ? composeRegionSteps(broker.locker, cache) : broker.regionSteps,
    describe: () => ({ broker: maskUrl(brokerUrl), cache: maskUrl(cacheUrl ?? brokerUrl) }),
    close: async () => {
      if (cacheUrl) await cache.close();
      await broker.close();
    },
  };
}
