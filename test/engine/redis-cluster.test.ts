import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackache, defineOperations } from '../../src/index.js';
import { checkStoreUrl } from '../../src/core/health.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js';
import { waitUntil } from '../helpers/wait.js';
import { describeEngineScenarios } from './scenarios.js';

// One real 3-master Redis Cluster; unique prefixes per test, no flushing.
let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

describeEngineScenarios('redis cluster', async () => ({ broker: cluster.url, prefix: `t${randomUUID().slice(0, 8)}` }));

describe('engine on a redis cluster: operations spread over the masters', () => {
  it('each operation keeps every key on one master, six operations use more than one, and doctor says which', async () => {
    const prefix = `s${randomUUID().slice(0, 8)}`;
    const masters = cluster.masters();
    expect(masters).toHaveLength(3);
    const ownerOf = (key: string) => {
      const slot = Number(cluster.cli(masters[0]!.port, 'CLUSTER', 'KEYSLOT', key).trim());
      return masters.find((m) =>
        m.slots.some((range) => {
          const [a, b = a] = range.split('-').map(Number);
          return slot >= a! && slot <= b!;
        }),
      )!;
    };
    // Six operation names, two whose tag {P:N} hashes to each master (a random choice could all land on one).
    const names: string[] = [];
    const perMaster = new Map<number, number>();
    for (let i = 0; names.length < 6 && i < 1000; i++) {
      const port = ownerOf(`{${prefix}:op${i}}`).port;
      if ((perMaster.get(port) ?? 0) >= 2) continue;
      perMaster.set(port, (perMaster.get(port) ?? 0) + 1);
      names.push(`op${i}`);
    }
    expect(names).toHaveLength(6);
    const got: string[] = [];
    const ops = defineOperations(Object.fromEntries(names.map((n) => [n, { run: async (uri: string) => `${n}:${uri}`, onResult: (v: unknown) => void got.push(String(v)) }])));
    const app = await createBackache({ operations: ops, broker: cluster.url, prefix });
    try {
      const r = await app.bulkGetOrDelegate(names.flatMap((op) => [{ op, uri: 'a', cbArgs: 1 }, { op, uri: 'b', cbArgs: 2 }]));
      expect(r.errors).toEqual([]);
      expect(r.delegated).toHaveLength(12);
      const w = app.startWorker({ concurrency: 4 });
      await waitUntil(() => got.length === 12, 'twelve results');
      await w.stop();
      expect(got.sort()).toEqual(names.flatMap((n) => [`${n}:a`, `${n}:b`]).sort());

      // Where each operation's keys live, by SCAN on every master.
      const holder = new Map<string, Set<number>>();
      for (const m of masters) {
        const found = cluster.cli(m.port, '--scan', '--pattern', `{${prefix}:*`).split('\n').filter(Boolean);
        for (const key of found) {
          const op = /^\{[^:]+:([^}]*)\}/.exec(key)![1]!; // '' for the deployment-wide keys {P:}
          if (!holder.has(op)) holder.set(op, new Set());
          holder.get(op)!.add(m.port);
        }
      }
      for (const op of ['', ...names]) expect([...(holder.get(op) ?? [])], `${op || 'deployment'}'s keys`).toHaveLength(1);
      // Each operation's keys are on the master its tag's slot says: all three masters hold some.
      for (const op of names) expect([...holder.get(op)!]).toEqual([ownerOf(`{${prefix}:${op}}`).port]);
      expect(new Set(names.map((op) => [...holder.get(op)!][0])).size).toBe(3);

      // doctor: the masters, their slots, and the operations each one holds.
      const checks = await checkStoreUrl('broker', cluster.url, prefix);
      expect(checks.filter((c) => c.status === 'fail')).toEqual([]);
      expect(checks.some((c) => /Redis Cluster: 3 master\(s\) serve all 16384 slots/.test(c.message))).toBe(true);
      for (const m of masters) {
        const line = checks.find((c) => c.message.startsWith(`master 127.0.0.1:${m.port} `));
        expect(line, `doctor line of ${m.port}`).toBeDefined();
        expect(line!.message).toContain(`slots ${m.slots.join(',')}`);
        const here = names.filter((op) => holder.get(op)!.has(m.port));
        expect(line!.message).toContain(here.length === 0 ? 'no operations' : `${here.length} operation(s): ${here.join(', ')}`);
      }
    } finally {
      await app.close();
    }
  });
});

describe('engine on a redis cluster: the wrong URL says what to use', () => {
  it('redis:// to a cluster node is refused, naming redis+cluster://; no key is written', async () => {
    const m = cluster.masters()[0]!;
    const prefix = `w${randomUUID().slice(0, 8)}`;
    await expect(createBackache({ operations: { a: async () => 1 }, broker: `redis://127.0.0.1:${m.port}`, prefix })).rejects.toThrow(
      new RegExp(`is a node of a Redis Cluster: use redis\\+cluster://127\\.0\\.0\\.1:${m.port}`),
    );
    for (const node of cluster.masters()) expect(cluster.cli(node.port, '--scan', '--pattern', `*${prefix}*`).trim()).toBe('');
  });
});
