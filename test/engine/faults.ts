/**
 * Faults at every step boundary of the worker path, across real processes: a worker killed
 * with SIGKILL right after each step's atomic call, inside the callbacks, a poison job that
 * kills every worker that runs it, a stop past its timeout. Each test asserts what was
 * delivered: every client's cbArgs reach onResult (or the quarantine item), none twice in one
 * delivery, a redelivery keeps its deliveryId and does not recompute.
 */
import { existsSync, rmSync } from 'node:fs';
import { expect, it } from 'vitest';
import { createBackache } from '../../src/index.js';
import { readLog, startFixture } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';

export interface FaultTarget {
  /** A fresh deployment: broker URL, prefix, and a log file path. */
  fresh(): { broker: string; prefix: string; log: string };
}

interface Ev {
  event: string;
  uri: string;
  pid: number;
  cbArgs?: unknown[];
  deliveryId?: string;
  redelivery?: boolean;
  at?: string;
  id?: string;
  error?: string;
  attempt?: number;
}

const clientOps = { slow: { run: async () => null, maxStalls: 1 } };

async function submit(broker: string, prefix: string, uris: string[], perUri = 2) {
  const app = await createBackache({ operations: clientOps, broker, prefix });
  const reqs = uris.flatMap((uri) => Array.from({ length: perUri }, (_, n) => ({ op: 'slow', uri, cbArgs: { uri, n } })));
  const r = await app.bulkGetOrDelegate(reqs);
  expect(r.delegated).toHaveLength(reqs.length);
  return { app, jobIds: [...new Set(r.delegated.map((d) => d.jobId))], expected: reqs.map((q) => q.cbArgs) };
}

/** Every expected cbArgs delivered at least once, none twice within one delivery. */
function checkDeliveries(events: Ev[], expected: { uri: string; n: number }[]) {
  const results = events.filter((e) => e.event === 'result');
  for (const r of results) expect(new Set(r.cbArgs!.map((c) => JSON.stringify(c))).size).toBe(r.cbArgs!.length);
  const delivered = new Set(results.flatMap((r) => r.cbArgs!.map((c) => JSON.stringify(c))));
  for (const c of expected) expect(delivered.has(JSON.stringify(c)), `cbArgs ${JSON.stringify(c)} delivered`).toBe(true);
  return results;
}

export function faultTests(t: FaultTarget) {
  const uris = ['https://f/a', 'https://f/b', 'https://f/c é'];

  // Where the first worker dies, and whether its victim's cbArgs were already in a record.
  const points: { at: string; recorded: boolean; says?: string }[] = [
    { at: 'after-begin', recorded: false },
    { at: 'run', recorded: false },
    { at: 'after-finish', recorded: true },
    { at: 'onResult', recorded: true },
    { at: 'after-onResult', recorded: true },
    { at: 'before-settle', recorded: true, says: 'delivered once: the job was recorded complete, its record left to its leak guard' },
  ];

  for (const { at, recorded, says } of points) {
    it(`SIGKILL ${at}: every cbArgs delivered, ${says ?? (recorded ? 'redelivered under the same deliveryId without recomputing' : 'computed by the next worker')}`, async () => {
      const { broker, prefix, log } = t.fresh();
      const once = `${log}.once`;
      const { app, jobIds, expected } = await submit(broker, prefix, uris);
      const env = { BROKER: broker, PREFIX: prefix, LOG: log, LEASE_MS: '800', WORK_MS: '50' };
      const a = await startFixture('fault-worker.ts', { ...env, KILL_AT: at, KILL_ONCE: once });
      await a.exited;
      expect(existsSync(once)).toBe(true);
      const victim = readLog<Ev>(log).find((e) => e.event === 'die')!.uri;
      const b = await startFixture('fault-worker.ts', env);
      for (const id of jobIds) await app.waitFor(id, { timeout: 20_000 });
      b.child.kill('SIGTERM');
      await b.exited;
      const events = readLog<Ev>(log);
      const results = checkDeliveries(events, expected);
      const forVictim = results.filter((r) => r.uri === victim);
      const computedVictim = events.filter((e) => e.event === 'computed' && e.uri === victim);
      expect(computedVictim).toHaveLength(1);
      if (at === 'before-settle') {
        // The job was recorded complete: nothing to deliver again.
        expect(forVictim).toHaveLength(1);
      } else if (recorded) {
        expect(forVictim.length).toBeGreaterThanOrEqual(at === 'after-finish' ? 1 : 2);
        expect(new Set(forVictim.map((r) => r.deliveryId)).size).toBe(1);
        // The next worker found the record: it delivered without computing, marked as a redelivery.
        expect(forVictim.at(-1)).toMatchObject({ redelivery: true, computed: false });
      } else expect(forVictim).toHaveLength(1);
      for (const uri of uris) expect(results.some((r) => r.uri === uri)).toBe(true);
      const waited = await Promise.all(jobIds.map((id) => app.waitFor(id, { timeout: 5000 })));
      expect(waited.flatMap((w) => w.cbArgs)).toHaveLength(expected.length);
      expect((await app.quarantine.list({})).items).toEqual([]);
      await app.close();
      rmSync(once, { force: true });
    }, 60_000);
  }

  for (const at of ['after-quarantine', 'onQuarantine']) {
    it(`SIGKILL ${at}: the quarantine item holds every cbArgs, written once under one id`, async () => {
      const { broker, prefix, log } = t.fresh();
      const once = `${log}.once`;
      const uri = 'https://f/quarantine-me';
      const { app, expected } = await submit(broker, prefix, [uri], 3);
      const env = { BROKER: broker, PREFIX: prefix, LOG: log, LEASE_MS: '800', WORK_MS: '20' };
      const a = await startFixture('fault-worker.ts', { ...env, KILL_AT: at, KILL_ONCE: once });
      await a.exited;
      const b = await startFixture('fault-worker.ts', env);
      await waitUntil(async () => (await app.quarantine.list({})).items.length > 0 && readLog<Ev>(log).some((e) => e.event === 'quarantined' && e.pid === b.child.pid), 'the quarantine item', 20_000);
      b.child.kill('SIGTERM');
      await b.exited;
      const { items } = await app.quarantine.list({});
      expect(items).toHaveLength(1);
      expect(items[0]!.cbArgs).toEqual(expected);
      expect(items[0]!.details).toEqual({ reason: 'asked to' });
      // Computed (and failed) once: the second worker found the quarantine record.
      expect(readLog<Ev>(log).filter((e) => e.event === 'start')).toHaveLength(1);
      await app.close();
    }, 60_000);
  }

  it('a poison job that kills every worker is quarantined with StalledError after maxStalls, with its cbArgs; the good ones complete', async () => {
    const { broker, prefix, log } = t.fresh();
    const poison = 'https://f/poison';
    const { app, jobIds, expected } = await submit(broker, prefix, [poison, ...uris]);
    // One job at a time: the good jobs are never in flight when the poison kills a worker
    // (jobs running beside it would stall too, and count towards their own maxStalls).
    const env = { BROKER: broker, PREFIX: prefix, LOG: log, LEASE_MS: '800', WORK_MS: '20', CONCURRENCY: '1' };
    // Workers come back after every crash, as a supervisor would restart them.
    let item;
    for (let i = 0; i < 6 && !item; i++) {
      const w = await startFixture('fault-worker.ts', env);
      await Promise.race([w.exited, waitUntil(async () => (await app.quarantine.list({})).items.length > 0, 'quarantine', 20_000).catch(() => {})]);
      item = (await app.quarantine.list({})).items[0];
      w.child.kill('SIGTERM');
      await w.exited;
    }
    expect(item).toMatchObject({ uri: poison, error: { name: 'StalledError' } });
    expect(item!.error.message).toMatch(/died 2 times while running slow .*\(maxStalls 1\)/);
    expect(item!.cbArgs).toEqual(expected.filter((c) => (c as { uri: string }).uri === poison));
    // Ran twice (each time killing its worker), then quarantined without running again.
    expect(readLog<Ev>(log).filter((e) => e.event === 'start' && e.uri === poison)).toHaveLength(2);
    const w = await startFixture('fault-worker.ts', env);
    const good = jobIds.slice(1);
    for (const id of good) await app.waitFor(id, { timeout: 20_000 });
    await expect(app.waitFor(jobIds[0]!, { timeout: 5000 })).rejects.toThrow(/died/);
    w.child.kill('SIGTERM');
    await w.exited;
    checkDeliveries(readLog<Ev>(log), expected.filter((c) => (c as { uri: string }).uri !== poison) as { uri: string; n: number }[]);
    await app.close();
  }, 90_000);

  it('SIGTERM with a stop past its timeout hands running jobs back: the next worker delivers them all, nothing quarantined', async () => {
    const { broker, prefix, log } = t.fresh();
    const many = Array.from({ length: 6 }, (_, i) => `https://f/stop/${i}`);
    const { app, jobIds, expected } = await submit(broker, prefix, many);
    // Long runs that honour ctx.signal (as a fetch does); a 30 s lease, so only a hand-back
    // (not an expired lease) can bring them back quickly.
    const env = { BROKER: broker, PREFIX: prefix, LOG: log, LEASE_MS: '30000', WORK_MS: '20000', CONCURRENCY: '6', STOP_MS: '500' };
    const a = await startFixture('fault-worker.ts', env);
    await waitUntil(() => readLog<Ev>(log).filter((e) => e.event === 'start').length >= 6, 'six running jobs', 20_000);
    a.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    const b = await startFixture('fault-worker.ts', { ...env, WORK_MS: '20' });
    for (const id of jobIds) await app.waitFor(id, { timeout: 15_000 });
    b.child.kill('SIGTERM');
    await b.exited;
    const events = readLog<Ev>(log);
    checkDeliveries(events, expected as { uri: string; n: number }[]);
    expect(events.filter((e) => e.event === 'result' && e.pid === a.child.pid)).toEqual([]);
    // Handed back, not stalled or retried: the second run is still attempt 1.
    expect(events.filter((e) => e.event === 'start' && e.pid === b.child.pid).map((e) => e.attempt)).toEqual([1, 1, 1, 1, 1, 1]);
    expect((await app.quarantine.list({})).items).toEqual([]);
    await app.close();
  }, 60_000);
}
