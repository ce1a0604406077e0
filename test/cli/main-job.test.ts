/**
 * The main job from the command line, through the built CLI: the README's first command
 * from a fresh checkout, `run` twice (second run all hits), `submit` then `submit --wait`
 * with a worker in another process sharing the store, and stdin input.
 */
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { cli, describeOnBackends, ensureBuilt, ROOT, startCli, tempDir, TEST_OPS, writeFiles } from '../helpers/cli.js';

beforeAll(ensureBuilt, 300_000);

it('the README main job: examples/urls.txt with the TypeScript example operations, twice (second run all hits)', async () => {
  // A working directory that looks like a fresh checkout: examples/ next to a new store.
  const dir = tempDir();
  symlinkSync(join(ROOT, 'examples'), join(dir, 'examples'));
  const args = ['run', 'examples/urls.txt', '--op', 'stats', '-o', 'examples/operations.ts'];
  const first = await cli(args, { cwd: dir });
  expect(first.stderr).toMatch(/run: 4 requests/);
  expect(first.code).toBe(0);
  const lines = first.lines();
  expect(lines).toHaveLength(4);
  expect(lines.every((l) => l.status === 'computed' && l.op === 'stats')).toBe(true);
  expect(lines.find((l) => l.uri === 'file:examples/data/a.txt')?.value).toEqual({ bytes: 86, lines: 2, words: 17 });

  const second = await cli(args, { cwd: dir });
  expect(second.code).toBe(0);
  expect(second.lines().map((l) => l.status)).toEqual(['hit', 'hit', 'hit', 'hit']);
  expect(second.lines().map((l) => l.value)).toEqual(expect.arrayContaining(lines.map((l) => l.value)));

  const sums = await cli(['run', 'examples/urls.txt', '--op', 'checksum', '-o', 'examples/operations.ts'], { cwd: dir });
  expect(sums.code).toBe(0);
  expect(sums.lines().every((l) => /^[0-9a-f]{64}$/.test(l.value.sha256))).toBe(true);
});

describeOnBackends('main job', (b) => {
  it('run: one JSON line per input line as results complete; a second run is all hits; stdout holds only results', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS, 'in.txt': 'a\nb\n\n   c   \n{"op":"len","uri":"x y"}\n' });
    const flags = b.flags();
    const first = await cli(['run', 'in.txt', '--op', 'upper', '-o', 'ops.mjs', ...flags], { cwd: dir });
    expect(first.code, first.stderr).toBe(0);
    const got = first.lines();
    expect(got).toHaveLength(4);
    expect(got).toEqual(
      expect.arrayContaining([
        { op: 'upper', uri: 'a', status: 'computed', value: 'A' },
        { op: 'upper', uri: 'b', status: 'computed', value: 'B' },
        { op: 'upper', uri: 'c', status: 'computed', value: 'C' },
        { op: 'len', uri: 'x y', status: 'computed', value: { len: 3 } },
      ]),
    );
    // Without a TTY: no progress line, only the one-line summary.
    expect(first.stderr.trim().split('\n')).toHaveLength(1);
    expect(first.stderr).toMatch(/^run: 4 requests: 0 hits .* 4 delegated .* 4 computed, 0 quarantined/);

    const second = await cli(['run', 'in.txt', '--op', 'upper', '-o', 'ops.mjs', ...flags], { cwd: dir });
    expect(second.code, second.stderr).toBe(0);
    expect(second.lines().map((l) => [l.uri, l.status])).toEqual([
      ['a', 'hit'],
      ['b', 'hit'],
      ['c', 'hit'],
      ['x y', 'hit'],
    ]);
    expect(second.stderr).toMatch(/4 hits/);
  });

  it('run reads stdin, and -q silences the summary', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    const r = await cli(['run', '--op', 'len', '-o', 'ops.mjs', '-q', ...b.flags()], { cwd: dir, input: 'one\ntwo\r\nthree' });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.lines().map((l) => l.value.len).sort()).toEqual([3, 3, 5]);
  });

  it('submit prints a summary; a worker in another process computes; submit --wait streams results; get reads them', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    const flags = b.flags();
    const input = 'u1\nu2\nu3\nu2\n';
    const sub = await cli(['submit', '--op', 'slow', '-o', 'ops.mjs', ...flags], { cwd: dir, input });
    expect(sub.code, sub.stderr).toBe(0);
    expect(sub.stdout).toBe('');
    expect(sub.stderr).toMatch(/submit: 4 requests: 0 hits \(0 stale\), 4 delegated \(1 coalesced\), 0 errors/);

    const worker = startCli(['work', '-o', 'ops.mjs', '--concurrency', '4', ...flags], { cwd: dir });
    try {
      await worker.waitFor(/worker .* started: /);
      const waited = await cli(['submit', '--op', 'slow', '--wait', '-o', 'ops.mjs', ...flags], { cwd: dir, input: 'u1\nu2\nu3\nu4\n' });
      expect(waited.code, waited.stderr).toBe(0);
      const lines = waited.lines();
      expect(lines.map((l) => l.uri).sort()).toEqual(['u1', 'u2', 'u3', 'u4']);
      expect(lines.every((l) => l.value === 2 && ['hit', 'computed'].includes(l.status))).toBe(true);
      expect(waited.stderr).toMatch(/4 requests/);
    } finally {
      const done = await worker.stop('SIGTERM');
      expect(done.code).toBe(0);
      expect(done.stderr).toMatch(/SIGTERM: stopping/);
      expect(done.stderr).toMatch(/worker stopped after \d+ jobs/);
    }
    const got = await cli(['get', '--op', 'slow', 'u1', 'u4', 'nope', ...flags], { cwd: dir });
    expect(got.lines()).toEqual([
      { op: 'slow', uri: 'u1', status: 'hit', value: 2 },
      { op: 'slow', uri: 'u4', status: 'hit', value: 2 },
      { op: 'slow', uri: 'nope', status: 'miss' },
    ]);
    expect(got.code).toBe(1); // some URIs have no value
  });

  it('submit --json returns the summary; submit without a worker and --wait --timeout reports the timeout (exit 1)', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    const flags = b.flags();
    const s = await cli(['submit', '--op', 'upper', '--json', '-o', 'ops.mjs', ...flags], { cwd: dir, input: 'a\nb\n' });
    expect(s.code).toBe(0);
    expect(s.json()).toMatchObject({ read: 2, hits: 0, delegated: 2, coalesced: 0, errors: 0 });
    const w = await cli(['submit', '--op', 'upper', '--wait', '--timeout', '300ms', '-o', 'ops.mjs', ...flags], { cwd: dir, input: 'a\n' });
    expect(w.code).toBe(1);
    expect(w.stdout).toBe('');
    expect(w.stderr).toMatch(/upper a: no result within 300 ms/);
  });

  it('call: computes inline or through a worker, prints the value; --json has the status', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    const flags = b.flags();
    const c1 = await cli(['call', '--op', 'echo', 'x', '--inline', '--kwargs', '{"k":1}', '-o', 'ops.mjs', ...flags], { cwd: dir });
    expect(c1.code, c1.stderr).toBe(0);
    expect(JSON.parse(c1.stdout)).toEqual({ uri: 'x', kwargs: { k: 1 } });
    const c2 = await cli(['call', '--op', 'echo', 'x', '--json', '-o', 'ops.mjs', ...flags], { cwd: dir });
    expect(c2.json()).toEqual({ op: 'echo', uri: 'x', status: 'hit', value: { uri: 'x', kwargs: { k: 1 } } });
    const c3 = await cli(['call', '--op', 'upper', 'nobody', '--timeout', '200ms', '-o', 'ops.mjs', ...flags], { cwd: dir });
    expect(c3.code).toBe(1);
    expect(c3.stderr).toMatch(/^backache: upper nobody: no result within 200ms\n  hint: no worker serves upper/);
    const c4 = await cli(['call', '--op', 'fail', 'z', '--inline', '-o', 'ops.mjs', ...flags], { cwd: dir });
    expect(c4.code).toBe(1);
    expect(c4.stderr).toMatch(/failed on z/);
  });
});
