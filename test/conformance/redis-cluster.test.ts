import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { openBackend } from '../../src/core/backends/index.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js';
import { describeBackend, describeCacheStore, describeWorkerSteps } from './suites.js';

// One real 3-master Redis Cluster for this file; every open gets its own prefix.
let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

const prefix = () => `t-${randomUUID().slice(0, 8)}`;

describeBackend('redis cluster', () => openBackend({ broker: cluster.url, prefix: prefix() }));

describeCacheStore('redis cluster (cache only)', async () => openBackend({ broker: `memory:${randomUUID()}`, cache: cluster.url, prefix: prefix() }));

describeWorkerSteps('redis cluster broker, memory cache', () => openBackend({ broker: cluster.url, cache: `memory:${randomUUID()}`, prefix: prefix() }));
