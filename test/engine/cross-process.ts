/** Cross-process guarantees of the engine, run on every shared backend (sqlite, redis). */
import { expect, it } from 'vitest';
import { createBackache } from '../../src/index.js';
import { readLog, startFixture } from '../helpers/processes.js';
import { sleep, waitUntil } from '../helpers/wait.js';

export interface CrossProcessTarget {
  /** A fresh deployment: broker URL (and prefix) plus a log file path. */
  fresh(): { broker: string; prefix?: string; log: string };
}

export function crossProcessTests(t: CrossProcessTarget) {
  it('a worker killed with SIGKILL mid-job loses nothing: another worker completes it, each callback fires once', async () => {
    const { broker, prefix, log } = t.fresh();
    const env = { BROKER: broker, PREFIX: prefix ?? 'backache', LOG: log, LEASE_MS: '1500', WORK_MS: '800', CONCURRENCY: '4' };
    const client = await createBackache({ operations: { slow: async () => 0 }, broker, prefix });
    const uris = Array.from({ length: 6 }, (_, i) => `https://x/${i} é`);
    const first = await client.bulkGetOrDelegate(uris.map((uri, i) => ({ op: 'slow', uri, cbArgs: { i } })));
    expect(first.delegated).toHaveLength(6);
    const a = await startFixture('engine-worker.ts', env);
    await waitUntil(() => readLog(log).some((e) => e.event === 'start'), 'worker A to start a job');
    a.child.kill('SIGKILL');
    await a.exited;
    const killedStarts = readLog(log).filter((e) => e.event === 'start').map((e) => e.uri);
    // More requests arrive while nobody works: they coalesce onto the pending jobs.
    await client.bulkGetOrDelegate(uris.map((uri, i) => ({ op: 'slow', uri, cbArgs: { i, late: true } })));
    const b = await startFixture('engine-worker.ts', env);
    await waitUntil(() => readLog(log).filter((e) => e.event === 'result').length >= 6, 'all six callbacks', 30_000);
    await sleep(500);
    b.child.kill('SIGTERM');
    await b.exited;
    const events = readLog<{ event: string; uri: string; pid: number; cbArgs: unknown[] }>(log);
    const results = events.filter((e) => e.event === 'result');
    expect(results.map((r) => r.uri).sort()).toEqual([...uris].sort());
    for (const r of results) {
      const i = uris.indexOf(r.uri);
      expect(r.cbArgs).toEqual([{ i }, { i, late: true }]);
    }
    // Jobs A had started were computed again by B; none computed twice to completion.
    expect(killedStarts.length).toBeGreaterThan(0);
    const computed = events.filter((e) => e.event === 'computed');
    expect(new Set(computed.map((c) => c.uri)).size).toBe(computed.length);
    for (const u of uris) expect(await client.get('slow', u)).toMatchObject({ value: { uri: u } });
    await client.close();
  }, 60_000);

  it('4 client processes × 250 concurrent requests for one pair, 2 worker processes: one computation, one callback with all 1,000 cbArgs, one job id', async () => {
    const { broker, prefix, log } = t.fresh();
    const env = { BROKER: broker, PREFIX: prefix ?? 'backache', LOG: log, WORK_MS: '500' };
    const workers = await Promise.all([startFixture('engine-worker.ts', env), startFixture('engine-worker.ts', env)]);
    const startAt = String(Date.now() + 3000);
    const clients = await Promise.all(
      [0, 1, 2, 3].map((c) => startFixture('engine-client.ts', { ...env, URI: 'https://x/one', N: '250', BASE: String(c * 250), START_AT: startAt }, false)),
    );
    expect(await Promise.all(clients.map((c) => c.exited))).toEqual([0, 0, 0, 0]);
    const all = clients.flatMap((c) => JSON.parse(c.output().trim().split('\n').at(-1)!) as { status: string; jobId?: string; coalesced?: boolean }[]);
    expect(all).toHaveLength(1000);
    const delegated = all.filter((r) => r.status === 'delegated');
    expect(new Set(delegated.map((r) => r.jobId)).size).toBe(1);
    expect(delegated.filter((r) => !r.coalesced)).toHaveLength(1);
    await waitUntil(() => readLog(log).some((e) => e.event === 'result'), 'the callback', 20_000);
    await sleep(800);
    const events = readLog<{ event: string; cbArgs: number[] }>(log);
    expect(events.filter((e) => e.event === 'computed')).toHaveLength(1);
    const results = events.filter((e) => e.event === 'result');
    expect(results).toHaveLength(1);
    // Requests that arrived after the entry was stored are hits, not callbacks.
    const hits = all.length - delegated.length;
    expect(results[0]!.cbArgs).toHaveLength(1000 - hits);
    expect(new Set(results[0]!.cbArgs).size).toBe(1000 - hits);
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
  }, 60_000);
}
