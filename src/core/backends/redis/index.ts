import { Redis } from 'ioredis';
import type { CacheStore } from '../../ports.js';
import type { BrokerParts } from '../index.js';
import { RedisCacheStore } from './cache.js';
import { closeRedis, openRedis, workerConnectionOptions } from './connection.js';
import { RedisKeys } from './keys.js';
import { RedisLocker } from './locker.js';
import { RedisPendingSet } from './pending.js';
import { RedisQuarantineStore } from './quarantine.js';
import { RedisJobQueue, type RedisQueueOptions } from './queue.js';
import { RedisRegistry } from './registry.js';
import { RedisConsumeSteps } from './steps.js';

export { RedisCacheStore, RedisJobQueue, RedisKeys, RedisLocker, RedisPendingSet, RedisQuarantineStore, RedisRegistry };
export { parseRedisUrl, RedisAuthError, connectError } from './connection.js';

export interface RedisBackendOptions {
  queue?: Omit<RedisQueueOptions, 'workerConnection'>;
  connectTimeoutMs?: number;
}

/**
 * The Redis broker (`redis://`, `rediss://`, `redis+sentinel://`): ioredis for the cache,
 * locks, pending sets, quarantine and registry (one shared connection, Lua scripts for
 * every atomic step), BullMQ for jobs. Fails fast with a `BackendUnavailableError` when
 * Redis cannot be reached or refuses the credentials.
 */
export async function redisBackend(url: string, prefix: string, opts: RedisBackendOptions = {}): Promise<BrokerParts> {
  const client = await openRedis(url, { connectTimeoutMs: opts.connectTimeoutMs });
  const keys = new RedisKeys(prefix);
  const queue = new RedisJobQueue(client, keys, {
    ...opts.queue,
    workerConnection: () => new Redis(workerConnectionOptions(url)),
  });
  const cache = new RedisCacheStore(client, keys);
  const locker = new RedisLocker(client, keys);
  const pending = new RedisPendingSet(client, keys);
  let closed = false;
  return {
    cache,
    locker,
    pending,
    steps: new RedisConsumeSteps(client, keys, cache, locker, pending),
    queue,
    quarantine: new RedisQuarantineStore(client, keys),
    registry: new RedisRegistry(client, keys),
    async close() {
      if (closed) return;
      closed = true;
      await queue.close();
      await closeRedis(client);
    },
  };
}

/** A Redis cache on its own connection (`cache: redis://…` next to another broker). */
export async function redisCache(url: string, prefix: string, opts: { connectTimeoutMs?: number } = {}): Promise<CacheStore> {
  const client = await openRedis(url, opts);
  return new RedisCacheStore(client, new RedisKeys(prefix), () => closeRedis(client));
}
