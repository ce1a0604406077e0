/**
 * Redis Cluster: drain of one hot operation with `shards: 3` against `shards: 1`, on a
 * 3-master cluster of its own (test/helpers/redis-cluster.ts: free ports, a temp dir),
 * alternately in one process. Beside the throughput it reports how many commands each
 * master served during each timed run (`INFO commandstats` after `CONFIG RESETSTAT`): the
 * point is that the load spreads over the masters, even where 2 cores cannot show a speed-up.
 *
 * Run: npm run bench:cluster   (BENCH_ROUNDS, CLUSTER_N, DRAIN_CONCURRENCY)
 * Every round uses a new prefix; nothing is timed but the drain.
 */
import { Redis } from 'ioredis';
import type { Backache } from '../src/index.js';
import { startRedisCluster } from '../test/helpers/redis-cluster.js';
import { compare, loadLibrary, printTable, rounds, save, watchServerCpu, type Variant } from './lib.js';

const { createBackache } = await loadLibrary();

const N = Number(process.env.CLUSTER_N ?? 20_000);
const BATCH = 1000;
const CONCURRENCY = Number(process.env.DRAIN_CONCURRENCY ?? 48);

const cluster = await startRedisCluster({ masters: 3 });
for (const n of cluster.nodes) watchServerCpu(n.pid());
const masters = cluster.masters().sort((a, b) => a.port - b.port);
const admins = masters.map((m) => new Redis({ host: m.host, port: m.port }));

/** Commands served per master since the last reset (the sum of `calls=` in INFO commandstats). */
async function commandsPerMaster(): Promise<number[]> {
  return Promise.all(
    admins.map(async (a) => {
      const info = await a.info('commandstats');
      let calls = 0;
      for (const m of info.matchAll(/calls=(\d+)/g)) calls += Number(m[1]);
      return calls;
    }),
  );
}
const resetStats = () => Promise.all(admins.map((a) => a.config('RESETSTAT')));

const served: Record<string, number[][]> = { 'shards: 1': [], 'shards: 3': [] };

function drain(shards: number): Variant {
  const label = `shards: ${shards}`;
  return {
    async prepare(round) {
      let delivered = 0;
      let resolveAll!: () => void;
      const allDone = new Promise<void>((r) => (resolveAll = r));
      const prefix = `c${shards}r${round}`;
      const app: Backache = await createBackache({
        operations: {
          hot: {
            shards,
            run: async (uri) => ({ title: `Title of ${uri}`, length: uri.length }),
            onResult: (_v, cbArgs) => void ((delivered += cbArgs.length) === N && resolveAll()),
          },
        },
        broker: cluster.url,
        prefix,
      });
      const all = Array.from({ length: N }, (_, i) => ({ op: 'hot', uri: `https://example.com/${prefix}/${i}`, cbArgs: { i } }));
      for (let i = 0; i < all.length; i += BATCH) await app.bulkGetOrDelegate(all.slice(i, i + BATCH));
      await resetStats();
      return {
        run: async () => {
          const w = app.startWorker({ concurrency: CONCURRENCY });
          await allDone;
          await w.stop();
        },
        teardown: async () => {
          served[label]!.push(await commandsPerMaster());
          await app.close();
        },
      };
    },
  };
}

const rows: Record<string, unknown>[] = [];
try {
  const row = await compare(`drain ${N} jobs of one operation, concurrency ${CONCURRENCY}, 3-master cluster: shards 3 (backache) vs shards 1 (raw)`, N, rounds(), {
    raw: drain(1),
    backache: drain(3),
  });
  rows.push(row);
  printTable(rows);
  // Commands per master, round medians, and each master's share of the total.
  const ports = masters.map((m) => m.port);
  for (const [label, runs] of Object.entries(served)) {
    const med = ports.map((_, i) => {
      const xs = runs.map((r) => r[i]!).sort((a, b) => a - b);
      return xs[Math.floor(xs.length / 2)]!;
    });
    const total = med.reduce((a, b) => a + b, 0);
    const line = med.map((c, i) => `${ports[i]}: ${c} (${Math.round((100 * c) / total)}%)`).join(', ');
    process.stderr.write(`  commands per master, ${label}: ${line}\n`);
    rows.push({ name: `commands per master (INFO commandstats), ${label}`, per_master: Object.fromEntries(ports.map((p, i) => [p, med[i]])), per_job: Number((total / N).toFixed(1)) });
    process.stdout.write(JSON.stringify(rows.at(-1)) + '\n');
  }
  save('cluster', rows);
} finally {
  for (const a of admins) a.disconnect();
  await cluster.stop();
}
