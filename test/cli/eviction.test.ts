/**
 * Defect 8: on a Redis whose maxmemory-policy evicts, BullMQ printed `IMPORTANT! Eviction
 * policy is …` once per connection (once per operation: 7 times for one `stats`). backache
 * says it once per command, in its own words, and `doctor` shows it as one check.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, ensureBuilt, startCli, tempDir, writeFiles } from '../helpers/cli.js';
import { REDIS_SERVER_BIN, startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { waitUntil } from '../helpers/wait.js';

const haveRedis = existsSync(REDIS_SERVER_BIN);
if (!haveRedis && process.env.CI !== 'true') console.warn(`\n!!! eviction warning [redis] SKIPPED: no redis-server at ${REDIS_SERVER_BIN} (set BACKACHE_REDIS_SERVER)\n`);

const OPS = `export default Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((op) => [op, async (uri) => op + uri]));\n`;
const OURS = /maxmemory-policy is allkeys-lru, not noeviction/g;

describe.skipIf(!haveRedis && process.env.CI !== 'true')('eviction warning [redis]', () => {
  let server: RedisServer;
  beforeAll(async () => {
    await ensureBuilt();
    server = await startRedisServer({ args: ['--maxmemory-policy', 'allkeys-lru'] });
  }, 300_000);
  afterAll(async () => server?.stop());

  it('stats, submit, work and doctor say it once, in backache words, and never print BullMQ\'s', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': OPS });
    const flags = ['--broker', server.url, '--prefix', `e${randomUUID().slice(0, 8)}`];
    // A job for each of the 7 operations: 7 queues (7 BullMQ connections) for stats to read.
    const input = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((op) => JSON.stringify({ op, uri: 'x' })).join('\n');
    const sub = await cli(['submit', '-o', 'ops.mjs', ...flags], { cwd: dir, input: `${input}\n` });
    expect(sub.code, sub.stderr).toBe(0);
    expect(sub.stderr.match(OURS)).toHaveLength(1);

    const stats = await cli(['stats', '--json', ...flags], { cwd: dir });
    expect(stats.code, stats.stderr).toBe(0);
    expect(stats.json().ops).toHaveLength(7);
    expect(stats.stderr).not.toMatch(/IMPORTANT!/);
    expect(stats.stderr).toBe(
      'warn: Redis maxmemory-policy is allkeys-lru, not noeviction: under memory pressure Redis may evict jobs, locks and pending requests (BullMQ requires noeviction); set maxmemory-policy noeviction, and put the cache on another Redis if it must evict\n',
    );

    const w = startCli(['work', '-o', 'ops.mjs', ...flags], { cwd: dir });
    await w.waitFor(/started: a, b, c, d, e, f, g/);
    await waitUntil(async () => (await cli(['get', '--op', 'g', 'x', ...flags], { cwd: dir })).code === 0, 'g computed');
    const done = await w.stop('SIGTERM');
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).not.toMatch(/IMPORTANT!/);
    expect(done.stderr.match(OURS)).toHaveLength(1);

    const doctor = await cli(['doctor', '-o', 'ops.mjs', ...flags], { cwd: dir });
    expect(doctor.stdout + doctor.stderr).not.toMatch(/IMPORTANT!/);
    expect((doctor.stdout + doctor.stderr).match(OURS)).toHaveLength(1);
    expect(doctor.stdout).toMatch(/^! broker redis:\/\/\S+: Redis maxmemory-policy is allkeys-lru, not noeviction: .*\n {4}fix: set maxmemory-policy noeviction/m);
    expect(doctor.code).toBe(0); // a warning, not a failure
    const json = await cli(['doctor', '--json', ...flags], { cwd: dir });
    expect(json.json().checks).toEqual(expect.arrayContaining([expect.objectContaining({ status: 'warn', message: expect.stringMatching(/^Redis maxmemory-policy is allkeys-lru/) })]));
  }, 120_000);

  it('a Redis with noeviction gets no warning at all', async () => {
    const ok = await startRedisServer();
    try {
      const dir = tempDir();
      writeFiles(dir, { 'ops.mjs': OPS });
      const flags = ['--broker', ok.url, '--prefix', `e${randomUUID().slice(0, 8)}`];
      const sub = await cli(['submit', '--op', 'a', '-o', 'ops.mjs', ...flags], { cwd: dir, input: 'x\n' });
      expect(sub.code, sub.stderr).toBe(0);
      const stats = await cli(['stats', '--json', ...flags], { cwd: dir });
      expect(stats.stderr).toBe('');
      expect((await cli(['doctor', ...flags], { cwd: dir })).stdout).not.toMatch(/maxmemory-policy|Eviction/);
    } finally {
      await ok.stop();
    }
  }, 120_000);
});
