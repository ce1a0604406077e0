import { afterAll, beforeAll } from 'vitest';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { describeRegion } from './scenarios.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => redis?.stop());

// createRegion opens the store by URL; a fresh region name isolates each test.
describeRegion('redis', async () => redis.url);
describeRegion('redis, with l1', async () => redis.url, { l1: {} });
