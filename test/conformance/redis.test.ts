import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { openBackend } from '../../src/core/backends/index.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { describeRegionSteps } from './region-steps-suite.js';
import { describeBackend, describeCacheStore, describeChangeFeed, describeWorkerSteps } from './suites.js';

// One real redis-server for this file; every open gets its own prefix (its own deployment).
let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server?.stop();
});

const prefix = () => `t-${randomUUID().slice(0, 8)}`;

describeBackend('redis', () => openBackend({ broker: server.url, prefix: prefix() }));

// The Redis cache on its own connection, next to another broker.
describeCacheStore('redis (cache only)', async () => openBackend({ broker: `memory:${randomUUID()}`, cache: server.url, prefix: prefix() }));

// Redis steps (records, locks, pending lists) around a cache that lives elsewhere.
describeWorkerSteps('redis broker, memory cache', () => openBackend({ broker: server.url, cache: `memory:${randomUUID()}`, prefix: prefix() }));

describeRegionSteps('redis', () => openBackend({ broker: server.url, prefix: prefix() }), { feed: true });
describeRegionSteps('redis broker, memory cache (composed)', () => openBackend({ broker: server.url, cache: `memory:${randomUUID()}`, prefix: prefix() }));
// Two opens with one prefix on one server: two processes of the deployment.
const dropSubscribers = async () => {
  const admin = new Redis(server.port, server.host);
  try {
    await admin.client('KILL', 'TYPE', 'pubsub');
  } finally {
    admin.disconnect();
  }
};
describeChangeFeed('redis', (d) => openBackend({ broker: server.url, prefix: d }), {
  dropSubscribers,
  childEnv: (d) => ({ BROKER: server.url, PREFIX: d }),
});
// The Redis cache alone (redisCache), beside brokers of their own.
describeChangeFeed('redis (cache only)', (d) => openBackend({ broker: `memory:${randomUUID()}`, cache: server.url, prefix: d }), { dropSubscribers });
