import type { CacheStore } from '../../ports.js';
import { SqliteRegionSteps } from './region-steps.js';
import type { BrokerParts, BrokerSettings } from '../index.js';
import { SqliteCacheStore } from './cache.js';
import { acquireHandle, releaseHandle, sqlitePath } from './db.js';
import { SqliteLocker } from './locker.js';
import { SqlitePendingSet } from './pending.js';
import { SqliteJobQueue, type SqliteQueueOptions } from './queue.js';
import { SqliteQuarantineStore } from './quarantine.js';
import { SqliteRegistry } from './registry.js';
import { SqliteWorkerSteps } from './steps.js';

export { SqliteCacheStore, SqliteLocker, SqlitePendingSet, SqliteJobQueue, SqliteQuarantineStore, SqliteRegistry, SqliteWorkerSteps };
export { DEFAULT_SQLITE_PATH, prefixEnd, sqlitePath } from './db.js';

/** The engine's broker settings, and the queue's own knobs (tests), which win over them. */
export interface SqliteSettings extends BrokerSettings {
  queue?: SqliteQueueOptions;
}

/**
 * `sqlite:PATH` (relative to the working directory; parent directories are created, unless
 * `create: false`: then a missing file is a `NoStoreError`).
 * Every store holds one reference to the process-wide connection of that file; `close()`
 * closes the stores, and the connection goes with the last reference.
 * Throws `BackendUnavailableError` naming the path when the file cannot be opened.
 */
export async function sqliteBackend(url: string, prefix: string, settings: SqliteSettings = {}): Promise<BrokerParts> {
  const path = sqlitePath(url);
  const handle = acquireHandle(path, { create: settings.create });
  const parts = {
    cache: new SqliteCacheStore(acquireHandle(path), prefix),
    locker: new SqliteLocker(acquireHandle(path), prefix),
    pending: new SqlitePendingSet(acquireHandle(path), prefix),
    queue: new SqliteJobQueue(acquireHandle(path), prefix, queueOptions(settings)),
    quarantine: new SqliteQuarantineStore(acquireHandle(path), prefix),
    registry: new SqliteRegistry(acquireHandle(path), prefix),
  };
  releaseHandle(handle); // held only while the stores were opened; each holds its own
  return {
    ...parts,
    steps: new SqliteWorkerSteps(handle, prefix, parts.cache, parts.locker, parts.pending),
    regionSteps: new SqliteRegionSteps(handle, prefix, parts.cache, parts.locker),
    close: async () => {
      await Promise.all(Object.values(parts).map((s) => s.close()));
    },
  };
}

/**
 * Stalls need no interval here (`stalledIntervalMs` is for Redis): a claim also takes jobs
 * whose lease ran out.
 */
function queueOptions({ keepFinished, pollMs, queue }: SqliteSettings): SqliteQueueOptions {
  const o: SqliteQueueOptions = {};
  if (keepFinished?.count !== undefined) o.keepFinished = keepFinished.count;
  if (keepFinished?.ageMs !== undefined) o.keepFinishedMs = keepFinished.ageMs;
  if (pollMs !== undefined) o.pollMs = pollMs;
  return { ...o, ...queue };
}

/** A cache store alone (for `cache: 'sqlite:PATH'` next to another broker, or a region). */
export async function sqliteCacheStore(url: string, prefix: string, o: { create?: boolean } = {}): Promise<CacheStore> {
  return new SqliteCacheStore(acquireHandle(sqlitePath(url), o), prefix);
}
