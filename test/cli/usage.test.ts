/**
 * Usage errors read as backache's own (issue 15, defect 9): an unknown command names the
 * nearest one as the user types it (topics with a space); oclif's parser errors are one
 * line naming the flag or argument, exit 2, without oclif's framing; a directory given as
 * FILE is a usage error saying so.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { nearest } from '../../src/cli/suggest.js';
import { cli, ensureBuilt, tempDir, TEST_OPS, writeFiles } from '../helpers/cli.js';

let dir: string;
beforeAll(async () => {
  await ensureBuilt();
  dir = tempDir('backache-usage-');
  writeFiles(dir, { 'ops.mjs': TEST_OPS });
}, 240_000);

describe('unknown commands', () => {
  it.each([
    [['stat'], 'backache: unknown command stat: did you mean stats?'],
    [['quarantine', 'lst'], 'backache: unknown command quarantine lst: did you mean quarantine list?'],
    [['quarantin', 'list'], 'backache: unknown command quarantin list: did you mean quarantine list?'],
    [['wrok', '-o', 'ops.mjs'], 'backache: unknown command wrok: did you mean work?'],
    [['xyzzy'], 'backache: unknown command xyzzy'],
  ])('%j → the nearest command, exit 2', async (args, line) => {
    const r = await cli(args, { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${line}\n  hint: backache --help lists every command\n`);
    expect(r.stderr).not.toContain(':lst');
  });

  it('nearest() takes a near name or nothing', () => {
    expect(nearest('stat', ['stats', 'submit', 'top'])).toBe('stats');
    expect(nearest('quarantine lst', ['quarantine list', 'quarantine purge'])).toBe('quarantine list');
    expect(nearest('invaldiate', ['invalidate', 'get'])).toBe('invalidate');
    expect(nearest('zzz', ['stats', 'top'])).toBeUndefined();
  });
});

describe("oclif's parser errors in backache's words", () => {
  it.each([
    [['call', 'https://x/'], 'call', 'missing required flag --op'],
    [['run', '--concurrency', 'x'], 'run', '--concurrency: expected an integer but received: x'],
    [['get'], 'get', 'missing URI (One or more URIs)'],
    [['submit', '--op'], 'submit', '--op needs a value'],
    [['submit', '--wiat'], 'submit', 'unknown flag --wiat (did you mean --wait?)'],
    [['submit', 'a.txt', 'b.txt'], 'submit', 'unexpected argument: b.txt'],
    [['quarantine', 'show'], 'quarantine show', 'missing ID (Item id (from quarantine list))'],
  ])('%j: one line, exit 2', async (args, command, message) => {
    const r = await cli(args, { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`backache: ${message}\n  hint: see backache ${command} --help\n`);
    expect(r.stderr).not.toMatch(/following error|See more help|;\s/);
  });
});

describe('FILE that is a directory', () => {
  it.each(['submit', 'run'])('%s DIR: exit 2, says it is a directory', async (command) => {
    mkdirSync(join(dir, 'urls'), { recursive: true });
    const r = await cli([command, 'urls', '--op', 'upper', '-o', 'ops.mjs'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('backache: cannot read urls: it is a directory; give a file of URIs (or - for stdin)\n');
    expect(r.stderr).not.toContain('EISDIR');
  });
});
