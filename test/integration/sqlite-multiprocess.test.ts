/**
 * Several processes on one SQLite file: jobs are leased, never run twice by live workers
 * and never lost; locks exclude across processes; a killed worker's job comes back.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { sqliteBackend } from '../../src/core/backends/sqlite/index.js';
import type { BrokerParts } from '../../src/core/backends/index.js';
import { readLog } from '../helpers/processes.js';
import { startSqliteChild, type SqliteChild } from '../helpers/sqlite-child.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'backache-sqlite-mp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  id: string;
  attempt: number;
  pid: number;
  at: number;
}

describe('sqlite across processes', () => {
  let children: SqliteChild[] = [];
  let parent: BrokerParts | undefined;
  afterEach(async () => {
    for (const c of children) c.child.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    children = [];
    await parent?.close();
    parent = undefined;
  });

  const open = async () => {
    const db = join(dir, `${randomUUID()}.db`);
    const prefix = `mp-${randomUUID()}`;
    parent = await sqliteBackend(`sqlite:${db}`, prefix);
    return { db, prefix, b: parent };
  };

  it('three worker processes drain 300 jobs: each runs exactly once, none is lost', async () => {
    const { db, prefix, b } = await open();
    children = await Promise.all([0, 1, 2].map(() => startSqliteChild(db, prefix)));
    const logs = children.map((_, i) => join(dir, `drain-${i}-${randomUUID()}.log`));
    // All consume (and poll) before any job exists, so they race for every claim.
    await Promise.all(children.map((c, i) => c.send({ cmd: 'consume', op: 'work', concurrency: 4, leaseMs: 5000, workMs: 10, log: logs[i] })));
    const ids = Array.from({ length: 300 }, (_, i) => `job-${i}`);
    for (let i = 0; i < ids.length; i += 50) {
      await b.queue.addMany(ids.slice(i, i + 50).map((id) => ({ id, data: { op: 'work', uri: `https://x/${id}`, kwargs: {} } })));
    }
    await waitUntil(async () => {
      const c = await b.queue.counts('work');
      return c.waiting === 0 && c.active === 0;
    }, 'the queue to drain', 15_000);
    await Promise.all(children.map((c) => c.send({ cmd: 'stop' })));
    await Promise.all(children.map((c) => c.exited));

    const runs = logs.flatMap((l) => readLog<Run>(l));
    expect(runs).toHaveLength(300);
    expect(new Set(runs.map((r) => r.id))).toEqual(new Set(ids));
    expect(runs.every((r) => r.attempt === 1)).toBe(true);
    // The work was shared: more than one process took jobs.
    expect(new Set(runs.map((r) => r.pid)).size).toBeGreaterThanOrEqual(2);
    for (const id of ['job-0', 'job-150', 'job-299']) {
      const s = await b.queue.getState(id);
      expect(s.state).toBe('completed');
      const pid = Number((s as { result: { deliveryId: string } }).result.deliveryId);
      expect(runs.find((r) => r.id === id)!.pid).toBe(pid);
    }
  }, 30_000);

  it('a lock held by one process excludes the others until released or expired', async () => {
    const { db, prefix, b } = await open();
    children = await Promise.all([startSqliteChild(db, prefix), startSqliteChild(db, prefix)]);
    const [a, c] = children as [SqliteChild, SqliteChild];
    const key = { ns: 'op', id: 'https://x/ü "q"' };

    const token = await a.send<string | null>({ cmd: 'acquire', key, ttlMs: 10_000 });
    expect(token).toBeTruthy();
    expect(await c.send({ cmd: 'acquire', key, ttlMs: 10_000 })).toBeNull();
    expect(await b.locker.acquire(key, 10_000)).toBeNull();
    expect(await c.send({ cmd: 'isLocked', key })).toBe(true);
    expect(await c.send({ cmd: 'release', key, token: 'not-the-token' })).toBe(false);
    expect(await b.locker.isLocked(key)).toBe(true);

    expect(await a.send({ cmd: 'release', key, token })).toBe(true);
    const mine = await b.locker.acquire(key, 10_000);
    expect(mine).toBeTruthy();
    expect(await a.send({ cmd: 'acquire', key, ttlMs: 10_000 })).toBeNull();
    expect(await b.locker.release(key, mine!)).toBe(true);

    // Many processes racing for one free lock: exactly one wins.
    const race = await Promise.all([
      a.send<string | null>({ cmd: 'acquire', key, ttlMs: 300 }),
      c.send<string | null>({ cmd: 'acquire', key, ttlMs: 300 }),
      b.locker.acquire(key, 300),
    ]);
    expect(race.filter(Boolean)).toHaveLength(1);
    // An expired lock is taken over by another process.
    await sleep(400);
    expect(await c.send({ cmd: 'acquire', key, ttlMs: 10_000 })).toBeTruthy();
    expect(await a.send({ cmd: 'isLocked', key })).toBe(true);
  }, 30_000);

  it('a job held by a SIGKILLed process comes back after its lease, to another process, with attempt 2', async () => {
    const { db, prefix, b } = await open();
    children = await Promise.all([startSqliteChild(db, prefix), startSqliteChild(db, prefix)]);
    const [doomed, survivor] = children as [SqliteChild, SqliteChild];
    const doomedLog = join(dir, `doomed-${randomUUID()}.log`);
    const survivorLog = join(dir, `survivor-${randomUUID()}.log`);
    const leaseMs = 1000;

    await doomed.send({ cmd: 'consume', op: 'work', concurrency: 1, leaseMs, workMs: 0, log: doomedLog, hang: true });
    await b.queue.addMany([{ id: 'victim', data: { op: 'work', uri: 'https://x/victim', kwargs: { k: 1 } } }]);
    const claimed = await doomed.event('claimed');
    const claimedAt = Date.now();
    expect(claimed).toMatchObject({ id: 'victim', attempt: 1 });
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    expect((await b.queue.getState('victim')).state).toBe('active');

    await survivor.send({ cmd: 'consume', op: 'work', concurrency: 2, leaseMs: 5000, workMs: 0, log: survivorLog });
    await waitUntil(async () => (await b.queue.getState('victim')).state === 'completed', 'the job to complete on the survivor', 15_000);
    const runs = readLog<Run>(survivorLog);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ id: 'victim', attempt: 2, pid: survivor.pid });
    // Not before the dead process's lease ran out (generous bound for a loaded machine).
    expect(runs[0]!.at - claimedAt).toBeGreaterThanOrEqual(leaseMs * 0.7);
    expect(await b.queue.getState('victim')).toMatchObject({ state: 'completed', result: { deliveryId: String(survivor.pid) } });
  }, 30_000);

  it("a pause set by one process is respected by another process's consumer", async () => {
    const { db, prefix, b } = await open();
    children = [await startSqliteChild(db, prefix)];
    const log = join(dir, `paused-${randomUUID()}.log`);
    await b.queue.pause('work');
    await children[0]!.send({ cmd: 'consume', op: 'work', concurrency: 2, leaseMs: 5000, workMs: 0, log });
    await b.queue.addMany([{ id: 'p1', data: { op: 'work', uri: 'https://x/p1', kwargs: {} } }]);
    await sleep(500);
    expect(readLog(log)).toHaveLength(0);
    expect(await b.queue.counts('work')).toMatchObject({ waiting: 1, paused: true });
    await b.queue.resume('work');
    await waitUntil(async () => (await b.queue.getState('p1')).state === 'completed', 'the job after resume', 10_000);
    expect(readLog(log)).toHaveLength(1);
  }, 30_000);
});
