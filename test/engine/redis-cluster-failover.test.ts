import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackache, defineOperations, type Backache } from '../../src/index.js';
import { checkStoreUrl } from '../../src/core/health.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js';
import { sleep, waitUntil } from '../helpers/wait.js';

// 3 masters with one replica each, cluster-node-timeout 1 s: a killed master's replica takes
// over within seconds. One cluster per scenario: each kills a master.
for (const shards of [1, 3]) {
  describe(`engine on a redis cluster: failover, shards: ${shards}`, () => {
    let cluster: RedisCluster;
    beforeAll(async () => {
      cluster = await startRedisCluster({ masters: 3, replicas: 1, nodeTimeoutMs: 1000 });
    }, 60_000);
    afterAll(async () => {
      await cluster?.stop();
    });
    it(`SIGKILL the master of an operation${shards > 1 ? ' spread over every master' : ''} while a producer submits and a worker runs: every accepted request is computed and delivered; doctor names the dead node`, () => failover(() => cluster, shards), 120_000);
  });
}

async function failover(clusterOf: () => RedisCluster, shards: number) {
  const cluster = clusterOf();
  const prefix = `f${randomUUID().slice(0, 8)}`;
  const delivered = new Set<number>();
  const computed = new Set<string>();
  const ops = defineOperations({
    sq: {
      shards,
      run: async (uri) => {
        await sleep(2);
        computed.add(uri);
        return Number(uri.slice(2)) ** 2;
      },
      onResult: (value, cbArgs) => {
        for (const c of cbArgs as number[]) {
          expect(value).toBe(c * c);
          delivered.add(c);
        }
      },
    },
  });
  const apps: Backache[] = [];
  try {
    const worker = await createBackache({ operations: ops, broker: cluster.url, prefix, leaseMs: 5000 });
    const producer = await createBackache({ operations: ops, broker: cluster.url, prefix });
    apps.push(worker, producer);
    const handle = worker.startWorker({ concurrency: 8 });

    // The master that holds the operation's keys (its tag's slot).
    const masters = cluster.masters();
    const slot = Number(cluster.cli(masters[0]!.port, 'CLUSTER', 'KEYSLOT', `{${prefix}:sq}`).trim());
    const victim = masters.find((m) =>
      m.slots.some((r) => {
        const [a, b = a] = r.split('-').map(Number);
        return slot >= a! && slot <= b!;
      }),
    )!;

    // The producer submits batches of 20 new requests; what it saw accepted (delegated
    // without error) must all be delivered. A batch that throws was not accepted.
    const accepted = new Set<number>();
    let failedBatches = 0;
    let next = 0;
    let stop = false;
    const produce = (async () => {
      while (!stop) {
        const batch = Array.from({ length: 20 }, () => next++);
        try {
          const r = await producer.bulkGetOrDelegate(batch.map((n) => ({ op: 'sq', uri: `n:${n}`, cbArgs: n })));
          const bad = new Set(r.errors.map((e) => Number(e.uri.slice(2))));
          for (const n of batch) if (!bad.has(n)) accepted.add(n);
          if (r.errors.length > 0) failedBatches++;
        } catch {
          failedBatches++;
        }
        await sleep(10);
      }
    })();

    await waitUntil(() => accepted.size >= 200 && delivered.size >= 100, 'the first accepted and delivered requests', 30_000);
    await cluster.kill(victim.port);
    const killedAt = next;
    // Go on submitting through the failover until requests are accepted again on the new master.
    await waitUntil(() => [...accepted].some((n) => n >= killedAt + 100), 'requests accepted after the failover', 60_000, 50);
    stop = true;
    await produce;
    await cluster.waitOk();
    expect(cluster.masters().some((m) => m.port === victim.port)).toBe(false);

    await waitUntil(() => [...accepted].every((n) => delivered.has(n)), `every accepted request delivered (${accepted.size} accepted)`, 60_000, 100);
    for (const n of accepted) expect(computed.has(`n:${n}`)).toBe(true);
    await handle.stop();

    // doctor: every slot served again, and the dead node named.
    const checks = await checkStoreUrl('broker', cluster.url, prefix);
    expect(checks.some((c) => /3 master\(s\) serve all 16384 slots/.test(c.message))).toBe(true);
    expect(checks.find((c) => c.message.includes(`127.0.0.1:${victim.port} is down`))?.status).toBe('warn');
  } finally {
    await Promise.all(apps.map((a) => a.close().catch(() => {})));
  }
}
