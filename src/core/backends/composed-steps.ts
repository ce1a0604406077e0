import { isFresh, isServable } from '../entry.js';
import type { BeginResult, CacheStore, Delivery, Key, Locker, QuarantineItem, StoredEntry, WorkerSteps } from '../ports.js';

/**
 * The worker's steps when the cache lives in another store than the broker (`cache:
 * mongodb://…` beside a Redis or SQLite broker): the broker's own steps keep the delivery
 * records, locks and pending sets atomic, and the cache is read before and written before
 * them. An entry written and then lost to a crash before `finish` is simply written again
 * by the next run, so the order keeps every promise of WorkerSteps.
 */
export function composeSteps(broker: WorkerSteps, locker: Locker, cache: CacheStore): WorkerSteps {
  return {
    async begin(key: Key, jobId: string, runId: string, lockMs: number, force: boolean): Promise<BeginResult> {
      const [e] = await cache.getMany([key]);
      const now = Date.now();
      // With force, the broker's steps never look at its own cache: only records, runs and the lock.
      const got = await broker.begin(key, jobId, runId, lockMs, true);
      if ('busy' in got) return got;
      if ('delivery' in got) {
        const delivery: Delivery = got.delivery;
        return isServable(e, now) ? { delivery, entry: e, runs: got.runs } : { delivery, runs: got.runs };
      }
      if (!force && e && isFresh(e, now)) {
        if ('token' in got) await locker.release(key, got.token);
        return { entry: e, runs: got.runs };
      }
      return got;
    },
    end: (key: Key, jobId: string, runId: string) => broker.end(key, jobId, runId),
    async finish(key: Key, jobId: string, items: { key: Key; entry: StoredEntry }[], token: string | null) {
      if (items.length) await cache.setMany(items);
      return broker.finish(key, jobId, [], token);
    },
    quarantine: (key: Key, jobId: string, item: QuarantineItem, token: string | null) => broker.quarantine(key, jobId, item, token),
    settle: (key: Key, jobId: string) => broker.settle(key, jobId),
    records: (ns: string) => broker.records(ns),
  };
}
