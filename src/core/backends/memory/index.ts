import type { Backend } from '../../ports.js';
import { MemoryCacheStore } from './cache.js';
import { MemoryLocker } from './locker.js';
import { MemoryPendingSet } from './pending.js';
import { MemoryJobQueue } from './queue.js';
import { MemoryQuarantineStore } from './quarantine.js';
import { MemoryRegistry } from './registry.js';
import { MemoryWorkerSteps } from './steps.js';
import { MemoryRegionSteps } from './region-steps.js';

export { MemoryCacheStore, MemoryLocker, MemoryPendingSet, MemoryJobQueue, MemoryQuarantineStore, MemoryRegistry };

/**
 * `memory:` is one process-wide deployment per name (`memory:` and `memory:NAME`), so a
 * client and a worker created separately in one process share state, as they would
 * through a real broker. Each prefix is its own deployment.
 */
const instances = new Map<string, Omit<Backend, 'close' | 'describe'>>();

export function memoryBackend(url: string, prefix: string): Backend {
  const name = `${url}|${prefix}`;
  let parts = instances.get(name);
  if (!parts) {
    const cache = new MemoryCacheStore();
    const locker = new MemoryLocker();
    const pending = new MemoryPendingSet();
    parts = {
      cache,
      locker,
      pending,
      steps: new MemoryWorkerSteps(cache, locker, pending),
      regionSteps: new MemoryRegionSteps(cache, locker),
      queue: new MemoryJobQueue(),
      quarantine: new MemoryQuarantineStore(),
      registry: new MemoryRegistry(),
    };
    instances.set(name, parts);
  }
  return { ...parts, describe: () => ({ broker: url, cache: url }), close: async () => {} };
}
