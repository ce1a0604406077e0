import { afterAll, beforeAll } from 'vitest';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js';
import { describeRegion } from './scenarios.js';

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
}, 60_000);
afterAll(async () => cluster?.stop());

// createRegion opens the store by URL; a fresh region name isolates each test.
describeRegion('redis cluster', async () => cluster.url);
describeRegion('redis cluster, with l1', async () => cluster.url, { l1: {} });
