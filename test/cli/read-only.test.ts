/**
 * Issue 15, defect 2: a read-only command (stats, doctor, get, top, ops, workers,
 * quarantine list/show) never creates a store: a mistyped SQLite path says there is no
 * database there (exit 2) and leaves no file or directory behind. Writing commands still
 * create it; memory and Redis have nothing to create.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/core/backends/index.js';
import { bin, cli, ensureBuilt, tempDir, TEST_OPS, writeFiles } from '../helpers/cli.js';
import { REDIS_SERVER_BIN, startRedisServer, type RedisServer } from '../helpers/redis-server.js';

beforeAll(ensureBuilt, 300_000);

const READ_ONLY = [['stats'], ['stats', '--json'], ['doctor'], ['get', '--op', 'upper', 'a'], ['ops'], ['workers'], ['quarantine', 'list'], ['quarantine', 'show', 'x']];

describe('read-only commands on a SQLite path with no database', () => {
  it('exit 2 saying there is none there; no file, no directory created', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    for (const broker of [join(dir, 'nonexistent', 'dir', 'x.db'), join(dir, 'typo.db')]) {
      for (const c of READ_ONLY) {
        const r = await cli([...c, '--broker', `sqlite:${broker}`, '-o', 'ops.mjs'], { cwd: dir });
        expect(r.code, `${c.join(' ')}: ${r.stderr}`).toBe(2);
        expect(r.stdout + r.stderr, c.join(' ')).toContain(`no SQLite database at ${broker}`);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }
    }
    expect(readdirSync(dir).sort()).toEqual(['ops.mjs']);
    // The default path, in a fresh directory; and a --cache that does not exist.
    const st = await cli(['stats'], { cwd: dir });
    expect(st.code).toBe(2);
    expect(st.stderr).toMatch(/^backache: no SQLite database at .*\.backache\/backache\.db\n {2}hint: /);
    const cache = await cli(['get', '--op', 'upper', 'a', '--broker', 'memory:', '--cache', `sqlite:${join(dir, 'c.db')}`], { cwd: dir });
    expect(cache.code).toBe(2);
    expect(readdirSync(dir).sort()).toEqual(['ops.mjs']);
  });

  it.skipIf(!existsSync('/usr/bin/script'))('top too (on a terminal)', () => {
    const dir = tempDir();
    const r = spawnSync('script', ['-q', '-e', '-c', `node ${bin()} top --broker sqlite:${join(dir, 'no', 'x.db')}`, '/dev/null'], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stdout).toContain('no SQLite database at');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('writing commands create it; then read-only commands read it', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    const db = join(dir, 'new', 'x.db');
    const sub = await cli(['submit', '--op', 'upper', '--broker', `sqlite:${db}`, '-o', 'ops.mjs'], { cwd: dir, input: 'a\n' });
    expect(sub.code).toBe(0);
    expect(existsSync(db)).toBe(true);
    const st = await cli(['stats', '--json', '--broker', `sqlite:${db}`], { cwd: dir });
    expect(st.code).toBe(0);
    expect(st.json().totals.waiting).toBe(1);
    const doctor = await cli(['doctor', '--broker', `sqlite:${db}`, '-o', 'ops.mjs'], { cwd: dir });
    expect(doctor.stdout).toMatch(/^✓ broker sqlite:.*journal mode WAL/m);
  });

  it('the library: openBackend({ create: false }) refuses a missing file; memory ignores it', async () => {
    const dir = tempDir();
    await expect(openBackend({ broker: `sqlite:${join(dir, 'x.db')}`, create: false })).rejects.toMatchObject({ exitCode: 2, message: `no SQLite database at ${join(dir, 'x.db')}` });
    expect(readdirSync(dir)).toEqual([]);
    const mem = await openBackend({ broker: 'memory:', create: false });
    await mem.close();
  });
});

describe.skipIf(!existsSync(REDIS_SERVER_BIN) && process.env.CI !== 'true')('read-only commands on Redis', () => {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('have nothing to create: they work on an empty prefix', async () => {
    const dir = tempDir();
    for (const c of [['stats', '--json'], ['workers'], ['quarantine', 'list']]) {
      const r = await cli([...c, '--broker', server!.url, '--prefix', `t${randomUUID().slice(0, 8)}`], { cwd: dir });
      expect(r.code, `${c.join(' ')}: ${r.stderr}`).toBe(0);
    }
  });
});
