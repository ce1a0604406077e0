/**
 * `work` as a long-running process next to other commands sharing the store: graceful
 * stop on SIGINT/SIGTERM without losing a running job, --only, --debug, and what
 * autodiscovery (`workers`, `ops`) sees.
 */
import { beforeAll, expect, it } from 'vitest';
import { cli, describeOnBackends, ensureBuilt, startCli, tempDir, TEST_OPS, writeFiles } from '../helpers/cli.js';
import { waitUntil } from '../helpers/wait.js';

beforeAll(ensureBuilt, 300_000);

describeOnBackends('work', (b) => {
  it('workers and ops see a running worker; SIGINT lets the running job finish (nothing lost), exit 0', async () => {
    const dir = tempDir();
    writeFiles(dir, {
      'ops.mjs': TEST_OPS,
      'long.mjs': `export default { long: async (uri) => { await new Promise((r) => setTimeout(r, 1500)); return 'done ' + uri; } };\n`,
    });
    const flags = b.flags();
    const w = startCli(['work', '-o', 'long.mjs', '--concurrency', '2', ...flags], { cwd: dir });
    await w.waitFor(/started: long .*Ctrl-C to stop/);
    const ws = await cli(['workers', '--json', ...flags], { cwd: dir });
    expect(ws.code).toBe(0);
    expect(ws.json()).toEqual([expect.objectContaining({ ops: ['long'], concurrency: 2, pid: w.child.pid })]);
    const ops = await cli(['ops', '--json', '-o', 'ops.mjs', ...flags], { cwd: dir });
    expect(ops.json()).toEqual(expect.arrayContaining([{ op: 'long', workers: 1, concurrency: 2, local: false }, { op: 'upper', workers: 0, concurrency: 0, local: true }]));
    const human = await cli(['workers', ...flags], { cwd: dir });
    expect(human.stdout).toMatch(/^ID\s+HOST\s+PID\s+OPS/);

    const sub = await cli(['submit', '--op', 'long', '-o', 'long.mjs', ...flags], { cwd: dir, input: 'job-1\n' });
    expect(sub.code).toBe(0);
    // Wait until the job is running, then interrupt the worker.
    for (let i = 0; i < 100; i++) {
      const st = (await cli(['stats', '--json', ...flags], { cwd: dir })).json();
      if (st.ops.find((o: { op: string; active: number }) => o.op === 'long')?.active === 1) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const done = await w.stop('SIGINT');
    expect(done.code).toBe(0);
    expect(done.stderr).toMatch(/SIGINT: stopping, finishing running jobs \(up to 10s\)…\nworker stopped after 1 job\n/);
    const got = await cli(['get', '--op', 'long', 'job-1', ...flags], { cwd: dir });
    expect(got.lines()).toEqual([{ op: 'long', uri: 'job-1', status: 'hit', value: 'done job-1' }]);
    const after = await cli(['workers', '--json', ...flags], { cwd: dir });
    expect(after.json()).toEqual([]);
  });

  it('--only consumes only the named operations; quarantines are reported on stderr', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    const flags = b.flags();
    await cli(['submit', '-o', 'ops.mjs', ...flags], { cwd: dir, input: '{"op":"upper","uri":"a"}\n{"op":"len","uri":"b"}\n{"op":"reject","uri":"c"}\n' });
    const w = startCli(['work', '-o', 'ops.mjs', '--only', 'upper, reject', ...flags], { cwd: dir });
    await w.waitFor(/quarantined reject c: quarantined by the operation \(show it: backache quarantine show \S+\)/);
    // Counters are flushed by the worker every 250 ms: wait for upper's.
    let byOp: Record<string, { waiting: number; completed: number }> = {};
    await waitUntil(async () => {
      const st = (await cli(['stats', '--json', ...flags], { cwd: dir })).json();
      byOp = Object.fromEntries(st.ops.map((o: { op: string }) => [o.op, o]));
      return byOp.upper?.completed === 1;
    }, 'upper completed');
    expect(byOp.len).toMatchObject({ waiting: 1, completed: 0 });
    expect(byOp.upper).toMatchObject({ waiting: 0, completed: 1 });
    expect((await w.stop('SIGTERM')).code).toBe(0);
  });

  it('--debug: one job at a time, the first failure in full (stack, kwargs), then stop with exit 1', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    const flags = b.flags();
    await cli(['submit', '--op', 'fail', '--kwargs', '{"try":1}', '-o', 'ops.mjs', ...flags], { cwd: dir, input: 'first\n' });
    const r = await cli(['work', '-o', 'ops.mjs', '--debug', ...flags], { cwd: dir, timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\(debug: one job at a time\)/);
    expect(r.stderr).toMatch(/✗ fail failed for first \(job \S+, attempt 1\)\n {2}kwargs: \{"try":1\}\nError: failed on first\n\s+at /);
    expect(r.stderr).toMatch(/debug: first failure: stopping/);
    // Reported once, even though the engine then quarantines it.
    expect(r.stderr.match(/failed on first/g)).toHaveLength(1);
  });
});
