import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { startRedisServer } from '/work/main/test/helpers/redis-server.js';
const server = await startRedisServer({ args: ['--maxmemory-policy', 'noeviction'] });
const admin = new Redis(server.url, { maxRetriesPerRequest: null });
const N = 30000;
const variants: [string, any][] = [['default', undefined], ['count10k', { count: 10000 }], ['age3600', { age: 3600 }], ['both', { count: 10000, age: 3600 }], ['true', true], ['count10k-limit', {count: 10000, age: 3600, limit: 1000}]];
for (let round = 0; round < 2; round++) for (const [name, keep] of variants) {
  await admin.flushall();
  const connection = new Redis(server.url, { maxRetriesPerRequest: null });
  const q = new Queue('q' + name, { connection });
  for (let i = 0; i < N; i += 1000) await q.addBulk(Array.from({ length: 1000 }, (_, j) => ({ name: 'noop', data: { op: 'noop', uri: `https://example.com/${i + j}`, kwargs: {} } })));
  let done = 0; let res!: () => void; const all = new Promise<void>((r) => (res = r));
  const t0 = performance.now(); const c0 = process.cpuUsage();
  const w = new Worker('q' + name, async () => null, { connection: new Redis(server.url, { maxRetriesPerRequest: null }), concurrency: 50, ...(keep !== undefined ? { removeOnComplete: keep } : {}) });
  w.on('completed', () => void (++done === N && res()));
  await all;
  const ms = performance.now() - t0; const c = process.cpuUsage(c0);
  console.log(name, Math.round(N / ms * 1000), 'jobs/s', 'client µs/job', ((c.user + c.system) / N).toFixed(1));
  await w.close(); (await w.client).disconnect(); await q.close(); connection.disconnect();
}
admin.disconnect(); await server.stop();
