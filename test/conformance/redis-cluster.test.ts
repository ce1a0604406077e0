import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/core/backends/index.js';
import { parseClusterUrl } from '../../src/core/backends/redis/index.js';
import { BackendUnavailableError, ConfigError } from '../../src/core/errors.js';
import { createRegion } from '../../src/index.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js';
import { freePort, startRedisServer } from '../helpers/redis-server.js';
import { describeRegionSteps } from './region-steps-suite.js';
import { describeBackend, describeCacheStore, describeChangeFeed, describeWorkerSteps } from './suites.js';

// One real 3-master Redis Cluster for this file; every open gets its own prefix.
let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

const prefix = () => `t-${randomUUID().slice(0, 8)}`;

describeBackend('redis cluster', () => openBackend({ broker: cluster.url, prefix: prefix() }));

describeCacheStore('redis cluster (cache only)', async () => openBackend({ broker: `memory:${randomUUID()}`, cache: cluster.url, prefix: prefix() }));

describeWorkerSteps('redis cluster broker, memory cache', () => openBackend({ broker: cluster.url, cache: `memory:${randomUUID()}`, prefix: prefix() }));

// PUBLISH (from a script on any master, or a client) reaches every node: the subscriber is
// on one of them. Messages of one master come in order; of several, in any order.
describeChangeFeed('redis cluster', (d) => openBackend({ broker: cluster.url, prefix: d }), {
  dropSubscribers: async () => {
    for (const n of cluster.nodes) if (n.alive()) cluster.cli(n.port, 'CLIENT', 'KILL', 'TYPE', 'pubsub');
  },
  childEnv: (d) => ({ BROKER: cluster.url, PREFIX: d }),
  clearUnordered: true,
});
describeChangeFeed('redis cluster (cache only)', (d) => openBackend({ broker: `memory:${randomUUID()}`, cache: cluster.url, prefix: d }), { clearUnordered: true });

// The same suites with every namespace they use spread over 6 shards (2 tags per master).
const SUITE_NAMESPACES = ['a', 'b', 'op', 'op2', 'odd', 'other', 'big'];
describeBackend('redis cluster, 6 shards per namespace', async () => {
  const b = await openBackend({ broker: cluster.url, prefix: prefix() });
  await b.declareShards!(Object.fromEntries(SUITE_NAMESPACES.map((ns) => [ns, 6])));
  return b;
});

describe('redis cluster URLs', () => {
  it('parses startup nodes, credentials and TLS; refuses bad URLs with one clear line that never shows the password', () => {
    expect(parseClusterUrl('redis+cluster://u%40x:p%3Aw@h1:7000,h2:7001,[::1]:7002')).toEqual({
      nodes: [
        { host: 'h1', port: 7000 },
        { host: 'h2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      redisOptions: { username: 'u@x', password: 'p:w' },
    });
    expect(parseClusterUrl('redis+cluster://h1?tls=true').redisOptions).toEqual({ tls: {} });
    expect(parseClusterUrl('rediss+cluster://:pw@h1:7000').redisOptions).toEqual({ password: 'pw', tls: {} });
    const bad: [string, RegExp][] = [
      ['redis+cluster://:secret@', /has no host/],
      ['redis+cluster://:secret@h1:port', /bad host "h1:port"/],
      ['redis+cluster://:secret@h1:7000/2', /database 0 only/],
      ['redis+cluster://:secret@h1:7000?db=1', /unknown option "db"/],
    ];
    for (const [url, re] of bad) {
      let err: Error | undefined;
      try {
        parseClusterUrl(url);
      } catch (e) {
        err = e as Error;
      }
      expect(err, url).toBeInstanceOf(ConfigError);
      expect(err!.message).toMatch(re);
      expect(err!.message).not.toContain('secret');
      expect(err!.message).not.toContain('\n');
    }
  });

  it('no node answering fails fast with BackendUnavailableError naming the masked URL', async () => {
    const [a, b] = [await freePort(), await freePort()];
    const url = `redis+cluster://u:topsecret@127.0.0.1:${a},127.0.0.1:${b}`;
    const err = await openBackend({ broker: url, prefix: prefix() }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(err!.message).toContain(`redis+cluster://u:***@127.0.0.1:${a},127.0.0.1:${b}`);
    expect(err!.message).not.toContain('topsecret');
  });

  it('redis+cluster:// to a server that is not in cluster mode says so, and how to connect instead', async () => {
    const single = await startRedisServer();
    try {
      const err = await openBackend({ broker: `redis+cluster://127.0.0.1:${single.port}`, prefix: prefix() }).then(
        () => undefined,
        (e: BackendUnavailableError) => e,
      );
      expect(err).toBeInstanceOf(BackendUnavailableError);
      expect(err!.message).toMatch(/^cannot connect to the redis cluster at redis\+cluster:\/\/127\.0\.0\.1:\d+: /);
      expect(err!.hint).toMatch(/cluster mode \(cluster-enabled yes\).*For one server use redis:\/\//);
    } finally {
      await single.stop();
    }
  });

  it('opens as the cache of another broker and as a region store', async () => {
    const region = await createRegion({ store: cluster.url, name: `r${randomUUID().slice(0, 8)}` });
    try {
      await region.setMany({ a: 1, b: 2, c: 3 });
      expect(await region.getMany(['a', 'b', 'c', 'd'])).toEqual([1, 2, 3, undefined]);
    } finally {
      await region.close();
    }
  });
});

describeRegionSteps('redis cluster', () => openBackend({ broker: cluster.url, prefix: prefix() }), { feed: true });
