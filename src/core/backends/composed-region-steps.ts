import { isFresh } from '../entry.js';
import type { CacheStore, Key, Locker, RegionSteps, StoredEntry } from '../ports.js';

/** RegionSteps.lockOrRead's test of an entry that needs no lock. */
export const freshAfter = (e: StoredEntry | undefined, now: number, after: number): e is StoredEntry => !!e && e.createdAt > after && isFresh(e, now);

/**
 * A region's steps from a locker and a cache that are not one store (a `cache:` URL beside
 * the broker, or a region over `{ cache, locker }`): two or three calls each instead of one.
 * The entry is read after the lock is taken, so an entry stored by the holder that released
 * it just before is seen, and no second creator runs.
 */
export function composeRegionSteps(locker: Locker, cache: CacheStore): RegionSteps {
  return {
    async lockOrRead(key: Key, ttlMs: number, after: number) {
      const [before] = await cache.getMany([key]);
      if (freshAfter(before, Date.now(), after)) return { token: null, entry: before };
      const token = await locker.acquire(key, ttlMs);
      if (!token) return { token, entry: before };
      const [entry] = await cache.getMany([key]);
      if (freshAfter(entry, Date.now(), after)) {
        await locker.release(key, token);
        return { token: null, entry };
      }
      return { token, entry };
    },
    async storeAndRelease(key: Key, token: string, entry: StoredEntry | undefined) {
      if (entry) await cache.setMany([{ key, entry }]);
      return locker.release(key, token);
    },
  };
}
