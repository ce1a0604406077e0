/**
 * Autodiscovery for producers (Backache.discoverOperations): an app without the workers'
 * code accepts requests for the operations live workers serve, refuses the others with
 * the known ones, and cannot compute a discovered operation itself. Workers publish the
 * concurrency that applies per operation and the jobs they run.
 */
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { createBackache, UnknownOperationError } from '../../src/index.js';
import { waitUntil } from '../helpers/wait.js';

it('a producer with no operations delegates to a discovered operation, refuses unknown ones, and cannot compute inline', async () => {
  const broker = `memory:${randomUUID()}`;
  const worker = await createBackache({ broker, operations: { upper: async (u: string) => u.toUpperCase(), half: { concurrency: 4, run: async (u: string) => u.length / 2 } } });
  const producer = await createBackache({ broker, operations: {} });
  try {
    await expect(producer.getOrDelegate('upper', 'a')).rejects.toThrow(UnknownOperationError);
    const w = worker.startWorker();
    await waitUntil(async () => (await producer.workers()).length === 1, 'heartbeat');
    expect(await producer.discoverOperations()).toEqual(['half', 'upper']);
    expect(producer.knownOperations()).toEqual(['half', 'upper']);
    expect(producer.operationNames()).toEqual([]);
    expect(await producer.call('upper', 'a', { timeout: '10s' })).toBe('A');
    const bulk = await producer.bulkGetOrDelegate([{ op: 'half', uri: 'xy' }, { op: 'nope', uri: 'x' }]);
    expect(bulk.errors).toEqual([{ op: 'nope', uri: 'x', error: 'unknown operation "nope"; known operations: half, upper' }]);
    const inline = await producer.bulkGetOrDelegate([{ op: 'half', uri: 'abcd' }], { inline: true });
    expect(inline.errors).toEqual([{ op: 'half', uri: 'abcd', error: expect.stringMatching(/defined by the workers, not here/) }]);
    await expect(producer.getOrDelegate('nope', 'x')).rejects.toThrow('unknown operation "nope"; known operations: half, upper');
    expect(() => producer.startWorker({ ops: ['upper'] })).toThrow(UnknownOperationError);
    const [info] = await producer.workers();
    expect(info).toMatchObject({ concurrency: 8, opOptions: { upper: { concurrency: 8 }, half: { concurrency: 4 } }, running: 0 });
    expect(await producer.operations()).toEqual([
      { op: 'half', workers: 1, concurrency: 4 },
      { op: 'upper', workers: 1, concurrency: 8 },
    ]);
    await w.stop();
    // Gone from the registry, but served before: still known to a new producer.
    const later = await createBackache({ broker, operations: {} });
    expect(await later.discoverOperations()).toEqual(['half', 'upper']);
    await later.close();
  } finally {
    await producer.close();
    await worker.close();
  }
});
