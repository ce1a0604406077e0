/**
 * Every command: --help with a description and examples; data commands' --json parses;
 * readable tables without it; cleanup's --yes rule; doctor; the progress line on a TTY
 * (through `script`, which gives the CLI a pseudo-terminal).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bin, cli, describeOnBackends, ensureBuilt, tempDir, TEST_OPS, writeFiles } from '../helpers/cli.js';

beforeAll(ensureBuilt, 300_000);

const COMMANDS = ['run', 'work', 'submit', 'get', 'call', 'warm', 'invalidate', 'quarantine list', 'quarantine show', 'quarantine replay', 'quarantine purge', 'ops', 'workers', 'stats', 'doctor', 'cleanup'];

describe('help', () => {
  it('lists every command, and no "base"', async () => {
    const dir = tempDir();
    const r = await cli(['--help'], { cwd: dir });
    expect(r.code).toBe(0);
    for (const c of ['run', 'work', 'submit', 'get', 'call', 'warm', 'invalidate', 'quarantine', 'ops', 'workers', 'stats', 'doctor', 'cleanup']) expect(r.stdout).toMatch(new RegExp(`^  ${c}\\s`, 'm'));
    expect(r.stdout).not.toMatch(/^ {2}base\s/m);
    const v = await cli(['--version'], { cwd: dir });
    expect(v.stdout).toMatch(/^backache\/\d+\.\d+\.\d+ /);
  });

  it.each(COMMANDS)('%s --help has a description, examples and the shared flags with their variables', async (command) => {
    const r = await cli([...command.split(' '), '--help'], { cwd: tempDir() });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^DESCRIPTION\n/m);
    expect(r.stdout).toMatch(/^EXAMPLES\n/m);
    expect(r.stdout).toMatch(/\$ backache /);
    expect(r.stdout).toMatch(/--broker=<value>/);
    expect(r.stdout).toMatch(/BACKACHE_BROKER/);
  });
});

describeOnBackends('data commands', (b) => {
  it('stats, ops, workers, get, doctor: --json parses; without it, tables', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    const flags = [...b.flags(), '-o', 'ops.mjs'];
    await cli(['run', '--op', 'upper', ...flags], { cwd: dir, input: 'a\nb\n' });
    await cli(['run', '--op', 'upper', ...flags], { cwd: dir, input: 'a\n' });
    const st = await cli(['stats', '--json', ...flags], { cwd: dir });
    expect(st.code).toBe(0);
    const upper = st.json().ops.find((o: { op: string }) => o.op === 'upper');
    expect(upper).toMatchObject({ completed: 2, hits: 1, l1Hits: 0, misses: 2, entries: 2, waiting: 0, quarantined: 0 });
    expect(st.json().broker).not.toMatch(/:[^:@/]+@/); // no password
    const table = await cli(['stats', ...flags], { cwd: dir });
    expect(table.stdout).toMatch(/^OP\s+WAITING\s+ACTIVE\s+DELAYED\s+DONE\s+FAILED\s+QUARANTINED\s+HITS\s+L1 HITS\s+MISSES\s+COALESCED\s+HIT%\s+P50\s+P95\s+ENTRIES$/m);
    expect(table.stdout).toMatch(/^upper\s+0\s+0\s+0\s+2\s+0\s+0\s+1\s+0\s+2\s+0\s+33\.3%/m);
    for (const c of [['ops'], ['workers'], ['get', '--op', 'upper', 'a'], ['doctor']]) {
      const r = await cli([...c, '--json', ...flags], { cwd: dir });
      expect(r.code, `${c.join(' ')}: ${r.stderr}`).toBe(0);
      expect(() => r.json()).not.toThrow();
    }
    const ops = await cli(['ops', ...flags], { cwd: dir });
    expect(ops.stdout).toMatch(/^OP\s+WORKERS\s+CONCURRENCY\s+LOCAL\n/);
    const workers = await cli(['workers', ...flags], { cwd: dir });
    expect(workers.stdout).toBe('no worker alive (start one with: backache work)\n');
    const doctor = await cli(['doctor', ...flags], { cwd: dir });
    expect(doctor.code).toBe(0);
    expect(doctor.stdout).toMatch(/^✓ config: /m);
    expect(doctor.stdout).toMatch(/^✓ operations: ops\.mjs: upper, len/m);
    expect(doctor.stdout).toMatch(b.name === 'redis' ? /^✓ broker redis:\/\/.*: reachable, Redis \d/m : /^✓ broker sqlite:.*journal mode WAL/m);
    expect(doctor.stdout).toMatch(/^! workers: no worker alive/m);
  });

  it('cleanup needs --yes; --dry-run shows what is there; then everything under the prefix is gone', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    const flags = [...b.flags(), '-o', 'ops.mjs'];
    await cli(['run', ...flags], { cwd: dir, input: '{"op":"upper","uri":"a"}\n{"op":"fail","uri":"b"}\n' });
    await cli(['submit', '--op', 'len', ...flags], { cwd: dir, input: 'c\n' });
    const no = await cli(['cleanup', ...flags], { cwd: dir });
    expect(no.code).toBe(2);
    expect(no.stderr).toMatch(/^backache: cleanup removes everything under prefix "[^"]+" on \S+: add --yes to confirm/);
    const dry = await cli(['cleanup', '--dry-run', '--json', ...flags], { cwd: dir });
    expect(dry.json()).toMatchObject({ dryRun: true, entries: 1, jobs: 1, pending: 1, quarantined: 1, workers: 0 });
    const yes = await cli(['cleanup', '--yes', ...flags], { cwd: dir });
    expect(yes.code).toBe(0);
    expect(yes.stdout).toMatch(/^removed everything under prefix/);
    const st = (await cli(['stats', '--json', ...flags], { cwd: dir })).json();
    expect(st.totals).toEqual({ waiting: 0, active: 0, delayed: 0, quarantined: 0, completed: 0, failed: 0, entries: 0 });
  });
});

describe('on a terminal', () => {
  const haveScript = existsSync('/usr/bin/script');
  it.skipIf(!haveScript)('submit draws a progress line on stderr (counts and rate), redrawn in place', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    writeFileSync(join(dir, 'in.txt'), Array.from({ length: 5000 }, (_, i) => `u${i}`).join('\n'));
    const cmd = `stty cols 200; node ${bin()} submit in.txt --op upper -o ops.mjs --batch-size 100`;
    const r = spawnSync('script', ['-q', '-e', '-c', cmd, '/dev/null'], { cwd: dir, encoding: 'utf8', env: { ...process.env, COLUMNS: '200' }, timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\r\x1b\[2Ksubmit {2}\[[█░]{20}\] +\d+% · ETA \S+ · [\d,]+ read · [\d,]+ hits · [\d,]+ delegated · [\d,]+ coalesced · 0 errors · [\d,.]+\/s · 0:\d\d/);
    expect(r.stdout).toMatch(/submit: 5,000 requests: 0 hits \(0 stale\), 5,000 delegated/);
  });
});
