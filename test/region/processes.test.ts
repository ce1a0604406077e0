/**
 * Regions across real processes (test/fixtures/region-child.ts): one creator per key for
 * every process sharing a store, and (with `l1`) every process's L1 tier kept coherent.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { startJsonChild, type JsonChild } from '../helpers/sqlite-child.js';

let redis: RedisServer;
const dir = mkdtempSync(join(tmpdir(), 'backache-region-proc-'));
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const stores: [string, () => string][] = [
  ['redis', () => redis.url],
  ['sqlite', () => `sqlite:${join(dir, `${randomUUID()}.db`)}`],
];

describe.each(stores)('regions across processes: %s', (_, storeUrl) => {
  const children: JsonChild[] = [];
  const start = async (store: string, name: string, opts: Record<string, unknown> = {}) => {
    const c = await startJsonChild('region-child.ts', [store, name, JSON.stringify(opts)]);
    children.push(c);
    return c;
  };
  afterEach(async () => {
    await Promise.all(children.splice(0).map((c) => c.send({ cmd: 'stop' }).catch(() => c.child.kill('SIGKILL'))));
  });

  it('2 processes × 200 concurrent getOrCreate of one key: one creator, everyone gets its value', async () => {
    const store = storeUrl();
    const name = `s${randomUUID().slice(0, 8)}`;
    const [a, b] = await Promise.all([start(store, name), start(store, name)]);
    const counter = join(dir, `${name}.runs`);
    const cmd = { cmd: 'stampede', key: 'hot', callers: 200, creatorMs: 300, counter };
    const [va, vb] = await Promise.all([a.send<{ by: number }[]>(cmd), b.send<{ by: number }[]>(cmd)]);
    const runs = existsSync(counter) ? readFileSync(counter, 'utf8').split('\n').filter(Boolean) : [];
    expect(runs).toHaveLength(1);
    const creator = Number(runs[0]);
    expect([...va, ...vb]).toHaveLength(400);
    expect([...va, ...vb].every((v) => v.by === creator)).toBe(true);
    expect(await b.send({ cmd: 'get', key: 'hot' })).toEqual({ by: creator });
  });
});
