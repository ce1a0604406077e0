/**
 * `warm` and `invalidate` by URI, by template (bound: exact URIs; unbound: a scan through
 * the index), by glob and --all, with --var, --soft and --dry-run; `warm --template` fed
 * with variables from stdin.
 */
import { beforeAll, expect, it } from 'vitest';
import { cli, describeOnBackends, ensureBuilt, startCli, tempDir, TEST_OPS, writeFiles } from '../helpers/cli.js';

beforeAll(ensureBuilt, 300_000);

const T = 'https://x.example/users/{id}/feed';
const feed = (id: number | string) => `https://x.example/users/${id}/feed`;

describeOnBackends('warm and invalidate', (b) => {
  it('warm by template and --var queues exact URIs; --dry-run prints what would be queued; fresh entries are skipped unless --force', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    const flags = [...b.flags(), '-o', 'ops.mjs'];
    const dry = await cli(['warm', '--op', 'upper', '--template', T, '--var', 'id=1', '--var', 'id=2', '--dry-run', ...flags], { cwd: dir });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.lines()).toEqual([
      { op: 'upper', uri: feed(1) },
      { op: 'upper', uri: feed(2) },
    ]);
    expect(dry.stderr).toMatch(/warm: 2 read, 2 would queue, 0 already fresh, 0 errors/);
    expect((await cli(['stats', '--json', ...flags], { cwd: dir })).json().totals.waiting).toBe(0);

    const real = await cli(['warm', '--op', 'upper', '--template', T, '--var', 'id=1', '--var', 'id=2', '--json', ...flags], { cwd: dir });
    expect(real.json()).toMatchObject({ read: 2, queued: 2, fresh: 0, errors: 0, dryRun: false });
    // A worker computes them; warming again finds them fresh; --force queues them again.
    await cli(['run', '--op', 'upper', ...flags], { cwd: dir, input: `${feed(1)}\n${feed(2)}\n` });
    const again = await cli(['warm', '--op', 'upper', '--template', T, '--var', 'id=1', '--var', 'id=2', '--var', 'id=3', ...flags], { cwd: dir });
    expect(again.stderr).toMatch(/warm: 3 read, 1 queued, 2 already fresh/);
    const forced = await cli(['warm', '--op', 'upper', '--template', T, '--var', 'id=1', '--force', '--json', ...flags], { cwd: dir });
    expect(forced.json()).toMatchObject({ queued: 1, fresh: 0 });
  });

  it('warm --template with unbound placeholders reads one JSON object of variables a line; bad lines are named', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    const flags = [...b.flags(), '-o', 'ops.mjs'];
    const input = '{"id":7}\n{"id":"8"}\n\n{"user":9}\n{"id":[1]}\nnot json\n';
    const r = await cli(['warm', '--op', 'len', '--template', T, '--dry-run', ...flags], { cwd: dir, input });
    expect(r.code).toBe(1);
    expect(r.lines()).toEqual([
      { op: 'len', uri: feed(7) },
      { op: 'len', uri: feed(8) },
    ]);
    expect(r.stderr).toMatch(/^line 4: the template has no \{user\} placeholder \(it has \{id\}\)$/m);
    expect(r.stderr).toMatch(/^line 5: variable "id" must be a string or a number$/m);
    expect(r.stderr).toMatch(/^line 6: not valid JSON/m);
    // The same from a FILE, for real.
    writeFiles(dir, { 'ids.jsonl': '{"id":7}\n{"id":8}\n' });
    const f = await cli(['warm', 'ids.jsonl', '--op', 'len', '--template', T, '--json', ...flags], { cwd: dir });
    expect(f.json()).toMatchObject({ read: 2, queued: 2, errors: 0 });
  });

  it('warm from a file of URIs, JSON lines with kwargs; --cached / --match refresh what is cached', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS, 'urls.txt': `${feed(1)}\n{"op":"echo","uri":"${feed(2)}","kwargs":{"a":1}}\n` });
    const flags = [...b.flags(), '-o', 'ops.mjs'];
    const r = await cli(['warm', 'urls.txt', '--op', 'echo', ...flags], { cwd: dir });
    expect(r.code).toBe(0);
    const w = startCli(['work', ...flags], { cwd: dir });
    try {
      await w.waitFor(/started/);
      await cli(['call', '--op', 'echo', feed(2), '--timeout', '10s', ...flags], { cwd: dir });
      const got = await cli(['get', '--op', 'echo', feed(2), ...flags], { cwd: dir });
      expect(got.lines()[0].value).toEqual({ uri: feed(2), kwargs: { a: 1 } });
    } finally {
      await w.stop();
    }
    const cached = await cli(['warm', '--op', 'echo', '--template', T, '--cached', '--force', '--dry-run', ...flags], { cwd: dir });
    expect(cached.lines().map((l) => l.uri).sort()).toEqual([feed(1), feed(2)]);
    const glob = await cli(['warm', '--op', 'echo', '--match', 'https://x.example/users/2*', '--force', '--dry-run', ...flags], { cwd: dir });
    expect(glob.lines()).toEqual([{ op: 'echo', uri: feed(2) }]);
    const bad = await cli(['warm', '--op', 'echo', '--template', T, '--match', 'x*', ...flags], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('backache: give --template or --match, not both\n');
  });

  it('invalidate by URI, by template (bound and unbound), by glob, --soft, --dry-run, --all --yes', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    const flags = [...b.flags(), '-o', 'ops.mjs'];
    const uris = [feed(1), feed(2), feed(3), `${feed(4)}/extra`, 'https://other.example/a'];
    const r = await cli(['run', '--op', 'upper', ...flags], { cwd: dir, input: uris.join('\n') });
    expect(r.code).toBe(0);
    const status = async () => (await cli(['get', '--op', 'upper', ...uris, ...flags], { cwd: dir })).lines().map((l) => l.status);

    // Unbound template, dry run: matches through the index, one path segment per placeholder.
    const dry = await cli(['invalidate', '--op', 'upper', '--template', T, '--dry-run', ...flags], { cwd: dir });
    expect(dry.code).toBe(0);
    expect(dry.lines().map((l) => l.uri)).toEqual([feed(1), feed(2), feed(3)]);
    expect(dry.stderr).toBe('invalidate --dry-run: 3 entries would be removed\n');
    expect(await status()).toEqual(['hit', 'hit', 'hit', 'hit', 'hit']);

    // Bound template: exact URIs.
    const one = await cli(['invalidate', '--op', 'upper', '--template', T, '--var', 'id=1', '--json', ...flags], { cwd: dir });
    expect(one.json()).toEqual({ matched: 1, invalidated: 1 });
    expect(await status()).toEqual(['miss', 'hit', 'hit', 'hit', 'hit']);

    // Soft: stale, still served.
    const soft = await cli(['invalidate', '--op', 'upper', '--match', 'https://x.example/*', '--soft', ...flags], { cwd: dir });
    expect(soft.stderr).toMatch(/^invalidated 3 entries \(marked stale/);
    expect(await status()).toEqual(['miss', 'stale', 'stale', 'stale', 'hit']);

    // Plain URIs, across every operation (no --op).
    const plain = await cli(['invalidate', feed(2), ...flags], { cwd: dir });
    expect(plain.stderr).toBe('invalidated 1 entry\n');

    // --all needs --yes.
    const all = await cli(['invalidate', '--op', 'upper', '--all', ...flags], { cwd: dir });
    expect(all.code).toBe(2);
    expect(all.stderr).toMatch(/^backache: --all invalidates every entry of operation upper: add --yes/);
    const yes = await cli(['invalidate', '--op', 'upper', '--all', '--yes', '--json', ...flags], { cwd: dir });
    expect(yes.json()).toEqual({ matched: 3, invalidated: 3 });
    expect(await status()).toEqual(['miss', 'miss', 'miss', 'miss', 'miss']);

    const none = await cli(['invalidate', '--op', 'upper', ...flags], { cwd: dir });
    expect(none.code).toBe(2);
    const two = await cli(['invalidate', '--op', 'upper', 'x', '--match', 'y*', ...flags], { cwd: dir });
    expect(two.stderr).toBe('backache: give only one of URI…, --template, --match, --all (got URI… and --match)\n');
    const badVar = await cli(['invalidate', '--op', 'upper', '--template', T, '--var', 'user=1', ...flags], { cwd: dir });
    expect(badVar.code).toBe(2);
    expect(badVar.stderr).toBe('backache: --var user: the template has no {user} placeholder (it has {id})\n');
  });
});
