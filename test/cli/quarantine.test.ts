/**
 * `quarantine list|show|replay|purge`: filters (--op, --match, --since), --group, the
 * full item with its stack, replay with --dry-run and --kwargs (then the request
 * succeeds), purge, and the --all/--yes rule.
 */
import { beforeAll, expect, it } from 'vitest';
import { cli, describeOnBackends, ensureBuilt, startCli, tempDir, TEST_OPS, writeFiles } from '../helpers/cli.js';

beforeAll(ensureBuilt, 300_000);

describeOnBackends('quarantine', (b) => {
  /** Four quarantined requests of three operations, from one `run`. */
  async function seed() {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    const flags = [...b.flags(), '-o', 'ops.mjs'];
    const input = [
      { op: 'fail', uri: 'https://a.example/1' },
      { op: 'fail', uri: 'https://a.example/2' },
      { op: 'reject', uri: 'https://b.example/1', cbArgs: { notify: 'me' } },
      { op: 'flaky', uri: 'https://a.example/f' },
    ]
      .map((l) => JSON.stringify(l))
      .join('\n');
    const run = await cli(['run', ...flags], { cwd: dir, input });
    expect(run.code).toBe(1);
    expect(run.lines().every((l) => l.status === 'quarantined')).toBe(true);
    expect(run.lines().find((l) => l.op === 'fail' && l.uri.endsWith('/1'))?.error).toBe('failed on https://a.example/1');
    // The details given to ctx.quarantine(details) come along in the result line.
    expect(run.lines().find((l) => l.op === 'reject')?.error).toBe('quarantined by the operation: {"why":"rejected https://b.example/1"}');
    const all = (await cli(['quarantine', 'list', '--json', ...flags], { cwd: dir })).json();
    expect(all.items).toHaveLength(4);
    return { dir, flags, all };
  }

  it('list (filters, --since, --limit and --cursor, --group, --json) and show', async () => {
    const { dir, flags, all } = await seed();
    const byOp = (await cli(['quarantine', 'list', '--op', 'fail', '--json', ...flags], { cwd: dir })).json();
    expect(byOp.items.map((i: { uri: string }) => i.uri).sort()).toEqual(['https://a.example/1', 'https://a.example/2']);
    const byGlob = (await cli(['quarantine', 'list', '--match', 'https://b.example/*', '--json', ...flags], { cwd: dir })).json();
    expect(byGlob.items).toEqual([expect.objectContaining({ op: 'reject', cbArgs: [{ notify: 'me' }], details: { why: 'rejected https://b.example/1' } })]);
    const recent = (await cli(['quarantine', 'list', '--since', '1h', '--json', ...flags], { cwd: dir })).json();
    expect(recent.items).toHaveLength(4);
    const future = (await cli(['quarantine', 'list', '--since', '2999-01-01T00:00:00Z', '--json', ...flags], { cwd: dir })).json();
    expect(future.items).toHaveLength(0);
    const badSince = await cli(['quarantine', 'list', '--since', 'yesterday', ...flags], { cwd: dir });
    expect(badSince.code).toBe(2);
    expect(badSince.stderr).toMatch(/^backache: --since "yesterday" is neither a duration/);

    const page = (await cli(['quarantine', 'list', '--limit', '3', '--json', ...flags], { cwd: dir })).json();
    expect(page.items).toHaveLength(3);
    expect(page.cursor).toBeTruthy();
    const next = (await cli(['quarantine', 'list', '--limit', '3', '--cursor', page.cursor, '--json', ...flags], { cwd: dir })).json();
    expect(next.items).toHaveLength(1);
    expect(new Set([...page.items, ...next.items].map((i: { id: string }) => i.id)).size).toBe(4);

    const human = await cli(['quarantine', 'list', ...flags], { cwd: dir });
    expect(human.stdout).toMatch(/^ID\s+OP\s+URI\s+ATTEMPTS\s+LAST FAILED\s+ERROR\n/);
    const grouped = await cli(['quarantine', 'list', '--group', '--json', ...flags], { cwd: dir });
    expect(grouped.json().total).toBe(4);
    expect(grouped.json().groups.map((g: { count: number; error: string }) => [g.count, g.error])).toEqual(
      expect.arrayContaining([
        [1, 'Error: failed on https://a.example/1'],
        [1, 'QuarantineSignal: quarantined by the operation'],
        [1, 'Error: not fixed yet'],
      ]),
    );
    const groupHuman = await cli(['quarantine', 'list', '--group', ...flags], { cwd: dir });
    expect(groupHuman.stdout).toMatch(/^COUNT\s+OPS\s+LAST FAILED\s+ERROR/);
    expect(groupHuman.stderr).toBe('4 items in 4 groups\n');

    const flaky = all.items.find((i: { op: string }) => i.op === 'flaky');
    const show = await cli(['quarantine', 'show', flaky.id, ...flags], { cwd: dir });
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`^id\\s+${flaky.id}\\nop\\s+flaky\\nuri\\s+https://a.example/f\\nattempts\\s+1\\n`));
    expect(show.stdout).toMatch(/error\s+Error: not fixed yet\n\nError: not fixed yet\n\s+at /);
    const showJson = await cli(['quarantine', 'show', flaky.id, '--json', ...flags], { cwd: dir });
    expect(showJson.json()).toEqual(flaky);
    const missing = await cli(['quarantine', 'show', 'nope', ...flags], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('backache: no quarantine item nope\n  hint: list them with: backache quarantine list\n');
  });

  it('replay (--dry-run, --kwargs, attempts add up) and purge (--all needs --yes, --dry-run, by filter, by id)', async () => {
    const { dir, flags, all } = await seed();
    const flaky = all.items.find((i: { op: string }) => i.op === 'flaky');
    // Replay: dry run changes nothing; with --kwargs the flaky request now succeeds.
    const dry = await cli(['quarantine', 'replay', '--op', 'flaky', '--dry-run', '--json', ...flags], { cwd: dir });
    expect(dry.json()).toMatchObject({ matched: 1, replayed: 0, items: [expect.objectContaining({ id: flaky.id })] });
    expect((await cli(['quarantine', 'list', '--json', ...flags], { cwd: dir })).json().items).toHaveLength(4);
    const replay = await cli(['quarantine', 'replay', flaky.id, '--kwargs', '{"fixed":true}', ...flags], { cwd: dir });
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stderr).toMatch(/^replayed 1 item/);
    const after = await cli(['run', '--op', 'flaky', ...flags], { cwd: dir, input: 'https://a.example/f\n' });
    expect(after.lines()).toEqual([{ op: 'flaky', uri: 'https://a.example/f', status: expect.stringMatching(/hit|computed/), value: 'fixed https://a.example/f' }]);
    expect((await cli(['quarantine', 'list', '--json', ...flags], { cwd: dir })).json().items).toHaveLength(3);

    // A replayed failure comes back with attempts added up.
    const again = await cli(['quarantine', 'replay', '--op', 'fail', '--match', '*/1', ...flags], { cwd: dir });
    expect(again.stderr).toMatch(/^replayed 1 item/);
    const w = startCli(['work', '--only', 'fail', ...flags], { cwd: dir });
    await w.waitFor(/quarantined fail https:\/\/a\.example\/1: failed on/);
    await w.stop();
    const back = (await cli(['quarantine', 'list', '--op', 'fail', '--match', '*/1', '--json', ...flags], { cwd: dir })).json();
    expect(back.items).toEqual([expect.objectContaining({ attempts: 2 })]);

    // Purge: the --all/--yes rule, --dry-run, by filter, by id (unknown ids: exit 1).
    const noYes = await cli(['quarantine', 'purge', '--all', ...flags], { cwd: dir });
    expect(noYes.code).toBe(2);
    const pdry = await cli(['quarantine', 'purge', '--op', 'fail', '--dry-run', ...flags], { cwd: dir });
    expect(pdry.stdout.trim().split('\n')).toHaveLength(2);
    expect(pdry.stderr).toBe('purge --dry-run: 2 items would be deleted\n');
    const p = await cli(['quarantine', 'purge', '--op', 'fail', '--json', ...flags], { cwd: dir });
    expect(p.json()).toMatchObject({ matched: 2, purged: 2 });
    const rest = (await cli(['quarantine', 'list', '--json', ...flags], { cwd: dir })).json().items;
    expect(rest.map((i: { op: string }) => i.op)).toEqual(['reject']);
    const byId = await cli(['quarantine', 'purge', rest[0].id, 'unknown-id', ...flags], { cwd: dir });
    expect(byId.code).toBe(1);
    expect(byId.stderr).toBe('no quarantine item unknown-id\npurged 1 item\n');
    const empty = await cli(['quarantine', 'list', ...flags], { cwd: dir });
    expect(empty.stdout).toBe('quarantine is empty (for this selection)\n');
  });
});
