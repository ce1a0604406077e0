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
import { sleep, waitUntil } from '../helpers/wait.js';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

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

/** BullMQ's moveToActive: its KEYS include the queue's limiter and marker, not the completed set. */
const isTake = (cmd: Command) => isScript(cmd) && cmd.some((x) => x.endsWith(':jobs:limiter')) && cmd.some((x) => x.endsWith(':jobs:marker')) && !cmd.some((x) => x.endsWith(':jobs:completed'));

it('takes whose replies were lost (BullMQ leaves the job active under a lock nobody renews) are not deaths: the job runs and delivers, even with maxStalls 0', async () => {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const deliveries: unknown[][] = [];
  const quarantined: string[] = [];
  const operations = {
    o: {
      run: async (u: string) => u.toUpperCase(),
      onResult: async (_v: unknown, cb: unknown[]) => void deliveries.push(cb),
      onQuarantine: async (it: { error: { name: string } }) => void quarantined.push(it.error.name),
      maxStalls: 0,
    },
  };
  const producer = await createBackache({ operations, broker: server.url, prefix });
  const worker = await createBackache({ operations, broker: proxy.url, prefix });
  const w = worker.startWorker({ lease: '500ms' });
  await waitUntil(async () => (await producer.workers()).length === 1, 'the worker');
  await sleep(300); // idle: blocked on the queue's marker, so the next take is of our job
  // The next two takes lose their replies: each costs a lease before BullMQ's stalled check gives the job back.
  const drops = (async () => {
    for (let i = 0; i < 2; i++) await proxy.dropAfterReply(isTake);
  })();
  const d = await producer.getOrDelegate('o', 'a', { cbArgs: 'client-1' });
  const jobId = (d as { jobId: string }).jobId;
  expect(await producer.waitFor(jobId, { timeout: 20_000 })).toEqual({ value: 'A', cbArgs: ['client-1'] });
  await drops;
  await w.stop();
  const conn = new Redis(server.url, { maxRetriesPerRequest: null });
  const q = new Queue('jobs', { connection: conn, prefix: `{${prefix}:o}` });
  const job = await q.getJob(jobId);
  // BullMQ counted the lost takes as stalls; the engine did not count them as deaths.
  expect(job!.stalledCounter).toBeGreaterThanOrEqual(1);
  await q.close();
  conn.disconnect();
  expect(deliveries).toEqual([['client-1']]);
  expect(quarantined).toEqual([]);
  await worker.close();
  await producer.close();
}, 30_000);
