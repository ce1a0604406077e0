/**
 * Producers without the workers' code: submit, call, warm, get and invalidate with no
 * operations module, for an operation a worker has registered; one known to neither is
 * refused with the known ones (exit 2). And `ops`/`workers` show the concurrency that
 * applies per operation (defect 6: an operation's own `concurrency` was shown as the
 * worker's default).
 */
import { beforeAll, expect, it } from 'vitest';
import { cli, describeOnBackends, ensureBuilt, startCli, tempDir, writeFiles } from '../helpers/cli.js';
import { waitUntil } from '../helpers/wait.js';

beforeAll(ensureBuilt, 300_000);

const OPS = `
export default {
  upper: async (uri) => uri.toUpperCase(),
  half: { concurrency: 4, run: async (uri) => uri.length / 2 },
};
`;

describeOnBackends('producers without --operations', (b) => {
  it('submit, call, warm, get and invalidate need no module for an operation a worker registered; others are refused listing the known ones', async () => {
    // The worker has the module; the producers' directory has none (and no config file).
    const workDir = tempDir();
    const dir = tempDir();
    writeFiles(workDir, { 'ops.mjs': OPS });
    const flags = b.name === 'sqlite' ? ['--broker', `sqlite:${workDir}/shared.db`] : b.flags();
    // Nothing registered yet: refused, saying how to get a known operation.
    const early = await cli(['submit', '--op', 'upper', ...flags], { cwd: dir, input: 'a\n' });
    expect(early.code).toBe(2);
    expect(early.stderr).toMatch(/^backache: unknown operation "upper"; known operations: \(none\)\n {2}hint: no worker has registered an operation here yet: start one \(backache work -o FILE\), or pass --operations FILE/);

    const w = startCli(['work', '-o', 'ops.mjs', ...flags], { cwd: workDir });
    await w.waitFor(/started: upper, half/);
    await waitUntil(async () => (await cli(['workers', '--json', ...flags], { cwd: dir })).json().length === 1, 'the worker registered');

    const sub = await cli(['submit', '--op', 'upper', '--wait', ...flags], { cwd: dir, input: 'a\nb\n' });
    expect(sub.code, sub.stderr).toBe(0);
    expect(sub.lines().map((l) => [l.uri, l.status, l.value]).sort()).toEqual([
      ['a', 'computed', 'A'],
      ['b', 'computed', 'B'],
    ]);
    const lines = await cli(['submit', '--wait', ...flags], { cwd: dir, input: '{"op":"half","uri":"abcd"}\n{"op":"nope","uri":"x"}\n' });
    expect(lines.code).toBe(1); // the bad line
    expect(lines.lines()).toEqual([{ op: 'half', uri: 'abcd', status: 'computed', value: 2 }]);
    expect(lines.stderr).toMatch(/line 2: unknown operation "nope"; known operations: half, upper/);

    const call = await cli(['call', '--op', 'half', 'xyz', '--json', ...flags], { cwd: dir });
    expect(call.code, call.stderr).toBe(0);
    expect(call.json()).toEqual({ op: 'half', uri: 'xyz', status: 'computed', value: 1.5 });
    const inline = await cli(['call', '--op', 'half', 'xyz', '--inline', ...flags], { cwd: dir });
    expect(inline.code).toBe(2);
    expect(inline.stderr).toMatch(/^backache: --inline computes half in this process: it needs the operations module that defines it\n/);

    const warm = await cli(['warm', '--op', 'upper', '--json', ...flags], { cwd: dir, input: 'a\nc\n' });
    expect(warm.code, warm.stderr).toBe(0);
    expect(warm.json()).toMatchObject({ read: 2, queued: 1, fresh: 1, errors: 0 });
    await waitUntil(async () => (await cli(['get', '--op', 'upper', 'c', ...flags], { cwd: dir })).code === 0, 'c warmed');

    const get = await cli(['get', '--op', 'upper', 'a', 'c', ...flags], { cwd: dir });
    expect(get.code, get.stderr).toBe(0);
    expect(get.lines()).toEqual([
      { op: 'upper', uri: 'a', status: 'hit', value: 'A' },
      { op: 'upper', uri: 'c', status: 'hit', value: 'C' },
    ]);
    const inv = await cli(['invalidate', '--op', 'upper', 'a', '--json', ...flags], { cwd: dir });
    expect(inv.code, inv.stderr).toBe(0);
    expect(inv.json()).toMatchObject({ matched: 1, invalidated: 1 });

    // Known to neither the (absent) module nor the registry: exit 2, one line, the known ones.
    for (const args of [
      ['submit', '--op', 'nope'],
      ['call', '--op', 'nope', 'x'],
      ['warm', '--op', 'nope'],
      ['get', '--op', 'nope', 'x'],
      ['invalidate', '--op', 'nope', 'x'],
    ]) {
      const r = await cli([...args, ...flags], { cwd: dir, input: 'x\n' });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr, args.join(' ')).toBe('backache: unknown operation "nope"; known operations: half, upper\n');
    }

    // Every worker stopped (a restart, a deploy): operations they served stay known, so
    // producers keep queueing for the next worker.
    expect((await w.stop('SIGTERM')).code).toBe(0);
    await waitUntil(async () => (await cli(['workers', '--json', ...flags], { cwd: dir })).json().length === 0, 'the worker gone');
    const later = await cli(['submit', '--op', 'upper', '--json', ...flags], { cwd: dir, input: 'later\n' });
    expect(later.code, later.stderr).toBe(0);
    expect(later.json()).toMatchObject({ delegated: 1 });
  }, 180_000);

  it("ops and workers show the concurrency that applies per operation (an operation's own wins over the worker's default)", async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': OPS });
    const flags = b.flags();
    const w = startCli(['work', '-o', 'ops.mjs', ...flags], { cwd: dir });
    await w.waitFor(/started: upper, half/);
    await waitUntil(async () => (await cli(['workers', '--json', ...flags], { cwd: dir })).json().length === 1, 'the worker registered');
    const ops = await cli(['ops', '--json', ...flags], { cwd: dir });
    expect(ops.json()).toEqual([
      { op: 'half', workers: 1, concurrency: 4, local: false },
      { op: 'upper', workers: 1, concurrency: 8, local: false },
    ]);
    const workers = await cli(['workers', '--json', ...flags], { cwd: dir });
    expect(workers.json()).toEqual([expect.objectContaining({ ops: ['upper', 'half'], concurrency: 8, opOptions: { upper: { concurrency: 8 }, half: { concurrency: 4 } }, running: 0 })]);
    const human = await cli(['workers', ...flags], { cwd: dir });
    expect(human.stdout).toMatch(/^ID\s+HOST\s+PID\s+OPS\s+CONCURRENCY\s+RUNNING\s+PROCESSED/);
    expect(human.stdout).toMatch(/\supper,half\s+upper=8,half=4\s+0\s/);
    const opsTable = await cli(['ops', ...flags], { cwd: dir });
    expect(opsTable.stdout).toMatch(/^half\s+1\s+4\s+no$/m);
    expect((await w.stop('SIGTERM')).code).toBe(0);

    // --concurrency overrides every operation's own: 2 for both.
    const w2 = startCli(['work', '-o', 'ops.mjs', '--concurrency', '2', ...flags], { cwd: dir });
    await w2.waitFor(/started: upper, half/);
    await waitUntil(async () => (await cli(['workers', '--json', ...flags], { cwd: dir })).json().length === 1, 'the second worker registered');
    expect((await cli(['ops', '--json', ...flags], { cwd: dir })).json().map((o: { concurrency: number }) => o.concurrency)).toEqual([2, 2]);
    expect((await cli(['workers', ...flags], { cwd: dir })).stdout).toMatch(/\supper,half\s+2\s+0\s/);
    expect((await w2.stop('SIGTERM')).code).toBe(0);
  }, 180_000);
});
