/**
 * Issue 15, defect 1: `quarantine list --group` and `top` group a `ctx.quarantine(details)`
 * by the operation's own reason (`details.reason`, `details.message`, or a string), not
 * all under one "quarantined by the operation".
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { groupQuarantine } from '../../src/cli/render.js';
import type { QuarantineItem } from '../../src/core/ports.js';
import { groupByError } from '../../src/ui/snapshot.js';
import { cli, describeOnBackends, ensureBuilt, tempDir, writeFiles } from '../helpers/cli.js';

beforeAll(ensureBuilt, 300_000);

const signal = (id: string, details: unknown): QuarantineItem => ({
  id,
  op: 'img',
  uri: `u${id}`,
  cbArgs: [],
  kwargs: {},
  error: { name: 'QuarantineSignal', message: 'quarantined by the operation' },
  details,
  attempts: 1,
  firstFailedAt: Number(id),
  lastFailedAt: Number(id),
});

describe('grouping by the reason the operation gave', () => {
  const items = [signal('1', { reason: 'not an image' }), signal('2', { reason: 'not an image', size: 3 }), signal('3', 'too large'), signal('4', { message: 'gone (410)' }), signal('5', { why: 'x' }), signal('6', undefined)];

  it('quarantine list --group', () => {
    expect(groupQuarantine(items).map((g) => [g.count, g.error])).toEqual([
      [2, 'QuarantineSignal: quarantined by the operation'],
      [2, 'QuarantineSignal: quarantined by the operation: not an image'],
      [1, 'QuarantineSignal: quarantined by the operation: gone (410)'],
      [1, 'QuarantineSignal: quarantined by the operation: too large'],
    ]);
  });

  it('top', () => {
    expect(
      groupByError(items)
        .map((g) => [g.count, g.message])
        .sort(),
    ).toEqual([
      [1, 'quarantined by the operation: gone (410)'],
      [1, 'quarantined by the operation: too large'],
      [2, 'quarantined by the operation'],
      [2, 'quarantined by the operation: not an image'],
    ]);
  });
});

describeOnBackends('quarantine list --group by reason', (b) => {
  it('one group per reason', async () => {
    const dir = tempDir();
    writeFiles(dir, {
      'ops.mjs': `export default { img: async (uri, ctx) => ctx.quarantine(uri.startsWith('big') ? 'too large' : { reason: 'not an image', uri }) };`,
    });
    const flags = [...b.flags(), '-o', 'ops.mjs'];
    const run = await cli(['run', '--op', 'img', ...flags], { cwd: dir, input: 'a\nb\nbig1\n' });
    expect(run.code).toBe(1);
    const grouped = await cli(['quarantine', 'list', '--group', '--json', ...flags], { cwd: dir });
    expect(grouped.json().groups.map((g: { count: number; error: string }) => [g.count, g.error])).toEqual([
      [2, 'QuarantineSignal: quarantined by the operation: not an image'],
      [1, 'QuarantineSignal: quarantined by the operation: too large'],
    ]);
    const human = await cli(['quarantine', 'list', '--group', ...flags], { cwd: dir });
    expect(human.stdout).toMatch(/^\s*2\s+img\s+.*quarantined by the operation: not an image/m);
  });
});
