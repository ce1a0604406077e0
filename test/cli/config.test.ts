/**
 * Configuration: flags > environment > backache.config.{ts,mjs,js,json} found upward from
 * the working directory (or --config) > defaults; relative paths in a config file are
 * relative to it. Through the built CLI (doctor, stats, run) and resolveConfig directly.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { anchorSqliteUrl, DEFAULT_BROKER as CLI_DEFAULT_BROKER, DEFAULT_PREFIX as CLI_DEFAULT_PREFIX, findConfigFile, resolveConfig } from '../../src/cli/config.js';
import { DEFAULT_BROKER, DEFAULT_PREFIX } from '../../src/core/backends/index.js';
import { cli, ensureBuilt, tempDir, TEST_OPS, writeFiles } from '../helpers/cli.js';

beforeAll(ensureBuilt, 300_000);

describe('resolveConfig', () => {
  it('defaults, the same as the engine', async () => {
    expect(CLI_DEFAULT_BROKER).toBe(DEFAULT_BROKER);
    expect(CLI_DEFAULT_PREFIX).toBe(DEFAULT_PREFIX);
    const dir = tempDir();
    const c = await resolveConfig({ flags: {}, cwd: dir, env: {} });
    expect(c).toEqual({ broker: DEFAULT_BROKER, cache: undefined, prefix: 'backache', operations: undefined, configFile: undefined, sources: { broker: 'default', prefix: 'default', cache: undefined, operations: undefined } });
  });

  it('finds the nearest config file upward; its relative paths are relative to it; flags and env win', async () => {
    const root = tempDir();
    writeFiles(root, {
      'backache.config.json': JSON.stringify({ broker: 'sqlite:state/b.db', cache: 'memory:', prefix: 'fromfile', operations: 'lib/ops.mjs' }),
      'sub/deeper/.keep': '',
    });
    const cwd = join(root, 'sub', 'deeper');
    expect(findConfigFile(cwd)).toBe(join(root, 'backache.config.json'));
    const c = await resolveConfig({ flags: {}, cwd, env: {} });
    expect(c.broker).toBe(`sqlite:${join(root, 'state/b.db')}`);
    expect(c.cache).toBe('memory:');
    expect(c.prefix).toBe('fromfile');
    expect(c.operations).toEqual({ path: join(root, 'lib/ops.mjs') });
    expect(c.sources).toEqual({ broker: 'file', cache: 'file', prefix: 'file', operations: 'file' });

    // oclif hands env values in as flag values; the argv tells them apart.
    const e = await resolveConfig({ flags: { prefix: 'fromenv' }, cwd, env: { BACKACHE_PREFIX: 'fromenv' }, argv: [] });
    expect([e.prefix, e.sources.prefix]).toEqual(['fromenv', 'env']);
    const f = await resolveConfig({ flags: { prefix: 'fromflag', operations: 'x.mjs' }, cwd, env: { BACKACHE_PREFIX: 'fromenv' }, argv: ['--prefix', 'fromflag', '-o', 'x.mjs'] });
    expect([f.prefix, f.sources.prefix, f.sources.operations]).toEqual(['fromflag', 'flag', 'flag']);
    expect(f.operations).toEqual({ path: join(cwd, 'x.mjs') });
  });

  it('rejects unknown keys, wrong types, a missing --config, and a file that does not load', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'a/backache.config.json': '{"brokr":"x"}', 'b/backache.config.json': '{"prefix":5}', 'c/backache.config.json': '{oops', 'd/backache.config.mjs': 'throw new Error("no")' });
    await expect(resolveConfig({ flags: {}, cwd: join(dir, 'a'), env: {} })).rejects.toThrow(/unknown key "brokr"; known keys: broker, cache, prefix, operations/);
    await expect(resolveConfig({ flags: {}, cwd: join(dir, 'b'), env: {} })).rejects.toThrow(/"prefix" must be a string/);
    await expect(resolveConfig({ flags: {}, cwd: join(dir, 'c'), env: {} })).rejects.toThrow(/backache\.config\.json cannot be loaded/);
    await expect(resolveConfig({ flags: {}, cwd: join(dir, 'd'), env: {} })).rejects.toThrow(/backache\.config\.mjs cannot be loaded: no/);
    await expect(resolveConfig({ flags: { config: 'nope.json' }, cwd: dir, env: {} })).rejects.toThrow(/config file nope\.json not found \(from --config\)/);
  });

  it('anchors relative sqlite: URLs only', () => {
    expect(anchorSqliteUrl('sqlite:x.db', '/p')).toBe('sqlite:/p/x.db');
    expect(anchorSqliteUrl('sqlite://x.db', '/p')).toBe('sqlite:/p/x.db');
    expect(anchorSqliteUrl('sqlite:/abs/x.db', '/p')).toBe('sqlite:/abs/x.db');
    expect(anchorSqliteUrl('sqlite:', '/p')).toBe('sqlite:/p/.backache/backache.db');
    expect(anchorSqliteUrl('sqlite::memory:', '/p')).toBe('sqlite::memory:');
    expect(anchorSqliteUrl('redis://h:6379', '/p')).toBe('redis://h:6379');
  });
});

describe('config through the CLI', () => {
  it('a TypeScript config file with inline operations, found from a subdirectory; env and flags override it', async () => {
    const root = tempDir();
    writeFiles(root, {
      'backache.config.ts': `const config: { prefix: string; operations: Record<string, (uri: string) => Promise<unknown>> } = {
  prefix: 'proj',
  operations: { shout: async (uri: string) => uri.toUpperCase() + '!' },
};
export default config;
`,
      'sub/.keep': '',
    });
    const sub = join(root, 'sub');
    const r = await cli(['run', '--op', 'shout'], { cwd: sub, input: 'hey\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines()).toEqual([{ op: 'shout', uri: 'hey', status: 'computed', value: 'HEY!' }]);
    // The default store is relative to the working directory.
    const doc = await cli(['doctor', '--json'], { cwd: sub });
    const config = doc.json().checks.find((c: { name: string }) => c.name === 'config');
    expect(config.message).toMatch(/^file \.\.\/backache\.config\.ts|file .*backache\.config\.ts; broker sqlite:\.backache\/backache\.db \(default\), cache the broker, prefix proj \(config file\)$/);
    const ops = doc.json().checks.find((c: { name: string }) => c.name === 'operations');
    expect(ops).toMatchObject({ status: 'ok', message: expect.stringMatching(/inline in .*backache\.config\.ts: shout$/) });
    // Same store and prefix from the subdirectory: a hit.
    const again = await cli(['get', '--op', 'shout', 'hey'], { cwd: sub });
    expect(again.lines()[0].status).toBe('hit');
    // Another prefix from the environment, then from a flag: misses.
    expect((await cli(['get', '--op', 'shout', 'hey'], { cwd: sub, env: { BACKACHE_PREFIX: 'other' } })).lines()[0].status).toBe('miss');
    const flagWins = await cli(['get', '--op', 'shout', 'hey', '--prefix', 'proj'], { cwd: sub, env: { BACKACHE_PREFIX: 'other' } });
    expect(flagWins.lines()[0].status).toBe('hit');
    const envDoc = await cli(['doctor', '--json'], { cwd: sub, env: { BACKACHE_PREFIX: 'other' } });
    expect(envDoc.json().checks[0].message).toMatch(/prefix other \(env\)/);
  });

  it('--config and BACKACHE_CONFIG pick a file; BACKACHE_OPERATIONS and -o name the module', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS, 'conf/prod.json': JSON.stringify({ broker: 'sqlite:../state/prod.db', operations: '../ops.mjs' }) });
    const a = await cli(['run', '--op', 'upper', '--config', 'conf/prod.json'], { cwd: dir, input: 'x\n' });
    expect(a.code, a.stderr).toBe(0);
    const st = await cli(['stats', '--json'], { cwd: dir, env: { BACKACHE_CONFIG: 'conf/prod.json' } });
    expect(st.json().broker).toBe(`sqlite:${join(dir, 'state/prod.db')}`);
    expect(st.json().totals.completed).toBe(1);
    const b = await cli(['run', '--op', 'len'], { cwd: dir, input: 'xy\n', env: { BACKACHE_OPERATIONS: 'ops.mjs' } });
    expect(b.lines()).toEqual([{ op: 'len', uri: 'xy', status: 'computed', value: { len: 2 } }]);
  });
});
