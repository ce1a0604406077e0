import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createRegion, registerStore } from '../../src/index.js';
import { MemoryCacheStore, MemoryLocker } from '../../src/core/backends/memory/index.js';
import { describeRegion } from './scenarios.js';

describeRegion('memory', async () => `memory:${randomUUID()}`);
describeRegion('memory, with l1', async () => `memory:${randomUUID()}`, { l1: {} });

describe('store registry', () => {
  it('users can register a store by scheme and regions find it by URL', async () => {
    const cache = new MemoryCacheStore();
    registerStore('mine', {
      broker: async () => ({ cache, locker: new MemoryLocker() }) as never,
    });
    const r = await createRegion({ store: 'mine://anything' });
    await r.set('k', 1);
    expect((await cache.getMany([{ ns: r.ns, id: 'k' }]))[0]?.value).toBe(1);
  });

  it('an unknown scheme says which ones exist', async () => {
    await expect(createRegion({ store: 'nope://x' })).rejects.toThrow(/no broker driver for "nope:"; use one of memory:, sqlite:/);
  });
});
