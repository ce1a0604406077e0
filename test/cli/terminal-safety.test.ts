/**
 * Issue 15, defect 3: data (URIs, operation names, error messages) never reaches the
 * terminal raw. Human output escapes control characters (C0, DEL, C1, U+2028/2029 and the
 * bidi controls): a URI never forges a log line, moves the cursor or recolours the
 * terminal. JSON output stays JSON, with the same values.
 */
import { render } from 'ink-testing-library';
import { createElement } from 'react';
import { beforeAll, describe, expect, it } from 'vitest';
import { printable, printableJson } from '../../src/core/printable.js';
import { Dashboard } from '../../src/ui/Dashboard.js';
import { initialState } from '../../src/ui/reducer.js';
import { applySnapshot, emptyModel } from '../../src/ui/snapshot.js';
import { NOW, opStats, qitem, stats, worker } from '../ui/fixtures.js';
import { cli, ensureBuilt, startCli, tempDir, writeFiles } from '../helpers/cli.js';

beforeAll(ensureBuilt, 300_000);

/** Everything a terminal would interpret, but the newline that ends a line. */
// eslint-disable-next-line no-control-regex
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const EVIL = 'https://x.example/a\nFAKE log line\r\u001b[2J\u001b]0;owned\u0007\u009b31m\u202eevil\u2066\u2028end\u0085';
const EVIL_OP = 'op\u001b[41m\u202e';

const clean = (what: string, text: string) => {
  expect(text, what).not.toMatch(RAW);
  expect(text, what).not.toMatch(/^FAKE/m);
};

describe('printable', () => {
  it('escapes C0, DEL, C1, line and paragraph separators and bidi controls; leaves other text alone', () => {
    expect(printable('a\nb\r\tc\u001b[2J\u0000\u007f\u0085\u009b\u2028\u2029\u202a\u202e\u2066\u2069 é😀\\n')).toBe(
      'a\\nb\\r\\tc\\x1b[2J\\x00\\x7f\\x85\\x9b\\u2028\\u2029\\u202a\\u202e\\u2066\\u2069 é😀\\n',
    );
    expect(printable(printable(EVIL))).toBe(printable(EVIL));
  });

  it('printableJson keeps JSON valid with the same value', () => {
    const text = printableJson(JSON.stringify({ uri: EVIL }));
    expect(text).not.toMatch(RAW);
    expect(JSON.parse(text)).toEqual({ uri: EVIL });
  });
});

describe('human output escapes data', () => {
  it('run, submit --wait, work log lines, quarantine list/show/--group, get, call, warm, invalidate, stats, ops, doctor, errors', async () => {
    const dir = tempDir();
    writeFiles(dir, {
      'ops.mjs': `export default {
        echo: async (uri) => ({ uri }),
        fail: async (uri) => { throw new Error('failed on ' + uri); },
        reject: async (uri, ctx) => ctx.quarantine({ reason: 'bad ' + uri }),
      };`,
      'badname.mjs': `export default { ${JSON.stringify(EVIL_OP)}: async (uri) => uri.length };`,
    });
    const o = ['-o', 'ops.mjs'];
    const line = (op: string) => `${JSON.stringify({ op, uri: EVIL })}\n`;
    const badName = await cli(['work', '-o', 'badname.mjs'], { cwd: dir });
    expect(badName.code).toBe(2);
    clean('an error message', badName.stderr);
    expect(badName.stderr).toMatch(/^backache: operation name "op\\x1b\[41m\\u202e" may only contain/);
    const run = await cli(['run', ...o], { cwd: dir, input: line('echo') + line('fail') + line('reject') });
    clean('run stdout', run.stdout);
    clean('run stderr', run.stderr);
    expect(run.lines().map((l) => [l.op, l.uri, l.status]).sort()).toEqual(
      [
        ['echo', EVIL, 'computed'],
        ['fail', EVIL, 'quarantined'],
        ['reject', EVIL, 'quarantined'],
      ].sort(),
    );

    // The worker's own log lines.
    const w = startCli(['work', ...o, '--verbose'], { cwd: dir });
    await w.waitFor(/started/);
    const sub = await cli(['submit', '--wait', '--timeout', '30s', ...o], { cwd: dir, input: line('fail').replace('"uri":"', '"uri":"2') + line('echo').replace('"uri":"', '"uri":"2') });
    clean('submit --wait stdout', sub.stdout);
    clean('submit --wait stderr', sub.stderr);
    expect(sub.lines()).toHaveLength(2);
    await w.waitFor(/quarantined fail/);
    const stopped = await w.stop('SIGTERM');
    clean('work stderr', stopped.stderr);
    expect(stopped.stderr).toMatch(/^quarantined fail 2https:\/\/x\.example\/a\\nFAKE log line\\r\\x1b\[2J/m);

    const list = await cli(['quarantine', 'list', ...o], { cwd: dir });
    clean('quarantine list', list.stdout);
    expect(list.stdout).toMatch(/x\.example\/a\\nFAKE/);
    const group = await cli(['quarantine', 'list', '--group', ...o], { cwd: dir });
    clean('quarantine list --group', group.stdout);
    const items = (await cli(['quarantine', 'list', '--json', ...o], { cwd: dir })).json().items as { id: string; uri: string }[];
    expect(items.map((i) => i.uri)).toContain(EVIL);
    for (const it of items) {
      const show = await cli(['quarantine', 'show', it.id, ...o], { cwd: dir });
      clean('quarantine show', show.stdout);
      const json = await cli(['quarantine', 'show', it.id, '--json', ...o], { cwd: dir });
      clean('quarantine show --json', json.stdout);
      expect(json.json().uri).toBe(it.uri);
    }

    const get = await cli(['get', '--op', 'echo', EVIL], { cwd: dir });
    clean('get', get.stdout);
    expect(get.lines()[0]).toMatchObject({ uri: EVIL, value: { uri: EVIL } });
    const call = await cli(['call', '--op', 'echo', EVIL, ...o], { cwd: dir });
    clean('call', call.stdout);
    expect(JSON.parse(call.stdout)).toEqual({ uri: EVIL });
    const callFail = await cli(['call', '--op', 'fail', `3${EVIL}`, '--inline', ...o], { cwd: dir });
    expect(callFail.code).toBe(1);
    clean('call error', callFail.stderr);
    const warm = await cli(['warm', '--op', 'echo', '--force', '--dry-run', ...o], { cwd: dir, input: line('echo') });
    clean('warm --dry-run', warm.stdout + warm.stderr);
    expect(warm.lines()).toEqual([{ op: 'echo', uri: EVIL }]);
    const inv = await cli(['invalidate', '--op', 'echo', '--match', 'https://x.example/*', '--dry-run'], { cwd: dir });
    clean('invalidate --dry-run', inv.stdout + inv.stderr);
    expect(inv.lines()).toContainEqual({ op: 'echo', uri: EVIL });

    for (const c of [['stats'], ['ops', ...o], ['workers'], ['doctor', ...o], ['stats', '--json']]) {
      const r = await cli(c, { cwd: dir });
      clean(c.join(' '), r.stdout + r.stderr);
    }
  });
});

describe('top', () => {
  it('draws data escaped', () => {
    const model = applySnapshot(
      emptyModel(),
      {
        stats: stats([opStats(EVIL_OP, { quarantined: 1 })], [worker(1, { host: `h\u001b[2J${EVIL}`, ops: [EVIL_OP] })], { broker: `sqlite:/tmp/${EVIL}` }),
        quarantine: [qitem(1, { op: EVIL_OP, uri: EVIL, error: { name: 'Error', message: `failed on ${EVIL}` } }), qitem(2, { uri: EVIL, error: { name: 'QuarantineSignal', message: 'quarantined by the operation' }, details: { reason: EVIL } })],
        fetchMs: 1,
      },
      NOW,
    );
    const ui = initialState({ ops: [{ op: EVIL_OP, paused: false, quarantined: 1 }], selected: EVIL_OP });
    const r = render(createElement(Dashboard, { model, ui, width: 200, height: 40, intervalMs: 1000, now: NOW }));
    // Ink's own colours aside, nothing of the data is interpreted.
    // eslint-disable-next-line no-control-regex
    const frame = (r.lastFrame() ?? '').replace(/\u001b\[[0-9;]*m/g, '');
    r.unmount();
    clean('top', frame);
    expect(frame).toMatch(/FAKE log line/);
  });
});
