/**
 * Human renderings of the data commands return (the same data `--json` prints).
 * Pure functions of their input, so they are unit-tested as strings. Data is escaped
 * (`safe`, and `table` escapes every cell): it never reaches the terminal raw.
 */
import type { QuarantineItem, WorkerInfo } from '../core/ports.js';
import { quarantineReason } from '../core/quarantine-api.js';
import type { Stats } from '../core/stats.js';
import { maskText } from '../core/url.js';
import { ago, iso, ms, pct, safe, stackLines, table, truncate } from './output.js';

export function renderStats(s: Stats): string {
  const lines = [`broker ${safe(s.broker)}${s.cache !== s.broker ? `   cache ${safe(s.cache)}` : ''}`, ''];
  if (s.ops.length === 0) lines.push('no operations yet (nothing submitted, no worker running)');
  else {
    lines.push(
      table(s.ops, [
        { header: 'OP', get: (o) => o.op + (o.paused ? ' (paused)' : '') },
        { header: 'WAITING', get: (o) => o.waiting },
        { header: 'ACTIVE', get: (o) => o.active },
        { header: 'DELAYED', get: (o) => o.delayed },
        { header: 'DONE', get: (o) => o.completed },
        { header: 'FAILED', get: (o) => o.failed },
        { header: 'QUARANTINED', get: (o) => o.quarantined },
        { header: 'HITS', get: (o) => o.hits },
        // Of the hits, those a process's L1 tier served (no store read).
        { header: 'L1 HITS', get: (o) => o.l1Hits },
        { header: 'MISSES', get: (o) => o.misses },
        { header: 'COALESCED', get: (o) => o.coalesced },
        { header: 'HIT%', get: (o) => pct(o.hitRatio), align: 'right' },
        { header: 'P50', get: (o) => ms(o.p50), align: 'right' },
        { header: 'P95', get: (o) => ms(o.p95), align: 'right' },
        { header: 'ENTRIES', get: (o) => o.entries },
      ]),
    );
  }
  lines.push('');
  lines.push(`${s.workers.length} worker${s.workers.length === 1 ? '' : 's'} alive${s.workers.length ? `: ${s.workers.map((w) => safe(`${w.host}:${w.pid}`)).join(', ')}` : ''}`);
  return lines.join('\n');
}

export function renderWorkers(ws: WorkerInfo[], now = Date.now()): string {
  if (ws.length === 0) return 'no worker alive (start one with: backache work)';
  return table(ws, [
    { header: 'ID', get: (w) => w.id },
    { header: 'HOST', get: (w) => w.host },
    { header: 'PID', get: (w) => String(w.pid), align: 'right' },
    { header: 'OPS', get: (w) => w.ops.join(','), max: 40 },
    { header: 'CONCURRENCY', get: (w) => workerConcurrency(w), max: 40 },
    { header: 'RUNNING', get: (w) => w.running ?? '-' },
    { header: 'PROCESSED', get: (w) => w.processed },
    // The ids of the jobs it runs, as of its last heartbeat (`backache jobs show ID`).
    { header: 'JOBS', get: (w) => (w.jobs?.length ? w.jobs.join(',') : '-'), max: 60 },
    { header: 'STARTED', get: (w) => ago(w.startedAt, now) },
    { header: 'LAST SEEN', get: (w) => ago(w.lastSeen, now) },
  ]);
}

/**
 * What a worker applies per operation: one number when every operation runs with the same
 * concurrency, else `op=N` for each (an operation's own `concurrency` wins over the
 * worker's default). Workers that do not publish it show their default.
 */
export function workerConcurrency(w: WorkerInfo): string {
  const per = w.ops.map((op) => [op, w.opOptions?.[op]?.concurrency ?? w.concurrency] as const);
  const distinct = new Set(per.map(([, n]) => n));
  if (distinct.size <= 1) return String(per[0]?.[1] ?? w.concurrency);
  return per.map(([op, n]) => `${op}=${n}`).join(',');
}

export interface OpRow {
  op: string;
  workers: number;
  concurrency: number;
  /** Defined in the local operations module. */
  local: boolean;
}

export function renderOps(rows: OpRow[]): string {
  if (rows.length === 0) return 'no operation seen (no worker alive, no operations module configured)';
  return table(rows, [
    { header: 'OP', get: (r) => r.op },
    { header: 'WORKERS', get: (r) => r.workers },
    { header: 'CONCURRENCY', get: (r) => r.concurrency },
    { header: 'LOCAL', get: (r) => (r.local ? 'yes' : 'no') },
  ]);
}

export function renderQuarantineList(items: QuarantineItem[], now = Date.now()): string {
  if (items.length === 0) return 'quarantine is empty (for this selection)';
  return table(items, [
    { header: 'ID', get: (i) => i.id },
    { header: 'OP', get: (i) => i.op },
    { header: 'URI', get: (i) => i.uri, max: 50 },
    { header: 'ATTEMPTS', get: (i) => i.attempts },
    { header: 'LAST FAILED', get: (i) => ago(i.lastFailedAt, now) },
    { header: 'ERROR', get: (i) => maskText(`${i.error.name}: ${i.error.message}`), max: 70 },
  ]);
}

export interface QuarantineGroup {
  error: string;
  count: number;
  ops: string[];
  firstFailedAt: number;
  lastFailedAt: number;
  /** A few item ids, to `show` one. */
  sample: string[];
}

/** Group items by error, and the operation's reason (`quarantine list --group`), biggest group first. */
export function groupQuarantine(items: Iterable<QuarantineItem>, sampleSize = 3): QuarantineGroup[] {
  const groups = new Map<string, QuarantineGroup>();
  for (const it of items) addToGroups(groups, it, sampleSize);
  return sortGroups(groups);
}

export function addToGroups(groups: Map<string, QuarantineGroup>, it: QuarantineItem, sampleSize = 3) {
  const key = `${it.error.name}: ${quarantineReason(it)}`;
  let g = groups.get(key);
  if (!g) groups.set(key, (g = { error: maskText(key), count: 0, ops: [], firstFailedAt: it.firstFailedAt, lastFailedAt: it.lastFailedAt, sample: [] }));
  g.count++;
  if (!g.ops.includes(it.op)) g.ops.push(it.op);
  g.firstFailedAt = Math.min(g.firstFailedAt, it.firstFailedAt);
  g.lastFailedAt = Math.max(g.lastFailedAt, it.lastFailedAt);
  if (g.sample.length < sampleSize) g.sample.push(it.id);
}

export const sortGroups = (groups: Map<string, QuarantineGroup>) => [...groups.values()].sort((a, b) => b.count - a.count || b.lastFailedAt - a.lastFailedAt);

export function renderQuarantineGroups(groups: QuarantineGroup[], now = Date.now()): string {
  if (groups.length === 0) return 'quarantine is empty (for this selection)';
  return table(groups, [
    { header: 'COUNT', get: (g) => g.count },
    { header: 'OPS', get: (g) => g.ops.join(','), max: 30 },
    { header: 'LAST FAILED', get: (g) => ago(g.lastFailedAt, now) },
    { header: 'ERROR', get: (g) => g.error, max: 80 },
    { header: 'E.G.', get: (g) => g.sample[0] },
  ]);
}

export function renderQuarantineItem(it: QuarantineItem): string {
  // Pretty JSON has newlines of its own only (those inside strings are escaped): escape each line.
  const j = (v: unknown) => JSON.stringify(v, null, 2).split('\n').map(safe).join('\n');
  const lines = [
    `id            ${safe(it.id)}`,
    `op            ${safe(it.op)}`,
    `uri           ${safe(it.uri)}`,
    `attempts      ${it.attempts}`,
    `first failed  ${iso(it.firstFailedAt)}`,
    `last failed   ${iso(it.lastFailedAt)}`,
    `worker        ${safe(it.worker ?? '-')}`,
    `kwargs        ${j(it.kwargs)}`,
    `cbArgs        ${j(it.cbArgs)}`,
  ];
  if (it.details !== undefined) lines.push(`details       ${j(it.details)}`);
  lines.push(`error         ${safe(`${it.error.name}: ${it.error.message}`)}`);
  if (it.error.stack) lines.push('', ...stackLines(it.error));
  return lines.join('\n');
}

export { truncate };
