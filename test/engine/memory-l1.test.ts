import { randomUUID } from 'node:crypto';
import { openBackend } from '../../src/core/backends/index.js';
import type { MemoryCacheStore } from '../../src/core/backends/memory/cache.js';
import { feedOfMemoryStore, FeedStore } from '../helpers/fake-feed.js';
import { describeEngineScenarios } from './scenarios.js';

// Every engine scenario with the L1 tier on: over the memory store's own change feed when
// it has one, else over one the test tells of the store's changes.
describeEngineScenarios('memory with l1', async () => {
  const broker = `memory:${randomUUID()}`;
  const real = await openBackend({ broker });
  const cache = real.cache.changes ? real.cache : new FeedStore(real.cache, feedOfMemoryStore(real.cache as MemoryCacheStore));
  return { broker, backend: { ...real, cache }, l1: {} };
});
