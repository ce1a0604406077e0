/** `app.recentJobs(op, limit)`: the dashboard's detail view (newest first, [] when unsupported). */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createBackache, defineOperations, openBackend } from '../../src/index.js';
import { waitUntil } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'backache-recent-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ops = defineOperations({ upper: async (uri) => uri.toUpperCase(), other: async (uri) => uri });

describe.each([
  ['memory', () => `memory:${randomUUID()}`],
  ['sqlite', () => `sqlite:${join(dir, `${randomUUID()}.db`)}`],
])('recentJobs on %s', (_name, broker) => {
  it('lists the newest jobs of one operation first, with their state', async () => {
    const app = await createBackache({ operations: ops, broker: broker() });
    try {
      await app.bulkGetOrDelegate(['a', 'b', 'c'].map((uri) => ({ op: 'upper', uri })));
      await app.bulkGetOrDelegate([{ op: 'other', uri: 'x' }]);
      const waiting = await app.recentJobs('upper', 2);
      expect(waiting.map((j) => [j.uri, j.state])).toEqual([
        ['c', 'waiting'],
        ['b', 'waiting'],
      ]);
      expect(typeof waiting[0]!.id).toBe('string');
      const w = app.startWorker({ ops: ['upper'] });
      await waitUntil(async () => (await app.recentJobs('upper')).every((j) => j.state === 'completed'), 'jobs completed');
      await w.stop();
      expect((await app.recentJobs('upper')).map((j) => j.uri)).toEqual(['c', 'b', 'a']);
      expect((await app.recentJobs('other')).map((j) => [j.uri, j.state])).toEqual([['x', 'waiting']]);
    } finally {
      await app.close();
    }
  });
});

it('recentJobs is [] when the queue cannot list recent jobs', async () => {
  const backend = await openBackend({ broker: `memory:${randomUUID()}` });
  const app = await createBackache({ operations: ops, backend: { ...backend, queue: Object.assign(Object.create(backend.queue), { recent: undefined }) } });
  try {
    expect(await app.recentJobs('upper')).toEqual([]);
  } finally {
    await app.close();
    await backend.close();
  }
});
