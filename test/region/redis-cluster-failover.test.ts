/**
 * A region on a Redis Cluster whose master is killed: once a replica took over, reads and
 * getOrCreate work again (with and without l1). A read of a region is two keys of two slots
 * (the entry and the region's invalidation marker), the case ioredis's auto-pipelining does
 * not recover from after a failover (redis/ioredis#2075): the reader must not use it.
 */
import { randomUUID } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRegion, type Region } from '../../src/index.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js';
import { sleep, waitUntil } from '../helpers/wait.js';

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicas: 1, nodeTimeoutMs: 1000 });
}, 60_000);
afterAll(async () => cluster?.stop());

const holds = (slots: string[], slot: number) =>
  slots.some((r) => {
    const [a, b = a] = r.split('-').map(Number);
    return slot >= a! && slot <= b!;
  });

it('SIGKILL the master holding a region (entry and marker): reads and getOrCreate come back, values kept', async () => {
  const prefix = `r${randomUUID().slice(0, 8)}`;
  const victim = cluster.masters()[0]!;
  // A region name whose entries and marker both live on the victim.
  let name = '';
  for (let i = 0; !name; i++) {
    const n = `f${i}`;
    if (holds(victim.slots, calculateSlot(`{${prefix}:region.${n}}`)) && holds(victim.slots, calculateSlot(`{${prefix}:region.${n}.meta}`))) name = n;
  }
  const regions: Region[] = [];
  try {
    const plain = await createRegion({ store: cluster.url, prefix, name });
    const cached = await createRegion({ store: cluster.url, prefix, name, l1: {} });
    regions.push(plain, cached);
    await plain.set('k', 'v');
    expect(await plain.get('k')).toBe('v');
    expect(await cached.get('k')).toBe('v');
    await cluster.kill(victim.port);
    await waitUntil(() => !cluster.masters().some((m) => m.port === victim.port), 'a replica took over', 30_000, 100);
    await cluster.waitOk();
    await sleep(3000); // the failover long done before the processes read again: their slot maps are stale
    // Only reads of the region from now on (nothing else would refresh the slot map).
    for (const r of [plain, cached]) {
      await waitUntil(
        async () => {
          try {
            return (await r.get('k')) === 'v';
          } catch {
            await sleep(50);
            return false;
          }
        },
        'the region read again',
        30_000,
        50,
      );
    }
    expect(await plain.getOrCreate('new', () => 'made')).toBe('made');
    expect(await cached.getMany(['k', 'new'])).toEqual(['v', 'made']);
  } finally {
    await Promise.all(regions.map((r) => r.close()));
  }
}, 120_000);
