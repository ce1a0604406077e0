import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { crossProcessTests } from './cross-process.js';
import { faultTests } from './faults.js';
import { describeEngineScenarios } from './scenarios.js';

let redis: RedisServer;
const dir = mkdtempSync(join(tmpdir(), 'backache-engine-redis-'));
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// Unique prefixes per test: one server, no flushing.
describeEngineScenarios('redis', async () => ({ broker: redis.url, prefix: `t${randomUUID().slice(0, 8)}` }));
describeEngineScenarios('redis with l1', async () => ({ broker: redis.url, prefix: `l${randomUUID().slice(0, 8)}`, l1: {} }));

let n = 0;
describe('engine on redis across processes', () => {
  crossProcessTests({ fresh: () => ({ broker: redis.url, prefix: `x${++n}${randomUUID().slice(0, 6)}`, log: join(dir, `x${n}.log`) }) });
});

let f = 0;
describe('worker path faults on redis', () => {
  faultTests({ fresh: () => ({ broker: redis.url, prefix: `f${++f}${randomUUID().slice(0, 6)}`, log: join(dir, `f${f}.log`) }) });
});
