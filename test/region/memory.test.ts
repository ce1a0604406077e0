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

describe('region l1 options', () => {
  it('a bad l1 option is refused before the store opens, as by createBackache: null, false, 0 bytes, half a byte', async () => {
    for (const l1 of [null, false, 0, 'yes', []]) await expect(createRegion({ store: 'redis://127.0.0.1:1', l1: l1 as never })).rejects.toThrow(/^l1 must be an object \{ maxEntries\?, maxBytes\? \}, got /);
    await expect(createRegion({ store: 'redis://127.0.0.1:1', l1: { maxBytes: 0.5 } })).rejects.toThrow(`l1.maxBytes 0.5: use a number of bytes or a size such as '64MB'`);
    await expect(createRegion({ store: 'redis://127.0.0.1:1', l1: { maxEntries: 0 } })).rejects.toThrow('l1.maxEntries 0: use a positive integer');
  });
});

