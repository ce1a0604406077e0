/**
 * A feed connection that dies without closing (a NAT or load balancer forgetting it): the
 * Redis feed's heartbeat notices, tells its listeners down (an L1 tier empties), and comes
 * back on a new connection.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { openBackend } from '../../src/core/backends/index.js';
import { L1Cache } from '../../src/core/l1.js';
import type { CacheChange } from '../../src/core/ports.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

let redis: RedisServer;
let proxy: TcpProxy;
beforeAll(async () => {
  redis = await startRedisServer();
  proxy = await startTcpProxy(redis.port);
});
afterAll(async () => {
  await proxy?.close();
  await redis?.stop();
});

it('a silent subscriber is counted lost: listeners down, L1 emptied, then up again on a new connection with changes flowing', async () => {
  const prefix = `s${randomUUID().slice(0, 8)}`;
  const reader = await openBackend({ broker: proxy.url, prefix });
  const writer = await openBackend({ broker: redis.url, prefix });
  const l1 = new L1Cache(reader.cache);
  const states: boolean[] = [];
  const heard: CacheChange[] = [];
  const stop = reader.cache.changes!.listen({ change: (c) => heard.push(c), up: (u) => states.push(u) });
  try {
    await vi.waitUntil(() => states.at(-1) === true && l1.l1Stats().up, { timeout: 5000 });
    const key = { ns: 'op', id: 'k' };
    await writer.cache.setMany([{ key, entry: { value: 'v1', createdAt: Date.now(), expiresAt: null, staleUntil: null } }]);
    await vi.waitUntil(async () => (await l1.getMany([key]))[0]?.value === 'v1', { timeout: 2000, interval: 5 });
    await l1.getMany([key]); // from L1 now
    expect(l1.l1Stats().entries).toBe(1);

    expect(proxy.silence((cmd) => cmd[0] === 'SUBSCRIBE')).toBe(1);
    await vi.waitUntil(() => states.includes(false), { timeout: 5000 });
    expect(l1.l1Stats().entries).toBe(0);
    await writer.cache.setMany([{ key, entry: { value: 'v2', createdAt: Date.now(), expiresAt: null, staleUntil: null } }]);
    // Down: L1 bypassed, so the store's value at once.
    expect((await l1.getMany([key]))[0]?.value).toBe('v2');
    await vi.waitUntil(() => states.at(-1) === true && l1.l1Stats().up, { timeout: 5000 });
    heard.length = 0;
    await writer.cache.setMany([{ key, entry: { value: 'v3', createdAt: Date.now(), expiresAt: null, staleUntil: null } }]);
    await vi.waitUntil(() => heard.some((c) => 'ids' in c && c.ids.includes('k')), { timeout: 2000 });
    expect((await l1.getMany([key]))[0]?.value).toBe('v3');
    expect(states).toEqual([true, false, true]);
  } finally {
    stop();
    l1.stop();
    await reader.close();
    await writer.close();
  }
});
