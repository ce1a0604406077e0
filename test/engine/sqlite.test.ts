import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createBackache } from '../../src/index.js';
import { readLog, startFixture } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';
import { describeEngineScenarios } from './scenarios.js';

const dir = mkdtempSync(join(tmpdir(), 'backache-engine-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeEngineScenarios('sqlite', async () => ({ broker: `sqlite:${join(dir, `${randomUUID()}.db`)}` }));

describe('engine on sqlite across processes', () => {
  it('a worker killed with SIGKILL mid-job loses nothing: another worker completes it, each callback fires once', async () => {
    const db = join(dir, 'kill.db');
    const log = join(dir, 'kill.log');
    const broker = `sqlite:${db}`;
    const env = { BROKER: broker, LOG: log, LEASE_MS: '1500', WORK_MS: '800', CONCURRENCY: '4' };
    const client = await createBackache({ operations: { slow: async () => 0 }, broker });
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
    await new Promise((r) => setTimeout(r, 500));
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
  });

  it('4 clients × concurrent requests for one pair with 2 worker processes: one computation, one callback with every cbArg', async () => {
    const db = join(dir, 'coalesce.db');
    const log = join(dir, 'coalesce.log');
    const broker = `sqlite:${db}`;
    const env = { BROKER: broker, LOG: log, WORK_MS: '500' };
    const workers = await Promise.all([startFixture('engine-worker.ts', env), startFixture('engine-worker.ts', env)]);
    const clients = await Promise.all(Array.from({ length: 4 }, () => createBackache({ operations: { slow: async () => 0 }, broker })));
    const res = await Promise.all(clients.flatMap((c, ci) => Array.from({ length: 50 }, (_, i) => c.getOrDelegate('slow', 'https://x/one', { cbArgs: ci * 50 + i }))));
    const jobIds = new Set(res.map((r) => (r as { jobId: string }).jobId));
    expect(jobIds.size).toBe(1);
    await waitUntil(() => readLog(log).some((e) => e.event === 'result'), 'the callback', 20_000);
    await new Promise((r) => setTimeout(r, 800));
    const events = readLog<{ event: string; cbArgs: number[] }>(log);
    expect(events.filter((e) => e.event === 'computed')).toHaveLength(1);
    const results = events.filter((e) => e.event === 'result');
    expect(results).toHaveLength(1);
    expect([...results[0]!.cbArgs].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await Promise.all(clients.map((c) => c.close()));
  });
});
