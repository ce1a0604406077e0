/**
 * The operators' queue commands, as subprocesses on SQLite and Redis:
 * `queue pause|resume` (a paused queue is not consumed), `queue drain` (waiting and delayed
 * jobs go to quarantine as DrainedError with their cbArgs, and a replay delivers them),
 * `jobs list|show` and `workers` (what runs where), `stats --watch` (a snapshot per
 * interval, SIGINT exits 0).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { cli, describeOnBackends, ensureBuilt, startCli, tempDir, TEST_OPS, writeFiles } from '../helpers/cli.js';

beforeAll(ensureBuilt, 300_000);

/** Operations that let a test see deliveries (a file) and hold or delay jobs. */
const OPS = `
import { appendFileSync, existsSync } from 'node:fs';
const deliver = async (value, cbArgs) => { for (const c of cbArgs) appendFileSync('delivered.jsonl', JSON.stringify({ value, cbArgs: c }) + '\\n'); };
export default {
  note: { run: async (uri) => uri.length, onResult: deliver },
  later: {
    run: async (uri, ctx) => { if (!ctx.kwargs.now) throw ctx.retry({ delay: '1h', kwargs: { now: true } }); return 'done ' + uri; },
    onResult: deliver,
  },
  hold: {
    concurrency: 1,
    run: async (uri) => { while (!existsSync('release')) await new Promise((r) => setTimeout(r, 20)); return uri; },
    onResult: deliver,
  },
};
`;

/** Poll `fn` until it returns something truthy (at most `ms`); the last value otherwise fails the test. */
async function until<T>(fn: () => Promise<T | undefined | false>, what: string, ms = 30_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const jsonl = (s: string) =>
  s
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

describeOnBackends('queue and jobs commands', (b) => {
  function setup(ops = OPS) {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': ops });
    return { dir, flags: [...b.flags(), '-o', 'ops.mjs'] };
  }

  it('queue pause|resume: a paused queue is not consumed until resumed; --all; usage errors exit 2', { timeout: 240_000 }, async () => {
    const { dir, flags } = setup(TEST_OPS);
    const submit = await cli(['submit', '--op', 'upper', ...flags], { cwd: dir, input: 'a\nb\n' });
    expect(submit.code, submit.stderr).toBe(0);
    const paused = await cli(['queue', 'pause', '--op', 'upper', '--json', ...flags], { cwd: dir });
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.json()).toEqual({ paused: ['upper'] });
    const human = await cli(['queue', 'pause', '--op', 'upper', ...flags], { cwd: dir });
    expect(human.stderr).toBe('paused upper: workers take no new jobs (running ones finish); resume with: backache queue resume\n');
    const stats = (await cli(['stats', '--json', ...flags], { cwd: dir })).json();
    expect(stats.ops.find((o: { op: string }) => o.op === 'upper')).toMatchObject({ paused: true, waiting: 2 });

    const w = startCli(['work', '--only', 'upper', ...flags], { cwd: dir });
    await w.waitFor(/started/);
    const waiting = (await cli(['jobs', 'list', '--op', 'upper', '--json', ...flags], { cwd: dir })).json();
    expect(waiting.map((j: { uri: string; state: string }) => [j.uri, j.state])).toEqual([
      ['a', 'waiting'],
      ['b', 'waiting'],
    ]);
    const resumed = await cli(['queue', 'resume', '--op', 'upper', '--json', ...flags], { cwd: dir });
    expect(resumed.json()).toEqual({ resumed: ['upper'] });
    const got = await until(async () => {
      const r = (await cli(['get', '--op', 'upper', 'a', 'b', '--json', ...flags], { cwd: dir })).stdout;
      return r.includes('"A"') && r.includes('"B"') ? r : undefined;
    }, 'the resumed queue to be consumed');
    expect(got).toBeTruthy();
    await w.stop();

    const all = await cli(['queue', 'pause', '--all', '--json', ...flags], { cwd: dir });
    expect(all.json().paused).toEqual(expect.arrayContaining(['upper', 'len', 'echo', 'fail']));
    const after = (await cli(['stats', '--json', ...flags], { cwd: dir })).json();
    expect(after.ops.every((o: { paused: boolean }) => o.paused)).toBe(true);
    expect((await cli(['queue', 'resume', '--all', ...flags], { cwd: dir })).stderr).toMatch(/^resumed .*upper/);
    expect((await cli(['stats', '--json', ...flags], { cwd: dir })).json().ops.some((o: { paused: boolean }) => o.paused)).toBe(false);

    const none = await cli(['queue', 'pause', ...flags], { cwd: dir });
    expect([none.code, none.stderr]).toEqual([2, 'backache: say which queue to pause: --op OP (repeatable) or --all\n']);
    const both = await cli(['queue', 'resume', '--op', 'upper', '--all', ...flags], { cwd: dir });
    expect([both.code, both.stderr]).toEqual([2, 'backache: give --op or --all, not both\n']);
    const typo = await cli(['queue', 'pause', '--op', 'uper', ...flags], { cwd: dir });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/^backache: unknown operation "uper"; known operations: .*upper/);
    // Environment variables, as every flag has.
    const env = await cli(['queue', 'pause', '--json', ...flags], { cwd: dir, env: { BACKACHE_OP: 'len\necho' } });
    expect(env.json()).toEqual({ paused: ['len', 'echo'] });
  });

  it('queue drain: waiting and delayed jobs go to quarantine as DrainedError with their cbArgs, active ones stay, and a replay delivers them', { timeout: 240_000 }, async () => {
    const { dir, flags } = setup();
    const input = [
      { op: 'note', uri: 'u1', cbArgs: { n: 1 } },
      { op: 'note', uri: 'u1', cbArgs: { n: 2 } },
      { op: 'note', uri: 'u22', cbArgs: { n: 3 } },
      { op: 'later', uri: 'l1', cbArgs: { n: 4 } },
    ]
      .map((l) => JSON.stringify(l))
      .join('\n');
    const submit = await cli(['submit', ...flags], { cwd: dir, input });
    expect(submit.code, submit.stderr).toBe(0);
    // One run of `later` retries itself in an hour: a delayed job.
    const w = startCli(['work', '--only', 'later', ...flags], { cwd: dir });
    await until(async () => (await cli(['jobs', 'list', '--op', 'later', '--state', 'delayed', '--json', ...flags], { cwd: dir })).json().length === 1, 'a delayed job');
    await w.stop();

    const noYes = await cli(['queue', 'drain', '--op', 'note', ...flags], { cwd: dir });
    expect([noYes.code, noYes.stderr]).toEqual([2, 'backache: queue drain removes every waiting and delayed job of note: add --yes to confirm (or --dry-run to count them first)\n']);
    const dry = await cli(['queue', 'drain', '--op', 'note', '--dry-run', '--json', ...flags], { cwd: dir });
    expect(dry.json()).toMatchObject({ op: 'note', dryRun: true, waiting: 2, delayed: 0, drained: 0, active: 0 });
    expect((await cli(['jobs', 'list', '--op', 'note', '--json', ...flags], { cwd: dir })).json()).toHaveLength(2);

    const drained = await cli(['queue', 'drain', '--op', 'note', '--yes', '--json', ...flags], { cwd: dir });
    expect(drained.code, drained.stderr).toBe(0);
    expect(drained.json()).toMatchObject({ op: 'note', dryRun: false, waiting: 2, delayed: 0, drained: 2, requests: 3, taken: 0, active: 0 });
    const later = await cli(['queue', 'drain', '--op', 'later', '--yes', ...flags], { cwd: dir });
    expect(later.stderr).toBe(
      'drained 1 job of later (0 waiting, 1 delayed): 1 request now in quarantine as DrainedError\n' +
        'bring them back with: backache quarantine replay --op later (or by id, from: backache quarantine list --op later)\n',
    );
    expect((await cli(['jobs', 'list', '--op', 'note', '--json', ...flags], { cwd: dir })).json()).toEqual([]);
    expect((await cli(['jobs', 'list', '--op', 'later', '--json', ...flags], { cwd: dir })).json()).toEqual([]);
    const stats = (await cli(['stats', '--json', ...flags], { cwd: dir })).json();
    expect(stats.totals).toMatchObject({ waiting: 0, delayed: 0, quarantined: 3 });

    // Nothing was delivered, nothing lost: every request is in quarantine with its cbArgs.
    expect(existsSync(join(dir, 'delivered.jsonl'))).toBe(false);
    const items = (await cli(['quarantine', 'list', '--json', ...flags], { cwd: dir })).json().items;
    const byUri = Object.fromEntries(items.map((i: { uri: string }) => [i.uri, i]));
    expect(Object.keys(byUri).sort()).toEqual(['l1', 'u1', 'u22']);
    expect(byUri.u1).toMatchObject({ op: 'note', cbArgs: [{ n: 1 }, { n: 2 }], attempts: 0, error: { name: 'DrainedError' }, details: { reason: 'drained', state: 'waiting' } });
    expect(byUri.u22).toMatchObject({ cbArgs: [{ n: 3 }], error: { name: 'DrainedError' } });
    expect(byUri.l1).toMatchObject({ op: 'later', cbArgs: [{ n: 4 }], kwargs: { now: true }, attempts: 1, error: { name: 'DrainedError' }, details: { state: 'delayed' } });
    expect(byUri.u1.error.message).toMatch(/^drained by backache queue drain while waiting/);

    const replay = await cli(['quarantine', 'replay', '--all', '--yes', ...flags], { cwd: dir });
    expect(replay.stderr).toMatch(/^replayed 3 items/);
    const w2 = startCli(['work', '--only', 'note,later', ...flags], { cwd: dir });
    const delivered = await until(async () => {
      const f = join(dir, 'delivered.jsonl');
      const lines = existsSync(f) ? jsonl(readFileSync(f, 'utf8')) : [];
      return lines.length >= 4 ? lines : undefined;
    }, 'the replayed requests to be delivered');
    await w2.stop();
    expect(delivered.sort((x, y) => x.cbArgs.n - y.cbArgs.n)).toEqual([
      { value: 2, cbArgs: { n: 1 } },
      { value: 2, cbArgs: { n: 2 } },
      { value: 3, cbArgs: { n: 3 } },
      { value: 'done l1', cbArgs: { n: 4 } },
    ]);
    expect((await cli(['quarantine', 'list', '--json', ...flags], { cwd: dir })).json().items).toEqual([]);
  });

  it('jobs list|show and workers: what is queued and running, on which worker, then its outcome; control characters escaped', { timeout: 240_000 }, async () => {
    const { dir, flags } = setup();
    const evil = 'https://e.example/\u001b[31mred\nforged line';
    const input = [{ op: 'hold', uri: 'h1', cbArgs: 'one' }, { op: 'hold', uri: 'h2' }, { op: 'hold', uri: evil }].map((l) => JSON.stringify(l)).join('\n');
    expect((await cli(['submit', ...flags], { cwd: dir, input })).code).toBe(0);
    const w = startCli(['work', '--only', 'hold', ...flags], { cwd: dir });
    const [active] = await until(async () => {
      const a = (await cli(['jobs', 'list', '--op', 'hold', '--state', 'active', '--json', ...flags], { cwd: dir })).json();
      return a.length === 1 ? a : undefined;
    }, 'an active job');
    expect(active).toMatchObject({ op: 'hold', uri: 'h1', state: 'active', attempts: 1, stalls: 0 });
    const listed = (await cli(['jobs', 'list', '--op', 'hold', '--json', ...flags], { cwd: dir })).json();
    expect(listed.map((j: { uri: string; state: string }) => [j.uri, j.state])).toEqual([
      ['h1', 'active'],
      ['h2', 'waiting'],
      [evil, 'waiting'],
    ]);
    // The worker's heartbeat names the job it runs; the job names its worker.
    const [worker] = await until(async () => {
      const ws = (await cli(['workers', '--json', ...flags], { cwd: dir })).json();
      return ws.length === 1 && ws[0].jobs?.includes(active.id) ? ws : undefined;
    }, 'the heartbeat to list the running job');
    expect(worker).toMatchObject({ running: 1, jobs: [active.id] });
    expect(active.worker).toBe(worker.id);
    const workersHuman = await cli(['workers', ...flags], { cwd: dir });
    expect(workersHuman.stdout).toMatch(/^ID\s+HOST\s+PID\s+OPS\s+CONCURRENCY\s+RUNNING\s+PROCESSED\s+JOBS\s/);
    expect(workersHuman.stdout).toMatch(new RegExp(`\\s1\\s+\\d+\\s+${active.id}\\s`));
    const show = await cli(['jobs', 'show', active.id, '--json', ...flags], { cwd: dir });
    expect(show.json()).toMatchObject({ id: active.id, state: 'active', worker: worker.id, data: { op: 'hold', uri: 'h1', kwargs: {} } });
    const human = await cli(['jobs', 'show', active.id, ...flags], { cwd: dir });
    expect(human.stdout).toMatch(new RegExp(`^id\\s+${active.id}\\nop\\s+hold\\nuri\\s+h1\\nstate\\s+active\\n`));
    expect(human.stdout).toContain(`worker      ${worker.id}\n`);

    // Human output shows the control characters of a URI, never sends them.
    const table = await cli(['jobs', 'list', '--op', 'hold', ...flags], { cwd: dir });
    expect(table.stdout).toMatch(/^ID\s+STATE\s+URI\s+ATTEMPTS\s+STALLS\s+WORKER\s+CREATED\s+DUE\/FINISHED\n/);
    expect(table.stdout).not.toContain('\u001b');
    expect(table.stdout).toContain('https://e.example/\\x1b[31mred\\nforged line');
    expect(table.stdout.trim().split('\n')).toHaveLength(4);
    const evilId = listed[2].id;
    const evilShow = await cli(['jobs', 'show', evilId, ...flags], { cwd: dir });
    expect(evilShow.stdout).not.toContain('\u001b');
    expect(evilShow.stdout).toContain('uri         https://e.example/\\x1b[31mred\\nforged line\n');

    writeFileSync(join(dir, 'release'), '');
    await until(async () => (await cli(['jobs', 'list', '--op', 'hold', '--state', 'completed', '--json', ...flags], { cwd: dir })).json().length === 3, 'the jobs to complete');
    await w.stop();
    const done = (await cli(['jobs', 'show', active.id, '--json', ...flags], { cwd: dir })).json();
    expect(done).toMatchObject({ state: 'completed', worker: worker.id, attempts: 1, result: { cbArgs: ['one'] } });
    expect(done.finishedAt).toBeGreaterThanOrEqual(done.createdAt);
    const doneHuman = await cli(['jobs', 'show', active.id, ...flags], { cwd: dir });
    expect(doneHuman.stdout).toMatch(/\ndelivered   \[\n  "one"\n\] \(delivery /);
    expect((await cli(['jobs', 'list', '--op', 'hold', ...flags], { cwd: dir })).stdout).toBe('no waiting, active or delayed jobs of hold (finished ones: --state completed or --state failed)\n');

    const missing = await cli(['jobs', 'show', 'no-such-job', ...flags], { cwd: dir });
    expect([missing.code, missing.stderr]).toEqual([1, 'backache: no job no-such-job: not queued, or finished and no longer kept\n  hint: list them with: backache jobs list --op OP\n']);
    const badState = await cli(['jobs', 'list', '--op', 'hold', '--state', 'done', ...flags], { cwd: dir });
    expect(badState.code).toBe(2);
    expect(badState.stderr.split('\n')[0]).toMatch(/^backache: .*--state/);
    const unknown = await cli(['jobs', 'list', '--op', 'hodl', ...flags], { cwd: dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^backache: unknown operation "hodl"; known operations: .*hold/);
  });

  it('every example in the --help of queue pause|resume|drain, jobs list|show and stats --watch runs as written', { timeout: 480_000 }, async () => {
    // As written: no flags added, the deployment from the environment and a config file.
    const dir = tempDir();
    writeFiles(dir, {
      'ops.mjs': `export default { title: async (uri) => uri, thumbnail: async (uri) => uri };\n`,
      'backache.config.json': JSON.stringify({ operations: 'ops.mjs' }),
    });
    const f = b.flags();
    const env = { BACKACHE_BROKER: f[f.indexOf('--broker') + 1], BACKACHE_PREFIX: f[f.indexOf('--prefix') + 1] };
    expect((await cli(['submit', '--op', 'title'], { cwd: dir, env, input: 'https://a.example/\n' })).code).toBe(0);
    for (const command of [['queue', 'pause'], ['queue', 'resume'], ['queue', 'drain'], ['jobs', 'list'], ['jobs', 'show'], ['stats']]) {
      const help = await cli([...command, '--help'], { cwd: dir });
      expect(help.stdout).toMatch(/^DESCRIPTION\n[\s\S]*^EXAMPLES\n/m);
      expect(help.stdout).toMatch(/BACKACHE_BROKER/);
      const section = help.stdout.split(/^EXAMPLES\n/m)[1]!.split(/^\S/m)[0]!;
      const examples = [...section.matchAll(/^ {2}\$ backache (.*)$/gm)].map((m) => m[1]!.split(' | ')[0]!.trim());
      expect(examples.length).toBeGreaterThanOrEqual(2);
      for (const ex of examples) {
        const argv = ex.split(/\s+/);
        if (argv[0] === 'stats' && !argv.includes('--watch')) continue; // the one-shot stats is not this file's
        if (argv.includes('--watch')) {
          const w = startCli(argv, { cwd: dir, env });
          await w.waitFor(/./, 20_000, 'stdout');
          const r = await w.stop('SIGINT');
          expect([ex, r.code, r.stderr]).toEqual([ex, 0, '']);
          continue;
        }
        const r = await cli(argv, { cwd: dir, env });
        // `jobs show ID` of an example id finds no job: exit 1, said in one line.
        const code = argv[0] === 'jobs' && argv[1] === 'show' ? 1 : 0;
        expect([ex, r.code], r.stderr).toEqual([ex, code]);
      }
    }
  });

  it('stats --watch [INTERVAL]: a snapshot per interval (one JSON line each with --json) until SIGINT, which exits 0', { timeout: 240_000 }, async () => {
    const { dir, flags } = setup(TEST_OPS);
    expect((await cli(['submit', '--op', 'upper', ...flags], { cwd: dir, input: 'a\n' })).code).toBe(0);
    const watch = startCli(['stats', '--watch', '300ms', '--json', ...flags], { cwd: dir });
    await watch.waitFor(/\n.*\n/, 20_000, 'stdout');
    const r = await watch.stop('SIGINT');
    expect(r.code, r.stderr).toBe(0);
    const snaps = r.lines();
    expect(snaps.length).toBeGreaterThanOrEqual(2);
    for (const s of snaps) expect(s.ops.find((o: { op: string }) => o.op === 'upper')).toMatchObject({ waiting: 1 });
    expect(snaps[1].at).toBeGreaterThan(snaps[0].at);

    // A bare --watch takes the default interval (2s); human snapshots follow each other.
    const human = startCli(['stats', '--watch', ...flags], { cwd: dir });
    await human.waitFor(/alive/, 20_000, 'stdout');
    const h = await human.stop('SIGINT');
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toMatch(/^--- \d{4}-\d\d-\d\dT[\d:.]+Z\nbroker /);
    expect(h.stdout).toMatch(/\nupper\s+1\s/);

    const tooFast = await cli(['stats', '--watch', '10ms', ...flags], { cwd: dir });
    expect([tooFast.code, tooFast.stderr]).toEqual([2, 'backache: --watch must be at least 250ms, got 10ms\n']);
  });
});
