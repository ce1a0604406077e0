import { freshAfter } from '../composed-region-steps.js';
import { newId } from '../../hash.js';
import type { Key, RegionSteps, StoredEntry } from '../../ports.js';
import type { MemoryCacheStore } from './cache.js';
import type { MemoryLocker } from './locker.js';

/** A region's steps over the memory store: each one synchronous, so atomic. */
export class MemoryRegionSteps implements RegionSteps {
  constructor(
    private readonly cache: MemoryCacheStore,
    private readonly locker: MemoryLocker,
  ) {}

  async lockOrRead(key: Key, ttlMs: number, after: number) {
    const entry = this.cache.read(key);
    if (freshAfter(entry, Date.now(), after)) return { token: null, entry };
    const token = newId();
    return { token: this.locker.take(key, token, ttlMs) ? token : null, entry };
  }

  async storeAndRelease(key: Key, token: string, entry: StoredEntry | undefined) {
    const ours = this.locker.drop(key, token);
    if (entry) this.cache.write([{ key, entry }]); // told on the feed by the write
    else this.cache.changes.tellKeys([key]); // waiters wake: one of them takes the lock
    return ours;
  }
}
