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

describeEngineScenarios('redis cluster, 6 shards per operation', async () => ({ broker: cluster.url, prefix: `h${randomUUID().slice(0, 8)}`, shards: 6 }));

describe('engine on a redis cluster: one hot operation spread over shards', () => {
  /** The master port serving a key's slot. */
  const ownerOf = (key: string) => {
    const masters = cluster.masters();
    const slot = Number(cluster.cli(masters[0]!.port, 'CLUSTER', 'KEYSLOT', key).trim());
    return masters.find((m) => m.slots.some((r) => slot >= Number(r.split('-')[0]) && slot <= Number(r.split('-')[1] ?? r)))!.port;
  };
  const keysOn = (port: number, pattern: string) => cluster.cli(port, '--scan', '--pattern', pattern).split('\n').filter(Boolean);

  it('shards: 6 puts every pair on its shard, keys on every master; coalescing, redirects, stats, invalidation, quarantine and doctor see one operation', async () => {
    const prefix = `x${randomUUID().slice(0, 8)}`;
    const got: { value: unknown; cbArgs: unknown[] }[] = [];
    const ops = defineOperations({
      thumb: {
        shards: 6,
        run: async (uri, ctx) => {
          if (uri === 'bad') throw ctx.quarantine({ reason: 'unreadable' });
          // Every tenth URI is an alias of a canonical one (likely on another shard).
          if (uri.endsWith('/alias')) {
            const v = await ctx.getOrAddRedirect(uri.replace('/alias', '/canonical'));
            if (v !== undefined) return v;
          }
          return `t:${uri.replace('/alias', '/canonical')}`;
        },
        onResult: (value, cbArgs) => void got.push({ value, cbArgs }),
      },
    });
    const app = await createBackache({ operations: ops, broker: cluster.url, prefix });
    try {
      const uris = Array.from({ length: 60 }, (_, i) => `https://img/${i}`);
      const first = await app.bulkGetOrDelegate([...uris.map((uri, i) => ({ op: 'thumb', uri, cbArgs: i })), { op: 'thumb', uri: 'bad', cbArgs: 'b' }]);
      expect(first.errors).toEqual([]);
      expect(first.delegated).toHaveLength(61);
      // Second requests for ten pairs coalesce onto their pending jobs, on their shards.
      const again = await app.bulkGetOrDelegate(uris.slice(0, 10).map((uri, i) => ({ op: 'thumb', uri, cbArgs: `again-${i}` })));
      expect(again.delegated.every((d) => d.coalesced)).toBe(true);
      const waiting = (await app.stats()).ops.find((o) => o.op === 'thumb')!;
      expect(waiting.waiting).toBe(61);

      // Pending keys and queues are on every master, each under the tag of its pair's shard.
      for (const m of cluster.masters()) expect(keysOn(m.port, `{${prefix}:thumb~*}:jobs:*`).length, `queues on ${m.port}`).toBeGreaterThan(0);

      const w = app.startWorker({ concurrency: 6 });
      await waitUntil(() => got.length === 60, 'sixty results');
      await waitUntil(async () => (await app.quarantine.list({ op: 'thumb' })).items.length === 1, 'one quarantined');
      await w.stop();
      const byUri = new Map(got.map((g) => [g.value, g.cbArgs]));
      for (let i = 0; i < 60; i++) expect(byUri.get(`t:https://img/${i}`)).toEqual(i < 10 ? [i, `again-${i}`] : [i]);
      const q = (await app.quarantine.list({ op: 'thumb' })).items[0]!;
      expect([q.uri, q.cbArgs]).toEqual(['bad', ['b']]);

      // Entries: each under the tag its URI hashes to, and every master holds some.
      const { RedisKeys } = await import('../../src/core/backends/redis/keys.js');
      const { hashId } = await import('../../src/core/hash.js');
      const keys = new RedisKeys(prefix);
      keys.layouts.set('thumb', 6);
      const ports = new Set<number>();
      for (const uri of uris) {
        const h = hashId(uri);
        const entryKey = keys.entry(keys.placeOf({ ns: 'thumb', id: uri }, h), h);
        const port = ownerOf(entryKey);
        expect(cluster.cli(port, 'EXISTS', entryKey).trim(), uri).toBe('1');
        ports.add(port);
      }
      expect(ports.size).toBe(3);
      expect((await app.get('thumb', 'https://img/7'))?.value).toBe('t:https://img/7');

      // A redirect alias, wherever its shard is, is a hit after the job completes.
      const r = await app.getOrDelegate('thumb', 'https://img/9/alias', { cbArgs: 'a' });
      expect(r.status).toBe('delegated');
      const w2 = app.startWorker({ concurrency: 2 });
      await waitUntil(() => got.length === 61, 'the alias computed');
      await w2.stop();
      expect((await app.get('thumb', 'https://img/9/canonical'))?.value).toBe('t:https://img/9/canonical');
      expect((await app.get('thumb', 'https://img/9/alias'))?.value).toBe('t:https://img/9/canonical');

      // stats: one operation.
      const st = (await app.stats()).ops.find((o) => o.op === 'thumb')!;
      expect([st.waiting, st.active, st.entries, st.quarantined]).toEqual([0, 0, 62, 1]);

      // doctor: the operation is on every master, two of its six shards on each.
      const checks = await checkStoreUrl('broker', cluster.url, prefix);
      for (const m of cluster.masters()) {
        expect(checks.find((c) => c.message.startsWith(`master 127.0.0.1:${m.port} `))!.message).toContain('thumb (2 of 6 shards)');
      }

      // Invalidation by glob and template reaches every shard, in one pass.
      const some = await app.invalidate({ op: 'thumb', match: 'https://img/1*' });
      expect(some.invalidated).toBe(11); // 1, 10…19
      const rest = await app.invalidate({ op: 'thumb', template: 'https://img/{id}' });
      expect(rest.invalidated).toBe(49);
      expect((await app.stats()).ops.find((o) => o.op === 'thumb')!.entries).toBe(2); // the canonical and its alias
      expect(await app.get('thumb', 'https://img/7')).toBeUndefined();

      // Replay from quarantine goes back to the pair's shard: it runs, fails again, and comes back with its cbArgs.
      expect((await app.quarantine.replay({ ids: [q.id] })).replayed).toBe(1);
      expect((await app.quarantine.list({ op: 'thumb' })).items).toHaveLength(0);
      const w3 = app.startWorker({ concurrency: 2 });
      await waitUntil(async () => (await app.quarantine.list({ op: 'thumb' })).items.length === 1, 'quarantined again');
      await w3.stop();
      expect((await app.quarantine.list({ op: 'thumb' })).items[0]!.cbArgs).toEqual(['b']);
    } finally {
      await app.close();
    }
  });

  it('changing shards of a live operation loses nothing: jobs queued on the old layout drain, invalidation reaches both layouts', async () => {
    const prefix = `y${randomUUID().slice(0, 8)}`;
    const got: unknown[][] = [];
    const def = (shards: number) => defineOperations({ op: { shards, run: async (uri: string) => `v:${uri}`, onResult: (_v: unknown, cb: unknown[]) => void got.push(cb) } });
    const old = await createBackache({ operations: def(3), broker: cluster.url, prefix });
    const uris = Array.from({ length: 30 }, (_, i) => `u${i}`);
    try {
      // 30 requests accepted under 3 shards, and 10 of them computed there (entries on the old layout).
      expect((await old.bulkGetOrDelegate(uris.slice(0, 10).map((uri) => ({ op: 'op', uri, cbArgs: `old-${uri}` })))).delegated).toHaveLength(10);
      const w0 = old.startWorker({ concurrency: 4 });
      await waitUntil(() => got.length === 10, 'ten on the old layout');
      await w0.stop();
      expect((await old.bulkGetOrDelegate(uris.slice(10).map((uri) => ({ op: 'op', uri, cbArgs: `old-${uri}` })))).delegated).toHaveLength(20);
    } finally {
      await old.close();
    }
    // The new deployment: 6 shards. Its workers drain the 3-shard queues too.
    const app = await createBackache({ operations: def(6), broker: cluster.url, prefix });
    try {
      const more = await app.bulkGetOrDelegate(uris.slice(10, 20).map((uri) => ({ op: 'op', uri, cbArgs: `new-${uri}` })));
      expect(more.errors).toEqual([]);
      const w = app.startWorker({ concurrency: 4 });
      // 20 pending old requests; the 10 new ones either computed on the new layout or in one run with the old.
      await waitUntil(() => got.flat().length === 40, 'every cbArgs delivered');
      await w.stop();
      expect(got.flat().sort()).toEqual([...uris.map((u) => `old-${u}`), ...uris.slice(10, 20).map((u) => `new-${u}`)].sort());
      const st = (await app.stats()).ops.find((o) => o.op === 'op')!;
      expect([st.waiting, st.active, st.pending]).toEqual([0, 0, 0]);
      // Entries of the old layout (u0…u9) are misses now; everything is one invalidation away.
      expect((await app.get('op', 'u25'))?.value).toBe('v:u25');
      const inv = await app.invalidate({ op: 'op', match: '*' });
      expect(inv.matched).toBeGreaterThanOrEqual(30);
      expect((await app.stats()).ops.find((o) => o.op === 'op')!.entries).toBe(0);
    } finally {
      await app.close();
    }
  });

  it('a worker started before the layout changed finds the new layout\'s queues and delivers their requests', async () => {
    const prefix = `z${randomUUID().slice(0, 8)}`;
    const got: unknown[][] = [];
    const def = (shards: number) => defineOperations({ op: { shards, run: async (uri: string) => `v:${uri}`, onResult: (_v: unknown, cb: unknown[]) => void got.push(cb) } });
    const worker = await createBackache({ operations: def(1), broker: cluster.url, prefix });
    const w = worker.startWorker({ concurrency: 4 });
    const producer = await createBackache({ operations: def(6), broker: cluster.url, prefix });
    try {
      const r = await producer.bulkGetOrDelegate(Array.from({ length: 12 }, (_, i) => ({ op: 'op', uri: `n${i}`, cbArgs: i })));
      expect(r.delegated).toHaveLength(12);
      await waitUntil(() => got.length === 12, 'the old worker delivered every request', 30_000);
      expect(got.flat().sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 12 }, (_, i) => i));
      expect((await producer.stats()).ops.find((o) => o.op === 'op')!.pending).toBe(0);
    } finally {
      await w.stop();
      await Promise.all([worker.close(), producer.close()]);
    }
  });
});
