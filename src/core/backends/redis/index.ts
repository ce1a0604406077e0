import type { CacheStore } from '../../ports.js';
import type { BrokerParts, BrokerSettings } from '../index.js';
import { RedisCacheStore } from './cache.js';
import { closeRedis, openRedis, workerConnection } from './connection.js';
import { evictionPolicies, evictionWarning, muteBullmqEvictionWarning } from './eviction.js';
import { RedisKeys } from './keys.js';
import { RedisLocker } from './locker.js';
import { RedisPendingSet } from './pending.js';
import { RedisQuarantineStore } from './quarantine.js';
import { RedisJobQueue } from './queue.js';
import { RedisRegistry } from './registry.js';
import { RedisWorkerSteps } from './steps.js';
import { declareLayouts, loadLayouts } from './layouts.js';
import { RedisRegionSteps } from './region-steps.js';

export { RedisCacheStore, RedisJobQueue, RedisKeys, RedisLocker, RedisPendingSet, RedisQuarantineStore, RedisRegistry, RedisWorkerSteps };
export { parseRedisUrl, parseClusterUrl, isClusterUrl, RedisAuthError, connectError, type RedisClient } from './connection.js';
export { queueVersions } from './versions.js';

export interface RedisBackendSettings extends BrokerSettings {
  /** How long opening may take before the backend counts as unreachable. */
  connectTimeoutMs?: number;
  /** Approximate bound of each operation's BullMQ events stream (default 1,000). */
  eventsMaxLen?: number;
}

/**
 * The Redis broker (`redis://`, `rediss://`, `redis+sentinel://`, `redis+cluster://`,
 * `rediss+cluster://`): ioredis (a `Cluster` for cluster URLs) for the cache,
 * locks, pending sets, delivery records, quarantine and registry (one shared connection,
 * Lua scripts for every atomic step), BullMQ's public Queue and Worker for jobs. Fails fast
 * with a `BackendUnavailableError` when Redis cannot be reached or refuses the credentials.
 * `settings`: finished jobs kept (`keepFinished`), BullMQ's stalled-job check period
 * (`stalledIntervalMs`; default lease / 4); `pollMs` does not apply (Workers block on Redis).
 */
export async function redisBackend(url: string, prefix: string, settings: RedisBackendSettings = {}): Promise<BrokerParts> {
  const client = await openRedis(url, { connectTimeoutMs: settings.connectTimeoutMs });
  // BullMQ's per-connection eviction warning is replaced by one of ours (see eviction.ts).
  const unmute = muteBullmqEvictionWarning();
  const evicts = await evictionPolicies(client).then(evictionWarning, () => undefined);
  const keys = new RedisKeys(prefix);
  const queue = new RedisJobQueue(client, keys, {
    keepFinished: settings.keepFinished,
    stalledIntervalMs: settings.stalledIntervalMs,
    eventsMaxLen: settings.eventsMaxLen,
    workerConnection: () => workerConnection(url),
  });
  const cache = new RedisCacheStore(client, keys);
  const locker = new RedisLocker(client, keys);
  const pending = new RedisPendingSet(client, keys);
  const steps = new RedisWorkerSteps(client, keys, locker, cache);
  const regionSteps = new RedisRegionSteps(client, keys);
  await loadLayouts(client, keys);
  keys.layouts.useLoader(() => loadLayouts(client, keys));
  let closed = false;
  return {
    cache,
    locker,
    pending,
    steps,
    regionSteps,
    queue,
    quarantine: new RedisQuarantineStore(client, keys),
    registry: new RedisRegistry(client, keys),
    declareShards: (shards) => declareLayouts(client, keys, shards),
    warnings: evicts ? [evicts] : [],
    async close() {
      if (closed) return;
      closed = true;
      await queue.close();
      steps.flush(); // settled records gathered for one DEL: sent before the connection goes
      await cache.close(); // its reader connection
      await closeRedis(client);
      unmute();
    },
  };
}

/** A Redis cache on its own connection (`cache: redis://…` next to another broker). */
export async function redisCache(url: string, prefix: string, opts: { connectTimeoutMs?: number } = {}): Promise<CacheStore> {
  const client = await openRedis(url, opts);
  return new RedisCacheStore(client, new RedisKeys(prefix), () => closeRedis(client));
}
