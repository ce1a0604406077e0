/**
 * `kwargs` are the arguments of one run (a retry's attempt, a replay's override), not part
 * of the cache identity (README "Design choices"): an entry is keyed by (op, uri) only.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createBackache, defineOperations, type Backache } from '../../src/index.js';

const operations = defineOperations({
  thumbnail: async (uri, ctx) => ({ uri, width: ctx.kwargs.width ?? null }),
});

let app: Backache | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe('kwargs and the cache identity', () => {
  it('a second request with other kwargs for the same URI is a hit with the first value', async () => {
    app = await createBackache({ operations, broker: `memory:${randomUUID()}` });
    const worker = app.startWorker({ concurrency: 1 });
    try {
      const first = await app.getOrDelegate('thumbnail', 'https://example.com/a.png', { kwargs: { width: 200 } });
      expect(first.status).toBe('delegated');
      if (first.status !== 'delegated') return;
      expect((await app.waitFor(first.jobId, { timeout: 10_000 })).value).toEqual({ uri: 'https://example.com/a.png', width: 200 });

      const second = await app.getOrDelegate('thumbnail', 'https://example.com/a.png', { kwargs: { width: 400 } });
      expect(second).toEqual({ status: 'hit', value: { uri: 'https://example.com/a.png', width: 200 }, stale: false });
      expect(await app.call('thumbnail', 'https://example.com/a.png', { kwargs: { width: 800 } })).toEqual({ uri: 'https://example.com/a.png', width: 200 });
    } finally {
      await worker.stop();
    }
  });

  it('while a job is pending, a request with other kwargs coalesces onto it (the first kwargs run)', async () => {
    app = await createBackache({ operations, broker: `memory:${randomUUID()}` });
    const a = await app.getOrDelegate('thumbnail', 'https://example.com/b.png', { kwargs: { width: 200 } });
    const b = await app.getOrDelegate('thumbnail', 'https://example.com/b.png', { kwargs: { width: 400 } });
    expect(a.status === 'delegated' && b.status === 'delegated').toBe(true);
    if (a.status !== 'delegated' || b.status !== 'delegated') return;
    expect(b).toMatchObject({ jobId: a.jobId, coalesced: true });
    const worker = app.startWorker({ concurrency: 1 });
    try {
      expect((await app.waitFor(b.jobId, { timeout: 10_000 })).value).toEqual({ uri: 'https://example.com/b.png', width: 200 });
    } finally {
      await worker.stop();
    }
  });
});
