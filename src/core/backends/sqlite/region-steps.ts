import { freshAfter } from '../composed-region-steps.js';
import { newId } from '../../hash.js';
import type { Key, RegionSteps, StoredEntry } from '../../ports.js';
import { toEntry, type SqliteCacheStore } from './cache.js';
import type { SqliteHandle } from './db.js';
import type { SqliteLocker } from './locker.js';
import { recordChanges } from './changes.js';

/** A region's steps on SQLite: a fresh entry is read without a write transaction; the rest is one. */
export class SqliteRegionSteps implements RegionSteps {
  constructor(
    private readonly h: SqliteHandle,
    private readonly prefix: string,
    private readonly cache: SqliteCacheStore,
    private readonly locker: SqliteLocker,
  ) {}

  private entry(key: Key, now: number) {
    const r = this.cache.row(key);
    return r && (r.stale_until === null || r.stale_until > now) ? toEntry(r) : undefined;
  }

  async lockOrRead(key: Key, ttlMs: number, after: number) {
    const seen = this.entry(key, Date.now());
    if (freshAfter(seen, Date.now(), after)) return { token: null, entry: seen };
    const token = newId();
    return this.h.writeSoon(() => {
      const now = Date.now();
      const entry = this.entry(key, now);
      if (freshAfter(entry, now, after)) return { token: null, entry };
      return { token: this.locker.take(key, token, ttlMs) ? token : null, entry };
    });
  }

  async storeAndRelease(key: Key, token: string, entry: StoredEntry | undefined) {
    return this.h.writeSoon(() => {
      if (entry) this.cache.write([{ key, entry }]); // logged on the feed by the write
      else recordChanges(this.h, this.prefix, [key]); // waiters wake: one of them takes the lock
      return this.locker.drop(key, token);
    });
  }
}
