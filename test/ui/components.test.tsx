/**
 * Components take props only: rendered to a string with ink-testing-library for an empty
 * system, a busy one and an error, at 80 columns and wider; then the App wired to a fake
 * source, driven through stdin.
 */
import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/ui/App.js';
import { Dashboard } from '../../src/ui/Dashboard.js';
import { Header } from '../../src/ui/Header.js';
import { OpsTable } from '../../src/ui/OpsTable.js';
import { StatusLine } from '../../src/ui/StatusLine.js';
import { initialState, type UiState } from '../../src/ui/reducer.js';
import { applyError, applySnapshot, emptyModel, type SnapshotModel, type TopSource } from '../../src/ui/snapshot.js';
import { waitUntil } from '../helpers/wait.js';
import { busySnapshot, emptySnapshot, NOW, opStats, qitem, stats } from './fixtures.js';

// eslint-disable-next-line no-control-regex
const strip = (s: string | undefined) => (s ?? '').replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
const lines = (s: string | undefined) => strip(s).split('\n');

const instances: { unmount(): void }[] = [];
afterEach(() => {
  for (const i of instances.splice(0)) i.unmount();
});

function draw(model: SnapshotModel, ui: UiState, width = 80, height = 24, now = NOW) {
  const r = render(<Dashboard model={model} ui={ui} width={width} height={height} intervalMs={1000} now={now} />);
  instances.push(r);
  return strip(r.lastFrame());
}

/** Two busy snapshots one second apart, so rates and the sparkline exist. */
function busyModel() {
  let m = applySnapshot(emptyModel(), busySnapshot(NOW - 1000, 0.99), NOW - 1000);
  m = applySnapshot(m, busySnapshot(NOW), NOW);
  return m;
}

const uiFor = (m: SnapshotModel, o: Partial<UiState> = {}) =>
  initialState({ ops: m.snapshot!.stats.ops.map((x) => ({ op: x.op, paused: x.paused, quarantined: x.quarantined })), selected: m.snapshot!.stats.ops[0]?.op, ...o });

function expectFits(frame: string, width: number, height: number) {
  const ls = frame.split('\n');
  expect(ls.length).toBeLessThanOrEqual(height);
  for (const l of ls) expect(l.length, l).toBeLessThanOrEqual(width);
}

describe('Dashboard at 80×24', () => {
  it('an empty system says what to do', () => {
    const m = applySnapshot(emptyModel(), emptySnapshot(), NOW);
    const f = draw(m, initialState());
    expectFits(f, 80, 24);
    expect(f).toContain('backache top');
    expect(f).toContain('redis://app:***@redis.internal:6379/0');
    expect(f).toContain('workers 0');
    expect(f).toContain('no operations yet');
    expect(f).toContain('WORKERS none alive');
    expect(f).toContain('QUARANTINE empty');
    expect(f).toContain('updated 0s ago · every 1s');
  });

  it('before the first snapshot it is loading', () => {
    const f = draw(emptyModel(), initialState());
    expect(f).toContain('connecting…');
    expect(f).toContain('loading…');
  });

  it('a busy system: one row per operation with counts, rates, quarantine, hit ratio and p95', () => {
    const m = busyModel();
    const f = draw(m, uiFor(m, { selected: 'title' }));
    expectFits(f, 80, 24);
    const ls = lines(f);
    const row = (op: string) => ls.find((l) => l.slice(2).startsWith(op))!;
    expect(ls.find((l) => l.includes('OPERATION'))).toMatch(/OPERATION\s+WAIT\s+ACT\s+DELAY\s+DONE\/s\s+FAIL\/s\s+QUAR\s+HIT%\s+P95\s+LAST 60s/);
    expect(row('crawl')).toMatch(/crawl\s+1\.25M\s+16\s+42\s+9000\s+0\s+0\s+10%\s+4\.2s/);
    expect(row('title')).toMatch(/title\s+3\s+4\s+0\s+150\s+4\.0\s+7\s+90%\s+210ms/);
    expect(row('title').startsWith('> ')).toBe(true);
    // The paused operation keeps a visible mark even when its name is cut.
    expect(row('thumbnail')).toContain('‖');
    // Header totals, with the URL password masked.
    expect(f).toMatch(/workers 2 · wait 1\.25M · act 22 · dly 42 · quar 7/);
    // Workers: host, pid, concurrency, done, heartbeat age.
    expect(f).toMatch(/box-1 pid 4001\s+conc 8\s+done 1200\s+beat\s+1s ago\s+ops title,thumbnail/);
    expect(f).toMatch(/box-2 pid 4002 .*beat\s+9s ago/);
    // Quarantine grouped by error message, newest group first, control characters escaped.
    const q = ls.slice(ls.findIndex((l) => l.startsWith('QUARANTINE')));
    expect(q[0]).toContain('QUARANTINE 7 items');
    expect(q[1]).toMatch(/×1\s+5s title Cannot read properties/);
    expect(q[2]).toMatch(/×2 59s title HTTP 503 from origin/);
    expect(f).toContain('line one\\nline two');
    expect(f).toContain('https://evil.example/\\x1b[31mred');
    // A sparkline of the last 60 s.
    expect(row('crawl')).toMatch(/[▁▂▃▄▅▆▇█]\s*$/);
  });

  it('masks a password in a URL the header is given', () => {
    const m = applySnapshot(emptyModel(), { ...emptySnapshot(), stats: stats([], [], { broker: 'redis://u:hunter2@h:6379', cache: 'redis://u:hunter2@h:6379' }) }, NOW);
    const f = draw(m, initialState());
    expect(f).not.toContain('hunter2');
    expect(f).toContain('redis://u:***@h:6379');
    expect(f).toContain('cache same');
  });

  it('an error keeps the last good data and says how old it is', () => {
    const m = applyError(busyModel(), new Error('connect ECONNREFUSED 127.0.0.1:6379\n    at TCPConnectWrap'), NOW + 7000);
    const f = draw(m, uiFor(m), 80, 24, NOW + 7000);
    expectFits(f, 80, 24);
    expect(f).toContain('crawl');
    expect(lines(f).at(-1)).toBe('fetch failed: connect ECONNREFUSED 127.0.0.1:6379 · showing data from 7s ago');
  });

  it('an error before any data says there is none', () => {
    const f = draw(applyError(emptyModel(), new Error('no such table: jobs'), NOW), initialState());
    expect(f).toContain('fetch failed: no such table: jobs · no data yet');
  });

  it('100 operations: a window around the selection and how many are hidden', () => {
    const ops = Array.from({ length: 100 }, (_, i) => opStats(`op-${String(i).padStart(3, '0')}`, { waiting: i }));
    const m = applySnapshot(emptyModel(), { stats: stats(ops), quarantine: [], fetchMs: 1 }, NOW);
    const f = draw(m, uiFor(m, { selected: 'op-050' }));
    expectFits(f, 80, 24);
    expect(f).toMatch(/> op-050/);
    expect(f).toMatch(/↑ \d+ ↓ \d+ more of 100/);
  });

  it('the filter prompt and the y/n question take the status line', () => {
    const m = busyModel();
    expect(lines(draw(m, uiFor(m, { mode: 'filter', filter: 'ti' }))).at(-1)).toMatch(/^\/ti\s+Enter keep · Esc clear/);
    expect(lines(draw(m, uiFor(m, { mode: 'confirm', confirm: { op: 'title', count: 7, ids: [] } }))).at(-1)).toMatch(/^Replay 7 quarantined title requests\? \[y\/N\]/);
    expect(lines(draw(m, uiFor(m, { status: { text: 'paused title', tone: 'ok' } }))).at(-1)).toMatch(/^paused title\s+│\s+updated/);
  });

  it('the detail view: all numbers, recent jobs, quarantine items', () => {
    const m0 = busyModel();
    const snap = {
      ...m0.snapshot!,
      detail: {
        op: 'title',
        recent: [
          { id: 'job-aaaa', uri: 'https://example.com/a', state: 'completed', at: NOW - 2000 },
          { id: 'job-bbbb', uri: 'https://example.com/b', state: 'quarantined', at: NOW - 3000 },
        ],
        quarantine: [qitem(9, { attempts: 4 })],
      },
    };
    const m = { ...m0, snapshot: snap };
    const f = draw(m, uiFor(m, { view: 'detail', selected: 'title' }));
    expectFits(f, 80, 24);
    expect(f).toMatch(/^title\s+Esc back/m);
    expect(f).toMatch(/waiting 3\s+active 4\s+delayed 0/);
    expect(f).toMatch(/done 15\.0k \(150\/s\)\s+failed 400 \(4\.0\/s\)/);
    expect(f).toMatch(/hits 9000\s+L1 8000\s+misses 1000\s+stale 0\s+coalesced 321\s+hit ratio 90%/);
    expect(f).toMatch(/2s completed\s+job-aaaa\s+https:\/\/example.com\/a/);
    expect(f).toMatch(/3s quarantined job-bbbb/);
    expect(f).toMatch(/QUARANTINE 7 items · r replays them/);
    expect(f).toMatch(/59s ×4 HTTP 503 from origin https:\/\/example.com\/page\/9/);
  });

  it('the detail of a paused operation says so', () => {
    const m = busyModel();
    expect(draw(m, uiFor(m, { view: 'detail', selected: 'thumbnail' }))).toContain('thumbnail PAUSED (p resumes)');
  });

  it('help lists every key', () => {
    const m = busyModel();
    const f = draw(m, uiFor(m, { help: true }));
    expectFits(f, 80, 24);
    for (const k of ['j k', 'Enter', 'Esc', 'p ', 'r ', '/ ', '? ', 'q ']) expect(f).toContain(`  ${k}`);
    expect(f).toContain('red failures and quarantine');
  });
});

describe('in a wide terminal', () => {
  it('shows every column and a longer sparkline', () => {
    const m = busyModel();
    const f = draw(m, uiFor(m), 160, 40);
    expectFits(f, 160, 40);
    expect(f).toMatch(/OPERATION\s+WAIT\s+ACT\s+DELAY\s+DONE\/s\s+FAIL\/s\s+QUAR\s+HIT%\s+COAL\s+P50\s+P95\s+LAST 60s/);
    expect(f).toMatch(/thumbnail \(paused\)/);
    expect(f).toMatch(/title\s+3\s+4\s+0\s+150\s+4\.0\s+7\s+90%\s+321\s+35ms\s+210ms/);
    expect(f).toContain('workers 2 · waiting 1.25M · active 22 · delayed 42 · quarantined 7 · failed 412 · done 918k · entries 65.0k · paused 1');
  });

  it('in a very narrow terminal the name and the most important counts stay', () => {
    const m = busyModel();
    const f = draw(m, uiFor(m), 40, 16);
    expectFits(f, 40, 16);
    expect(f).toMatch(/crawl\s+1\.25M\s+16/);
  });
});

describe('single components', () => {
  it('Header before data, OpsTable with a filter that matches nothing, StatusLine', () => {
    const h = render(<Header width={80} />);
    const t = render(<OpsTable ops={[]} rates={{}} history={{}} width={80} rows={5} now={NOW} filter="zz" />);
    const s = render(<StatusLine ui={{ mode: 'normal', filter: 'ti', status: { text: 'replay cancelled', tone: 'info' } }} lastOkAt={NOW - 3000} intervalMs={250} width={80} now={NOW} />);
    instances.push(h, t, s);
    expect(strip(h.lastFrame())).toContain('connecting…');
    expect(strip(t.lastFrame())).toContain('no operation matches "zz"');
    expect(strip(s.lastFrame())).toBe('filter /ti replay cancelled  │  updated 3s ago · every 250ms · ? help · q quit');
  });
});

/** A fake engine: counters grow on every stats() call; pause/resume/replay are recorded. */
function fakeSource() {
  const calls: string[] = [];
  let n = 0;
  const paused = new Set<string>();
  let quarantined = 2;
  const source: TopSource = {
    async stats() {
      n++;
      return stats([
        opStats('alpha', { waiting: 10 + n, completed: 100 * n, paused: paused.has('alpha') }),
        opStats('beta', { waiting: 5, completed: 10 * n, quarantined, paused: paused.has('beta') }),
      ], [], { at: Date.now() });
    },
    async quarantine({ op }) {
      return quarantined ? [qitem(1, { op: op ?? 'beta' }), qitem(2, { op: op ?? 'beta' })] : [];
    },
    async recentJobs(op) {
      calls.push(`recent ${op}`);
      return [{ id: 'j1', uri: `https://x/${op}`, state: 'completed', at: Date.now() }];
    },
    async pause(op) {
      calls.push(`pause ${op}`);
      paused.add(op);
    },
    async resume(op) {
      calls.push(`resume ${op}`);
      paused.delete(op);
    },
    async quarantineIds(op) {
      calls.push(`ids ${op}`);
      return Array.from({ length: quarantined }, (_, i) => `q${i + 1}`);
    },
    async replay(ids) {
      calls.push(`replay ${ids.join(',')}`);
      quarantined -= ids.length;
      return ids.length;
    },
  };
  return { source, calls, fetches: () => n };
}

describe('App (hook + reducer + effects wired together)', () => {
  it('polls, moves, pauses, opens the detail, replays after y, and quits', async () => {
    const f = fakeSource();
    const r = render(<App source={f.source} intervalMs={250} />);
    instances.push(r);
    const frame = () => strip(r.lastFrame());
    const key = async (k: string) => {
      r.stdin.write(k);
      await new Promise((res) => setTimeout(res, 20));
    };
    await waitUntil(() => frame().includes('> alpha'), 'first snapshot');
    await waitUntil(() => f.fetches() >= 3, 'three ticks');
    await waitUntil(() => /alpha\s+\d+\s+0\s+0\s+[1-9]/.test(frame()), 'a completed/s rate');

    await key('j');
    expect(frame()).toContain('> beta');
    await key('p');
    await waitUntil(() => frame().includes('paused beta'), 'pause reported');
    expect(f.calls).toContain('pause beta');
    await waitUntil(() => frame().includes('beta (paused)'), 'paused row');
    await key('p');
    await waitUntil(() => frame().includes('resumed beta'), 'resume reported');

    await key('\r');
    await waitUntil(() => frame().includes('https://x/beta'), 'detail with recent jobs');
    expect(f.calls).toContain('recent beta');
    await key('r');
    await waitUntil(() => frame().includes('Replay 2 quarantined beta requests? [y/N]'), 'the y/n question');
    await key('y');
    await waitUntil(() => frame().includes('replayed 2 quarantined beta requests'), 'replay reported');
    expect(f.calls).toContain('replay q1,q2');
    await key('\u001b');
    await waitUntil(() => frame().includes('OPERATION'), 'back to the list');

    const before = f.fetches();
    await key('q');
    await new Promise((res) => setTimeout(res, 600));
    // Quitting unmounts: the poller stops.
    expect(f.fetches()).toBeLessThanOrEqual(before + 1);
  });

  it('a failing source shows the error and keeps polling', async () => {
    const f = fakeSource();
    let fail = false;
    const source = { ...f.source, stats: () => (fail ? Promise.reject(new Error('database is locked')) : f.source.stats()) };
    const r = render(<App source={source} intervalMs={250} />);
    instances.push(r);
    const frame = () => strip(r.lastFrame());
    await waitUntil(() => frame().includes('> alpha'), 'first snapshot');
    fail = true;
    await waitUntil(() => frame().includes('fetch failed: database is locked'), 'error shown');
    expect(frame()).toContain('alpha');
    fail = false;
    await waitUntil(() => !frame().includes('fetch failed') && frame().includes('updated'), 'recovered');
  });
});
