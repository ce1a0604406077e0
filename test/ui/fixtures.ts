/** Plain snapshot data for the dashboard's tests: an empty system and a busy one. */
import type { QuarantineItem, WorkerInfo } from '../../src/core/ports.js';
import type { OpStats, Stats } from '../../src/core/stats.js';
import type { Snapshot } from '../../src/ui/snapshot.js';

export const NOW = 1_700_000_000_000;

export function opStats(op: string, o: Partial<OpStats> = {}): OpStats {
  return {
    op,
    waiting: 0,
    active: 0,
    delayed: 0,
    paused: false,
    quarantined: 0,
    pending: 0,
    entries: 0,
    hitRatio: null,
    p50: null,
    p95: null,
    hits: 0,
    misses: 0,
    stale: 0,
    coalesced: 0,
    completed: 0,
    failed: 0,
    retried: 0,
    l1Hits: 0,
    ...o,
  };
}

export function stats(ops: OpStats[], workers: WorkerInfo[] = [], o: Partial<Stats> = {}): Stats {
  const sum = (k: keyof OpStats) => ops.reduce((n, x) => n + (x[k] as number), 0);
  return {
    at: NOW,
    broker: 'redis://app:***@redis.internal:6379/0',
    cache: 'mongodb://cache.internal/backache',
    ops,
    workers,
    totals: {
      waiting: sum('waiting'),
      active: sum('active'),
      delayed: sum('delayed'),
      quarantined: sum('quarantined'),
      completed: sum('completed'),
      failed: sum('failed'),
      entries: sum('entries'),
    },
    ...o,
  };
}

export const worker = (n: number, o: Partial<WorkerInfo> = {}): WorkerInfo => ({
  id: `w${n}`,
  host: `box-${n}`,
  pid: 4000 + n,
  ops: ['title', 'thumbnail'],
  concurrency: 8,
  startedAt: NOW - 3_600_000,
  lastSeen: NOW - 1000,
  processed: 1200 * n,
  ...o,
});

export const qitem = (n: number, o: Partial<QuarantineItem> = {}): QuarantineItem => ({
  id: `q${n}`,
  op: 'title',
  uri: `https://example.com/page/${n}`,
  cbArgs: [],
  kwargs: {},
  error: { name: 'Error', message: 'HTTP 503 from origin' },
  attempts: 3,
  firstFailedAt: NOW - 120_000,
  lastFailedAt: NOW - 60_000 + n,
  ...o,
});

export const emptySnapshot = (): Snapshot => ({ stats: stats([]), quarantine: [], fetchMs: 2 });

export function busySnapshot(at = NOW, scale = 1): Snapshot {
  const ops = [
    opStats('crawl', { waiting: 1_250_000, active: 16, delayed: 42, completed: Math.round(900_000 * scale), failed: 12, hits: 10, misses: 90, hitRatio: 0.1, coalesced: 5, p50: 850, p95: 4200, entries: 50_000 }),
    opStats('thumbnail', { waiting: 12, active: 2, paused: true, completed: Math.round(3400 * scale), hits: 800, misses: 200, hitRatio: 0.8, p50: 120, p95: 900, entries: 3000 }),
    opStats('title', { waiting: 3, active: 4, completed: Math.round(15_000 * scale), failed: Math.round(400 * scale), quarantined: 7, hits: 9000, l1Hits: 8000, misses: 1000, hitRatio: 0.9, coalesced: 321, p50: 35, p95: 210, entries: 12_000 }),
  ];
  const workers = [worker(1), worker(2, { lastSeen: NOW - 9000, ops: ['crawl'] })];
  const quarantine = [
    qitem(1),
    qitem(2),
    qitem(3, { error: { name: 'TypeError', message: "Cannot read properties of undefined (reading 'title')" }, lastFailedAt: NOW - 5000 }),
    qitem(4, { op: 'crawl', uri: 'https://evil.example/\u001b[31mred', error: { name: 'Error', message: 'line one\nline two' }, lastFailedAt: NOW - 300_000 }),
  ];
  return { stats: stats(ops, workers, { at }), quarantine, fetchMs: 12 };
}
