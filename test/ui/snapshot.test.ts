/** Fetching and derived data without Ink: fetchSnapshot, rates, history, the poller, formatting, layout. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fmtAge, fmtCount, fmtMs, fmtPct, fmtRate, printable, sparkline, truncate } from '../../src/ui/format.js';
import { chooseColumns, planRows, windowAround } from '../../src/ui/layout.js';
import { Poller } from '../../src/ui/poller.js';
import { applyError, applySnapshot, emptyModel, fetchSnapshot, groupByError, sourceFromApp, type Snapshot, type SnapshotModel, type TopApp } from '../../src/ui/snapshot.js';
import { NOW, opStats, qitem, stats } from './fixtures.js';

const snap = (at: number, completed: Record<string, number>, failed: Record<string, number> = {}): Snapshot => ({
  stats: stats(
    Object.keys(completed).map((op) => opStats(op, { completed: completed[op]!, failed: failed[op] ?? 0 })),
    [],
    { at },
  ),
  quarantine: [],
  fetchMs: 1,
});

describe('applySnapshot: rates from counter deltas and a 60 s history', () => {
  it('has no rate until two snapshots exist, then per second', () => {
    let m = applySnapshot(emptyModel(), snap(NOW, { a: 100 }, { a: 1 }));
    expect(m.rates.a).toEqual({ completedPerSec: null, failedPerSec: null });
    expect(m.history.a).toEqual([]);
    m = applySnapshot(m, snap(NOW + 2000, { a: 300 }, { a: 5 }));
    expect(m.rates.a).toEqual({ completedPerSec: 100, failedPerSec: 2 });
    expect(m.history.a).toEqual([{ at: NOW + 2000, value: 100 }]);
    expect(m.ticks).toBe(2);
  });

  it('a counter that went down (cleanup) is a rate of 0, a new op has no rate yet', () => {
    let m = applySnapshot(emptyModel(), snap(NOW, { a: 100 }));
    m = applySnapshot(m, snap(NOW + 1000, { a: 10, b: 50 }));
    expect(m.rates.a!.completedPerSec).toBe(0);
    expect(m.rates.b!.completedPerSec).toBeNull();
  });

  it('keeps only the last 60 s of history and forgets vanished operations', () => {
    let m = emptyModel();
    for (let i = 0; i <= 90; i++) m = applySnapshot(m, snap(NOW + i * 1000, { a: i * 10, ...(i < 50 ? { b: i } : {}) }));
    expect(m.history.a!.length).toBe(60);
    expect(m.history.a![0]!.at).toBe(NOW + 31_000);
    expect(m.history.b).toBeUndefined();
  });

  it('an error keeps the last good data; the next good snapshot clears it', () => {
    const good = applySnapshot(emptyModel(), snap(NOW, { a: 1 }), NOW);
    const bad = applyError(good, new Error('ECONNREFUSED\nstack…'), NOW + 5);
    expect(bad.snapshot).toBe(good.snapshot);
    expect(bad.error).toEqual({ message: 'ECONNREFUSED', at: NOW + 5 });
    expect(bad.lastOkAt).toBe(NOW);
    expect(applySnapshot(bad, snap(NOW + 1000, { a: 2 })).error).toBeUndefined();
  });
});

describe('fetchSnapshot', () => {
  it('one stats() and one quarantine list per tick; the detail adds two calls', async () => {
    const calls: string[] = [];
    const app: TopApp = {
      stats: async () => (calls.push('stats'), stats([opStats('a')])),
      recentJobs: async (op, n) => (calls.push(`recent ${op} ${n}`), []),
      pause: async () => {},
      resume: async () => {},
      quarantine: {
        list: async (o) => (calls.push(`list ${o.op ?? '*'} ${o.limit}`), { items: [qitem(1)] }),
        replay: async () => ({ replayed: 0 }),
      },
    };
    const s = await fetchSnapshot(sourceFromApp(app));
    expect(calls.sort()).toEqual(['list * 50', 'stats']);
    expect(s.detail).toBeUndefined();
    expect(s.quarantine).toHaveLength(1);
    calls.length = 0;
    const d = await fetchSnapshot(sourceFromApp(app), { detailOp: 'a' });
    expect(calls.sort()).toEqual(['list * 50', 'list a 30', 'recent a 30', 'stats']);
    expect(d.detail).toEqual({ op: 'a', recent: [], quarantine: [qitem(1)] });
  });
});

describe('groupByError', () => {
  it('groups by message, counts, lists ops, newest group first', () => {
    const g = groupByError([
      qitem(1, { lastFailedAt: 10 }),
      qitem(2, { op: 'crawl', lastFailedAt: 30 }),
      qitem(3, { error: { name: 'TypeError', message: 'x is undefined' }, lastFailedAt: 20 }),
    ]);
    expect(g.map((x) => [x.message, x.count, x.ops, x.uri])).toEqual([
      ['HTTP 503 from origin', 2, ['title', 'crawl'], 'https://example.com/page/2'],
      ['x is undefined', 1, ['title'], 'https://example.com/page/3'],
    ]);
  });
});

describe('Poller', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('never overlaps fetches: a slow fetch delays the next tick', async () => {
    vi.useFakeTimers();
    let running = 0;
    let maxRunning = 0;
    let n = 0;
    const p = new Poller({
      intervalMs: 1000,
      onChange: () => {},
      fetch: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 2500)); // slower than the interval
        running--;
        return snap(NOW + ++n * 1000, { a: n });
      },
    });
    p.start();
    p.refresh(); // while one is in flight: queued, not overlapping
    await vi.advanceTimersByTimeAsync(10_000);
    p.stop();
    expect(maxRunning).toBe(1);
    expect(p.fetches).toBe(4); // 0, 2.5, 5, 7.5 s
  });

  it('one fetch per interval, clamped to 250 ms; stop() stops', async () => {
    vi.useFakeTimers();
    let n = 0;
    const p = new Poller({ intervalMs: 10, onChange: () => {}, fetch: async () => snap(NOW + ++n, { a: n }) });
    p.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(p.fetches).toBe(5); // 0, 250, 500, 750, 1000
    p.stop();
    await vi.advanceTimersByTimeAsync(1000);
    expect(p.fetches).toBe(5);
  });

  it('keeps the last good data when a fetch fails and reports the error', async () => {
    vi.useFakeTimers();
    const results: (Error | Snapshot)[] = [snap(NOW, { a: 1 }), new Error('down'), snap(NOW + 2000, { a: 5 })];
    const models: SnapshotModel[] = [];
    const p = new Poller({
      intervalMs: 1000,
      onChange: (m) => models.push(m),
      fetch: async () => {
        const r = results.shift()!;
        if (r instanceof Error) throw r;
        return r;
      },
    });
    p.start();
    await vi.advanceTimersByTimeAsync(2100);
    p.stop();
    expect(models).toHaveLength(3);
    expect(models[1]!.error?.message).toBe('down');
    expect(models[1]!.snapshot).toBe(models[0]!.snapshot);
    expect(models[2]!.error).toBeUndefined();
    expect(models[2]!.rates.a!.completedPerSec).toBe(2);
  });
});

describe('format', () => {
  it.each([
    [0, '0'],
    [9999, '9999'],
    [12_345, '12.3k'],
    [123_456, '123k'],
    [1_250_000, '1.25M'],
    [12_500_000, '12.5M'],
    [3_000_000_000, '3.0G'],
  ])('fmtCount(%d) = %s', (n, s) => expect(fmtCount(n)).toBe(s));

  it('rates, durations, percentages, ages, truncation, control characters', () => {
    expect([fmtRate(null), fmtRate(0), fmtRate(0.01), fmtRate(2.46), fmtRate(123.4), fmtRate(12_345)]).toEqual(['–', '0', '<0.1', '2.5', '123', '12.3k']);
    expect([fmtMs(null), fmtMs(12.4), fmtMs(1500), fmtMs(42_000), fmtMs(90_000)]).toEqual(['–', '12ms', '1.5s', '42s', '1.5m']);
    expect([fmtPct(null), fmtPct(0.873)]).toEqual(['–', '87%']);
    expect([fmtAge(-5), fmtAge(42_000), fmtAge(180_000), fmtAge(7_200_000), fmtAge(200_000_000)]).toEqual(['0s', '42s', '3m', '2h', '2d']);
    expect([truncate('abcdef', 4), truncate('abc', 4), truncate('abc', 1), truncate('abc', 0)]).toEqual(['abc…', 'abc', '…', '']);
    expect(printable('a\u001b[2Jb\nc')).toBe('a\\x1b[2Jb\\nc');
  });

  it('sparkline buckets the window; no data is blank, zero is the lowest bar', () => {
    const pts = [
      { at: NOW - 55_000, value: 0 },
      { at: NOW - 25_000, value: 5 },
      { at: NOW - 1000, value: 10 },
    ];
    expect(sparkline(pts, NOW, 60_000, 6)).toBe('▁  ▅ █');
    expect(sparkline([], NOW, 60_000, 4)).toBe('    ');
  });
});

describe('layout', () => {
  it('80 columns drop the least important columns and fit exactly', () => {
    const cols = chooseColumns(80);
    expect(cols.map((c) => c.id)).toEqual(['op', 'waiting', 'active', 'delayed', 'done', 'fail', 'quar', 'hit', 'p95', 'trend']);
    expect(2 + cols.reduce((n, c) => n + c.width, 0) + cols.length - 1).toBeLessThanOrEqual(80);
    expect(chooseColumns(200).map((c) => c.id)).toContain('coal');
    expect(chooseColumns(200).find((c) => c.id === 'trend')!.width).toBe(60);
    expect(chooseColumns(30).map((c) => c.id)).toEqual(['op', 'waiting', 'active']);
  });

  it('rows: operations first, then workers and quarantine share the rest', () => {
    expect(planRows(24, { ops: 3, workers: 2, quarantine: 3 })).toEqual({ ops: 3, workers: 2, quarantine: 3 });
    expect(planRows(24, { ops: 100, workers: 10, quarantine: 10 })).toEqual({ ops: 14, workers: 2, quarantine: 2 });
    expect(planRows(24, { ops: 5, workers: 20, quarantine: 20 })).toEqual({ ops: 5, workers: 7, quarantine: 6 });
    const p = planRows(24, { ops: 100, workers: 0, quarantine: 0 });
    expect(p.ops).toBe(18);
  });

  it('windowAround keeps the selection in view', () => {
    expect(windowAround(5, 10, 3)).toEqual({ start: 0, end: 5 });
    expect(windowAround(100, 10, 50)).toEqual({ start: 45, end: 55 });
    expect(windowAround(100, 10, 99)).toEqual({ start: 90, end: 100 });
  });
});
