import type { CacheStore, Key, Locker, RegionSteps, StoredEntry } from '../ports.js';

/**
 * A region's steps from a locker and a cache that are not one store (a `cache:` URL beside
 * the broker, or a region over `{ cache, locker }`): two calls each instead of one. The
 * entry is read after the lock is taken, so an entry stored by the holder that released it
 * just before is seen, and no second creator runs.
 */
export function composeRegionSteps(locker: Locker, cache: CacheStore): RegionSteps {
  return {
    async lockOrRead(key: Key, ttlMs: number) {
      const token = await locker.acquire(key, ttlMs);
      const [entry] = await cache.getMany([key]);
      return { token, entry };
    },
    async storeAndRelease(key: Key, token: string, entry: StoredEntry | undefined) {
      if (entry) await cache.setMany([{ key, entry }]);
      return locker.release(key, token);
    },
  };
}
