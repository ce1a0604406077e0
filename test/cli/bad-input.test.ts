/**
 * Bad input is part of the feature (issue 5): each case gets a clear one-line error (no
 * stack unless --verbose), the right exit code, and the good lines around it still work.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, describeOnBackends, ensureBuilt, tempDir, TEST_OPS, writeFiles } from '../helpers/cli.js';
import { freePort } from '../helpers/redis-server.js';

beforeAll(ensureBuilt, 300_000);

const noStack = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at /);

describeOnBackends('bad input', (b) => {
  it('a malformed JSON line: one line naming its number, the other lines still processed, exit 1', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    const input = ['a', '{"op":"len","uri":"b"}', '{"op":"len", uri: broken', '', 'c', '{"uri":"d"}', '["not","an","object"]', '{"op":"len"}'].join('\n');
    const r = await cli(['run', '--op', 'upper', '-o', 'ops.mjs', ...b.flags()], { cwd: dir, input });
    expect(r.code).toBe(1);
    expect(r.lines().map((l) => [l.uri, l.status]).sort()).toEqual([
      ['a', 'computed'],
      ['b', 'computed'],
      ['c', 'computed'],
      ['d', 'computed'],
    ]);
    const errs = r.stderr.split('\n').filter((l) => l.startsWith('line '));
    expect(errs).toEqual([
      expect.stringMatching(/^line 3: not valid JSON \(.+\): \{"op":"len", uri: broken$/),
      'line 7: a JSON line must be an object {"op","uri","cbArgs","kwargs"}',
      'line 8: "uri" must be a non-empty string',
    ]);
    expect(r.stderr).toMatch(/3 errors/);
    noStack(r.stderr);
  });

  it('an unknown operation: exit 2 listing the known ones (--op, work --only); in a JSON line: that line fails', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    const flags = b.flags();
    const known = 'upper, len, echo, slow, fn, fail, reject, flaky';
    for (const args of [
      ['run', '--op', 'nope'],
      ['submit', '--op', 'nope'],
      ['work', '--only', 'upper,nope'],
      ['call', '--op', 'nope', 'x'],
      ['warm', '--op', 'nope', '--template', 'x/{id}', '--var', 'id=1'],
    ]) {
      const r = await cli([...args, '-o', 'ops.mjs', ...flags], { cwd: dir, input: 'a\n' });
      expect(r.code, args.join(' ')).toBe(2);
      // The known ones in any order (definition order, or sorted where some come from the registry).
      const m = /^backache: unknown operation "nope"; known operations: (.*)\n$/.exec(r.stderr);
      expect(m, r.stderr).not.toBeNull();
      expect(m![1]!.split(', ').sort()).toEqual(known.split(', ').sort());
      expect(r.stdout).toBe('');
    }
    const r = await cli(['run', '-o', 'ops.mjs', ...flags], { cwd: dir, input: '{"op":"upper","uri":"a"}\n{"op":"nope","uri":"b"}\n' });
    expect(r.code).toBe(1);
    expect(r.lines()).toEqual([{ op: 'upper', uri: 'a', status: 'computed', value: 'A' }]);
    expect(r.stderr).toMatch(`line 2: unknown operation "nope"; known operations: ${known.split(', ').sort().join(', ')}`);
  });

  it('a plain URI line without --op names the line', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    const r = await cli(['submit', '-o', 'ops.mjs', ...b.flags()], { cwd: dir, input: '{"op":"upper","uri":"a"}\nhttps://x/y\n' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^line 2: a plain URI needs --op .*: https:\/\/x\/y$/m);
    expect(r.stderr).toMatch(/1 delegated/);
  });

  it('a result that is not JSON-serialisable is quarantined, saying why', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    const flags = b.flags();
    const r = await cli(['run', '--op', 'fn', '-o', 'ops.mjs', ...flags], { cwd: dir, input: 'x\n' });
    expect(r.code).toBe(1);
    expect(r.lines()).toEqual([{ op: 'fn', uri: 'x', status: 'quarantined', error: expect.stringMatching(/not JSON-serialisable.*function/) }]);
    const q = await cli(['quarantine', 'list', '--json', ...flags], { cwd: dir });
    expect(q.json().items[0]).toMatchObject({ op: 'fn', uri: 'x', error: { name: 'NotSerializableError' } });
  });

  it('URIs with spaces, unicode, quotes, backslashes and 10 kB are data: each comes back exactly, then as a hit', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    const flags = b.flags();
    const uris = ['https://example.com/a b c', 'https://例え.jp/パス?q=ü&x=€', `it's "quoted" and \\back\\slashed`, `https://x/${'z'.repeat(10_240)}`, '*?[]{}$(rm -rf /);`id`', 'tab\there', '  padded\nand two lines  '];
    // Plain lines trim only the ends; JSON lines and quoted (JSON string) lines carry any string.
    const input = [...uris.slice(0, 5), JSON.stringify({ op: 'len', uri: uris[5] }), JSON.stringify(uris[6])].join('\n');
    const r = await cli(['run', '--op', 'len', '-o', 'ops.mjs', ...flags], { cwd: dir, input });
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines().map((l) => [l.uri, l.value.len]).sort()).toEqual(uris.map((u) => [u, u.length]).sort());
    const again = await cli(['run', '--op', 'len', '-o', 'ops.mjs', ...flags], { cwd: dir, input });
    expect(again.lines().every((l) => l.status === 'hit')).toBe(true);
    const got = await cli(['get', '--op', 'len', uris[2]!, uris[3]!, ...flags], { cwd: dir });
    expect(got.lines().map((l) => l.value.len)).toEqual([uris[2]!.length, uris[3]!.length]);
  });

  it('--kwargs and --cb-args that are not JSON: exit 2 naming the flag, nothing read', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    const flags = b.flags();
    const k = await cli(['submit', '--op', 'upper', '--kwargs', '{lang: en}', '-o', 'ops.mjs', ...flags], { cwd: dir, input: 'a\n' });
    expect(k.code).toBe(2);
    expect(k.stderr).toMatch(/^backache: --kwargs is not valid JSON: .*\n  hint: e\.g\. --kwargs '\{"lang":"en"\}'\n$/);
    const arr = await cli(['run', '--op', 'upper', '--kwargs', '[1,2]', '-o', 'ops.mjs', ...flags], { cwd: dir, input: 'a\n' });
    expect(arr.code).toBe(2);
    expect(arr.stderr).toMatch(/^backache: --kwargs must be a JSON object, got \[1,2\]/);
    const c = await cli(['submit', '--op', 'upper', '--cb-args', "{'x':1}", '-o', 'ops.mjs', ...flags], { cwd: dir, input: 'a\n' });
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/^backache: --cb-args is not valid JSON/);
    const stats = await cli(['stats', '--json', ...flags], { cwd: dir });
    expect(stats.json().totals.waiting).toBe(0);
  });
});

describe('bad configuration', () => {
  it('an operations module that is missing: exit 2 naming the path', async () => {
    const dir = tempDir();
    const r = await cli(['run', '--op', 'x', '-o', 'lib/missing-ops.ts'], { cwd: dir, input: 'a\n' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^backache: operations module lib\/missing-ops\.ts not found\n  hint: pass --operations FILE/);
  });

  it('an operations module that throws on import (JS or TS): exit 2 naming the path; the stack only with --verbose', async () => {
    const dir = tempDir();
    writeFiles(dir, {
      'throws.mjs': `throw new Error('database password missing');\n`,
      'broken.ts': `export default { upper: async (uri: string) => uri.toUpperCase( };\n`,
      'empty.mjs': `export const x = 1;\n`,
    });
    const a = await cli(['run', '--op', 'x', '-o', 'throws.mjs'], { cwd: dir, input: 'a\n' });
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/^backache: operations module throws\.mjs failed to load: database password missing\n  hint: .*--verbose.*\n$/);
    noStack(a.stderr);
    const v = await cli(['run', '--op', 'x', '-o', 'throws.mjs', '--verbose'], { cwd: dir, input: 'a\n' });
    expect(v.code).toBe(2);
    expect(v.stderr).toMatch(/\n\s+at .*throws\.mjs/);
    const t = await cli(['work', '-o', 'broken.ts'], { cwd: dir });
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/^backache: operations module broken\.ts failed to load: /);
    noStack(t.stderr);
    const e = await cli(['work', '-o', 'empty.mjs'], { cwd: dir });
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/^backache: operations module empty\.mjs exports no operations/);
    const none = await cli(['work'], { cwd: dir });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^backache: work needs an operations module\n  hint: pass --operations FILE \(-o\), set BACKACHE_OPERATIONS/);
  });

  it('an unreachable backend: exit 3 naming the URL, the password masked', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS, 'a-file': 'x' });
    const port = await freePort();
    const secret = `s3cr3t-${randomUUID()}`;
    for (const [args, url] of [
      [['stats', '--broker', `redis://admin:${secret}@127.0.0.1:${port}`], `redis://admin:***@127.0.0.1:${port}`],
      [['run', '--op', 'upper', '-o', 'ops.mjs', '--broker', `redis://:${secret}@127.0.0.1:${port}/2`], `redis://:***@127.0.0.1:${port}/2`],
      [['stats', '--cache', `mongodb://app:${secret}@127.0.0.1:${port}/db`], `mongodb://app:***@127.0.0.1:${port}/db`],
      [['stats', '--broker', 'sqlite:a-file/sub/backache.db'], 'a-file/sub/backache.db'],
    ] as const) {
      const r = await cli([...args], { cwd: dir, input: 'a\n', env: { BACKACHE_REDIS_CONNECT_TIMEOUT_MS: '1000', BACKACHE_MONGO_CONNECT_TIMEOUT_MS: '1000' } });
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(3);
      expect(r.stderr).toContain(url);
      expect(r.stderr).toMatch(/^backache: .*\n  hint: .*\n$/);
      expect(r.stderr + r.stdout).not.toContain(secret);
    }
    // The same from the environment, and with --verbose (stack printed, password still masked).
    const v = await cli(['stats', '--verbose'], { cwd: dir, env: { BACKACHE_BROKER: `redis://admin:${secret}@127.0.0.1:${port}` } });
    expect(v.code).toBe(3);
    expect(v.stderr).toMatch(/\n\s+at /);
    expect(v.stderr).not.toContain(secret);
  });

  it('an unknown scheme, a bad flag, a missing FILE, a bad duration: exit 2', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    const s = await cli(['stats', '--broker', 'postgres://u:pw@h/db'], { cwd: dir });
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/^backache: broker URL "postgres:\/\/u:\*\*\*@h\/db" has no broker driver/);
    const f = await cli(['stats', '--bogus'], { cwd: dir });
    expect(f.code).toBe(2);
    expect(f.stderr).toBe('backache: unknown flag --bogus\n  hint: see backache stats --help\n');
    const m = await cli(['run', 'nothere.txt', '--op', 'upper', '-o', 'ops.mjs'], { cwd: dir });
    expect(m.code).toBe(2);
    expect(m.stderr).toBe('backache: cannot read nothere.txt: no such file\n');
    const d = await cli(['work', '-o', 'ops.mjs', '--stop-timeout', 'soon'], { cwd: dir });
    expect(d.code).toBe(2);
    expect(d.stderr).toMatch(/^backache: --stop-timeout "soon" is not a duration/);
    const q = await cli(['get'], { cwd: dir });
    expect(q.code).toBe(2);
    expect(q.stderr).toMatch(/^backache: missing URI \(One or more URIs\)\n  hint: see backache get --help\n$/);
  });

  it('--json errors are JSON on stdout too', async () => {
    const dir = tempDir();
    const r = await cli(['stats', '--json', '--broker', 'nope:x'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.json()).toEqual({ error: { code: 'E_CONFIG', message: expect.stringMatching(/no broker driver/), exitCode: 2 } });
  });
});
