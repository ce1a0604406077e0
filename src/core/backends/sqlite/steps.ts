import { isFresh } from '../../entry.js';
import { newId } from '../../hash.js';
import type { ConsumeSteps, Key, StoredEntry } from '../../ports.js';
import { toEntry, type SqliteCacheStore } from './cache.js';
import type { SqliteHandle } from './db.js';
import type { SqliteLocker } from './locker.js';
import type { SqlitePendingSet } from './pending.js';

/**
 * The worker's steps on SQLite (ports.ts ConsumeSteps), each one write transaction shared
 * with every other write of the same event-loop turn (`writeSoon`): begin reads the entry
 * and, unless it is fresh, tries the lock; finish stores the entries, takes the pending
 * cbArgs and releases the lock. Two group commits per job instead of six, and no second
 * read of the entry after the lock (the read and the lock are one transaction).
 */
export class SqliteConsumeSteps implements ConsumeSteps {
  constructor(
    private readonly h: SqliteHandle,
    readonly cache: SqliteCacheStore,
    readonly locker: SqliteLocker,
    readonly pending: SqlitePendingSet,
  ) {}

  begin(key: Key, lockMs: number, force: boolean): Promise<{ entry: StoredEntry } | { token: string } | { busy: true }> {
    const token = newId();
    return this.h.writeSoon(() => {
      if (!force) {
        const r = this.cache.row(key);
        if (r) {
          const e = toEntry(r);
          if (isFresh(e, Date.now())) return { entry: e };
        }
      }
      return this.locker.take(key, token, lockMs) ? { token } : { busy: true as const };
    });
  }

  finish(key: Key, items: { key: Key; entry: StoredEntry }[], token: string | null): Promise<unknown[]> {
    return this.h.writeSoon(() => {
      this.cache.write(items);
      const cbArgs = this.pending.take(key);
      if (token) this.locker.drop(key, token);
      return cbArgs;
    });
  }
}
