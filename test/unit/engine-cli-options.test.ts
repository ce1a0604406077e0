/**
 * Engine options added for the command line: warm({ dryRun }), startWorker({ onOutcome }),
 * invalidate({ onProgress }), quarantine.replay({ onProgress }).
 */
import { randomUUID } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { createBackache, type Backache } from '../../src/index.js';
import type { ClaimedJob, JobOutcome } from '../../src/core/ports.js';
import { waitUntil } from '../helpers/wait.js';

const apps: Backache[] = [];
const open = async () => {
  const app = await createBackache({
    operations: { up: async (u: string) => u.toUpperCase(), no: async (_u: string, ctx) => ctx.quarantine({ why: 'no' }) },
    broker: `memory:${randomUUID()}`,
  });
  apps.push(app);
  return app;
};
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

it('warm({ dryRun }) counts and lists what would be queued, and queues nothing', async () => {
  const app = await open();
  const w = app.startWorker();
  await app.call('up', 'fresh');
  await w.stop();
  const dry = await app.warm(
    [
      { op: 'up', uri: 'fresh' },
      { op: 'up', uri: 'a' },
      { op: 'up', uri: 'a' },
      { op: 'nope', uri: 'b' },
    ],
    { dryRun: true },
  );
  expect(dry).toMatchObject({ queued: 1, fresh: 1, jobIds: [], items: [{ op: 'up', uri: 'a' }] });
  expect(dry.errors).toHaveLength(1);
  expect((await app.stats()).ops.find((o) => o.op === 'up')?.waiting).toBe(0);
  const real = await app.warm([{ op: 'up', uri: 'a' }]);
  expect(real).toMatchObject({ queued: 1, items: [] });
  expect(real.jobIds).toHaveLength(1);
});

it('startWorker({ onOutcome }) is told of every finished job', async () => {
  const app = await open();
  const seen: [string, JobOutcome['type']][] = [];
  const w = app.startWorker({ onOutcome: (job: ClaimedJob, o: JobOutcome) => void seen.push([job.data.uri, o.type]) });
  await app.bulkGetOrDelegate([
    { op: 'up', uri: 'x' },
    { op: 'no', uri: 'y' },
  ]);
  await waitUntil(() => seen.length === 2, 'two outcomes');
  await w.stop();
  expect(seen.sort()).toEqual([
    ['x', 'completed'],
    ['y', 'quarantined'],
  ]);
});

it('invalidate and replay report progress', async () => {
  const app = await open();
  const w = app.startWorker();
  const uris = Array.from({ length: 5 }, (_, i) => `u${i}`);
  for (const u of uris) await app.call('up', u);
  await app.bulkGetOrDelegate(uris.map((uri) => ({ op: 'no', uri })));
  await waitUntil(async () => (await app.quarantine.list({ op: 'no' })).items.length === 5, 'five quarantined');
  await w.stop();
  const inv: number[] = [];
  expect(await app.invalidate({ op: 'up', dryRun: true, onProgress: (n) => inv.push(n) })).toMatchObject({ matched: 5 });
  expect(inv.at(-1)).toBe(5);
  inv.length = 0;
  expect(await app.invalidate({ op: 'up', onProgress: (n) => inv.push(n) })).toMatchObject({ invalidated: 5 });
  expect(inv.at(-1)).toBe(5);
  const rep: number[] = [];
  const r = await app.quarantine.replay({ op: 'no' }, { onProgress: (n) => rep.push(n) });
  expect(r.replayed).toBe(5);
  expect(rep).toEqual([5]);
});
