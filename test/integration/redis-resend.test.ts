/**
 * ioredis resends a command whose reply was lost (its default). A TCP proxy in front of Redis
 * runs a command and then drops the connection before its reply reaches the client, so the
 * command runs twice on the server: every script that changes state must answer the resend
 * as it answered the first run. Through the engine's public API: what `onResult` receives.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createBackache, openBackend, type Backache } from '../../src/index.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { startTcpProxy, type Command, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitUntil } from '../helpers/wait.js';

let server: RedisServer;
let proxy: TcpProxy;
beforeAll(async () => {
  server = await startRedisServer();
  proxy = await startTcpProxy(server.port);
});
afterAll(async () => {
  await proxy?.close();
  await server?.stop();
});

const isScript = (cmd: Command) => cmd[0] === 'EVALSHA' || cmd[0] === 'EVAL';
/** pending-add-n.lua: KEYS are the pair count `…:p:n` and the request ids `…:p:r:<bucket>`. */
const isPendingAdd = (cmd: Command) => isScript(cmd) && cmd[2] === '2' && cmd[3]!.endsWith(':p:n') && cmd[4]!.includes(':p:r:');
/** steps-finish-n.lua: KEYS are the cache index `…:c:ids` and the pair count `…:p:n`. */
const isFinish = (cmd: Command) => isScript(cmd) && cmd[2] === '2' && cmd[3]!.endsWith(':c:ids') && cmd[4]!.endsWith(':p:n');

interface Delivery {
  uri: string;
  cbArgs: unknown[];
  deliveryId: string;
}

function app(broker: string, prefix: string, deliveries: Delivery[] = []) {
  return createBackache({
    broker,
    prefix,
    operations: {
      title: {
        run: async (uri: string) => `T(${uri})`,
        onResult: async (_value: unknown, cbArgs: unknown[], info: { uri: string; deliveryId: string }) => {
          deliveries.push({ uri: info.uri, cbArgs, deliveryId: info.deliveryId });
        },
      },
    },
  });
}

/** Every delivery, grouped by uri: the cbArgs each got, and whether one delivery held a cbArg twice. */
function byUri(deliveries: Delivery[]) {
  const got: Record<string, unknown[]> = {};
  let twiceInOne = false;
  for (const d of deliveries) {
    (got[d.uri] ??= []).push(...d.cbArgs);
    if (new Set(d.cbArgs.map((c) => JSON.stringify(c))).size !== d.cbArgs.length) twiceInOne = true;
  }
  for (const k of Object.keys(got)) got[k]!.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  return { got, twiceInOne };
}

it('a pending add whose reply is lost is resent: each cbArgs joins its pair once, and the answer is the same', async () => {
  const prefix = `rs-${randomUUID().slice(0, 8)}`;
  const client = await app(proxy.url, prefix);
  const deliveries: Delivery[] = [];
  let worker: Backache | undefined;
  try {
    const dropped = proxy.dropAfterReply(isPendingAdd);
    const before = proxy.count(isPendingAdd);
    const res = await client.bulkGetOrDelegate([
      { op: 'title', uri: 'https://x/1', cbArgs: { who: 'a' } },
      { op: 'title', uri: 'https://x/1', cbArgs: { who: 'b' } },
      { op: 'title', uri: 'https://x/2', cbArgs: { who: 'c' } },
    ]);
    await dropped;
    // The script reached Redis twice: once before the drop, once resent after the reconnect.
    expect(proxy.count(isPendingAdd) - before).toBe(2);
    expect(res.errors).toEqual([]);
    expect(res.delegated.map((d) => [d.uri, d.coalesced])).toEqual([
      ['https://x/1', false],
      ['https://x/1', true],
      ['https://x/2', false],
    ]);
    expect(res.delegated[1]!.jobId).toBe(res.delegated[0]!.jobId);

    // A worker on a direct connection delivers the pairs as they are in Redis.
    worker = await app(server.url, prefix, deliveries);
    const w = worker.startWorker({ concurrency: 4 });
    await Promise.all(res.delegated.map((d) => client.waitFor(d.jobId, { timeout: 15_000 })));
    await waitUntil(() => deliveries.length >= 2, 'both deliveries');
    await w.stop();
    const { got, twiceInOne } = byUri(deliveries);
    expect(twiceInOne).toBe(false);
    expect(got).toEqual({ 'https://x/1': [{ who: 'a' }, { who: 'b' }], 'https://x/2': [{ who: 'c' }] });
    expect(deliveries).toHaveLength(2);
  } finally {
    await worker?.close();
    await client.close();
  }
});

it('a finish whose reply is lost is resent: onResult fires once per record with every cbArg, none lost, none twice', async () => {
  const prefix = `rs-${randomUUID().slice(0, 8)}`;
  const client = await app(server.url, prefix);
  const deliveries: Delivery[] = [];
  const worker = await app(proxy.url, prefix, deliveries);
  try {
    const uris = Array.from({ length: 5 }, (_, i) => `https://y/${i}`);
    const requests = uris.flatMap((uri) => [1, 2, 3].map((n) => ({ op: 'title', uri, cbArgs: { uri, n } })));
    const res = await client.bulkGetOrDelegate(requests);
    expect(res.delegated).toHaveLength(15);

    const dropped = proxy.dropAfterReply(isFinish);
    const before = proxy.count(isFinish);
    const w = worker.startWorker({ concurrency: 5 });
    const lost = await dropped;
    await Promise.all(res.delegated.map((d) => client.waitFor(d.jobId, { timeout: 15_000 })));
    await waitUntil(() => byUri(deliveries).got[uris.at(-1)!]?.length === 3 && Object.keys(byUri(deliveries).got).length === 5, 'every uri delivered');
    await w.stop();

    // The lost finish ran twice (the same arguments: a resend), and its jobs were delivered once.
    expect(proxy.count((c) => c.length === lost.length && c.every((a, i) => a === lost[i]))).toBe(2);
    expect(proxy.count(isFinish) - before).toBeGreaterThanOrEqual(2);
    const { got, twiceInOne } = byUri(deliveries);
    expect(twiceInOne).toBe(false);
    expect(got).toEqual(Object.fromEntries(uris.map((uri) => [uri, [1, 2, 3].map((n) => ({ uri, n }))])));
    expect(deliveries).toHaveLength(5);
    expect(new Set(deliveries.map((d) => d.deliveryId)).size).toBe(5);
  } finally {
    await worker.close();
    await client.close();
  }
});

it('a counter batch whose reply is lost is resent and added once', async () => {
  const prefix = `rs-${randomUUID().slice(0, 8)}`;
  const isIncr = (cmd: Command) => isScript(cmd) && cmd[2] === '2' && cmd[3]!.endsWith(':stats') && cmd[4]!.includes(':stats:b:');
  const b = await openBackend({ broker: proxy.url, prefix });
  try {
    const dropped = proxy.dropAfterReply(isIncr);
    await b.registry.incr({ title: { hits: 3, misses: 1 } });
    const lost = await dropped;
    expect(proxy.count((c) => c.length === lost.length && c.every((a, i) => a === lost[i]))).toBe(2);
    expect((await b.registry.counters()).title).toMatchObject({ hits: 3, misses: 1 });
  } finally {
    await b.close();
  }
});
