/**
 * A Redis user whose ACL allows no channels (Redis 7's default for new users): every write
 * still works; that deployment just has no change feed, so an L1 tier stays bypassed.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createBackache, createRegion } from '../../src/index.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

let redis: RedisServer;
let url: string;
beforeAll(async () => {
  redis = await startRedisServer();
  const admin = new Redis(redis.port);
  await admin.call('ACL', 'SETUSER', 'app', 'on', '>pw', '~*', '+@all', 'resetchannels');
  admin.disconnect();
  url = `redis://app:pw@127.0.0.1:${redis.port}`;
});
afterAll(async () => redis?.stop());

it('writes, getOrCreate, a worker and cleanup work without channel rights; l1 never comes up and serves nothing stale', async () => {
  const region = await createRegion({ store: url, name: `a${randomUUID().slice(0, 8)}`, l1: {} });
  const other = await createRegion({ store: url, name: region.ns.slice('region.'.length) });
  const app = await createBackache({ operations: { upper: async (u: string) => u.toUpperCase() }, broker: url, prefix: `a${randomUUID().slice(0, 8)}` });
  try {
    await region.set('k', 1);
    expect(await region.get('k')).toBe(1);
    expect(await region.getOrCreate('n', () => 'made')).toBe('made');
    await other.set('k', 2); // another writer: with no feed, this region's L1 must not hold the old value
    expect(await region.get('k')).toBe(2);
    expect(region.l1Stats()).toMatchObject({ up: false, entries: 0 });
    const w = app.startWorker({ concurrency: 1 });
    expect(await app.call('upper', 'abc', { timeout: 10_000 })).toBe('ABC');
    await w.stop();
    await app.cleanup();
    expect(await app.get('upper', 'abc')).toBeUndefined();
  } finally {
    await app.close();
    await other.close();
    await region.close();
  }
});
