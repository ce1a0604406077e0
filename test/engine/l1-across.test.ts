/**
 * The engine's L1 tier with two deployments' worth of connections (a client app and a
 * worker app, as two processes would be): what the worker computes, invalidates or cleans
 * up replaces what the client's L1 holds, through the store's change feed.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createBackache, type Backache } from '../../src/index.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

let redis: RedisServer;
const dir = mkdtempSync(join(tmpdir(), 'backache-l1-across-'));
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const stores: [string, () => { broker: string; prefix: string }][] = [
  ['redis', () => ({ broker: redis.url, prefix: `x${randomUUID().slice(0, 8)}` })],
  ['sqlite', () => ({ broker: `sqlite:${join(dir, `${randomUUID()}.db`)}`, prefix: 'backache' })],
];

describe.each(stores)('engine l1 with a worker elsewhere: %s', (_, deployment) => {
  const apps: Backache[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });

  it('a miss the client holds becomes the hit the worker stored; an invalidation and a cleanup elsewhere reach the client', async () => {
    const d = deployment();
    let version = 1;
    const operations = { upper: async (uri: string) => `${uri.toUpperCase()}#${version}` };
    const client = await createBackache({ operations, ...d, l1: {} });
    const worker = await createBackache({ operations, ...d });
    apps.push(client, worker);
    await vi.waitUntil(() => client.l1Stats()?.up, { timeout: 5000 });

    expect(await client.get('upper', 'a')).toBeUndefined(); // the miss is now in the client's L1
    const w = worker.startWorker({ concurrency: 1 });
    const { jobId } = (await worker.getOrDelegate('upper', 'a')) as { jobId: string };
    await worker.waitFor(jobId, { timeout: 10_000 });
    await vi.waitUntil(async () => (await client.get('upper', 'a'))?.value === 'A#1', { timeout: 2000, interval: 5 });
    // Served from L1 from now on, and counted as such.
    const r = await client.getOrDelegate('upper', 'a');
    expect(r).toMatchObject({ status: 'hit', value: 'A#1' });
    expect(client.l1Stats()!.hits).toBeGreaterThan(0);
    await vi.waitUntil(async () => ((await client.stats()).ops.find((o) => o.op === 'upper')?.l1Hits ?? 0) > 0, { timeout: 5000, interval: 50 });

    // A soft invalidation elsewhere: the client sees the entry stale and enqueues one refresh.
    version = 2;
    await worker.invalidate({ op: 'upper', soft: true });
    await vi.waitUntil(async () => (await client.get('upper', 'a'))?.stale === true, { timeout: 2000, interval: 5 });
    const stale = await client.getOrDelegate('upper', 'a');
    expect(stale).toMatchObject({ status: 'hit', value: 'A#1', stale: true });
    await vi.waitUntil(async () => (await client.get('upper', 'a'))?.value === 'A#2', { timeout: 10_000, interval: 5 });

    // A hard invalidation and a cleanup elsewhere: gone from the client's L1 too.
    await worker.invalidate({ op: 'upper' });
    await vi.waitUntil(async () => (await client.get('upper', 'a')) === undefined, { timeout: 2000, interval: 5 });
    const again = (await worker.getOrDelegate('upper', 'a')) as { jobId: string };
    await worker.waitFor(again.jobId, { timeout: 10_000 });
    await vi.waitUntil(async () => (await client.get('upper', 'a'))?.value === 'A#2', { timeout: 2000, interval: 5 });
    await w.stop();
    await worker.cleanup();
    await vi.waitUntil(async () => (await client.get('upper', 'a')) === undefined, { timeout: 2000, interval: 5 });
  });
});
