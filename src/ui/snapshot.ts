/**
 * Fetching for the dashboard, apart from drawing (STYLE.md "Fetch apart from draw").
 *
 * `fetchSnapshot` gets one snapshot per tick: the same `Stats` as `backache stats --json`,
 * plus the latest quarantine items (of the filtered operations when `/` filters) and, when
 * the detail view is open, that operation's recent jobs and quarantine items. One tick
 * costs O(operations) backend calls: `stats()` is O(operations), a filter one call per
 * operation shown, and the rest is a constant number of calls.
 *
 * `applySnapshot` / `applyError` turn a stream of snapshots into what the components
 * draw: per-operation completed/s and failed/s from counter deltas, a 60 s throughput
 * history for the sparklines, and the last error while keeping the last good data.
 */
import type { QuarantineItem } from '../core/ports.js';
import type { Stats } from '../core/stats.js';

export interface RecentJob {
  id: string;
  uri: string;
  state: string;
  at: number;
}

/** What the dashboard needs from the engine (a `Backache` app, see `sourceFromApp`). */
export interface TopSource {
  stats(): Promise<Stats>;
  /** Newest first. */
  quarantine(o: { op?: string; limit: number }): Promise<QuarantineItem[]>;
  /** Newest first; [] when the queue cannot list recent jobs. */
  recentJobs(op: string, limit: number): Promise<RecentJob[]>;
  pause(op: string): Promise<void>;
  resume(op: string): Promise<void>;
  /** The ids of every item in the operation's quarantine now (what `r` asks about). */
  quarantineIds(op: string): Promise<string[]>;
  /** Queue these quarantine items again; returns how many were still there and replayed. */
  replay(ids: string[]): Promise<number>;
}

/** The subset of `Backache` the dashboard uses (kept structural so tests can fake it). */
export interface TopApp {
  stats(): Promise<Stats>;
  recentJobs(op: string, limit?: number): Promise<RecentJob[]>;
  pause(op: string): Promise<void>;
  resume(op: string): Promise<void>;
  quarantine: {
    list(o: { op?: string; limit?: number; cursor?: string }): Promise<{ items: QuarantineItem[]; cursor?: string }>;
    replay(sel: { ids: string[] }): Promise<{ replayed: number }>;
  };
}

/** Every id in an operation's quarantine, a page at a time. */
async function allIds(app: TopApp, op: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await app.quarantine.list({ op, limit: 1000, cursor });
    for (const it of page.items) ids.push(it.id);
    cursor = page.cursor;
  } while (cursor);
  return ids;
}

export function sourceFromApp(app: TopApp): TopSource {
  return {
    stats: () => app.stats(),
    quarantine: async (o) => (await app.quarantine.list({ op: o.op, limit: o.limit })).items,
    recentJobs: (op, limit) => app.recentJobs(op, limit),
    pause: (op) => app.pause(op),
    resume: (op) => app.resume(op),
    quarantineIds: (op) => allIds(app, op),
    // No ids is no selector at all (the API would refuse it): nothing to replay.
    replay: async (ids) => (ids.length ? (await app.quarantine.replay({ ids })).replayed : 0),
  };
}

export interface Detail {
  op: string;
  recent: RecentJob[];
  quarantine: QuarantineItem[];
}

/** One tick's data. */
export interface Snapshot {
  stats: Stats;
  /** Latest quarantine items over every operation, newest first. */
  quarantine: QuarantineItem[];
  /** Present when the detail view of `detail.op` is open. */
  detail?: Detail;
  /** How long the fetch took (ms). */
  fetchMs: number;
}

export interface FetchOptions {
  /** The operation whose detail view is open. */
  detailOp?: string;
  /** Latest quarantine items to group by error (default 50). */
  quarantineLimit?: number;
  /** Only these operations' quarantine items (the `/` filter is on); default: every operation's. */
  quarantineOps?: string[];
  /** Recent jobs and quarantine items in the detail view (default 30). */
  detailLimit?: number;
  now?: () => number;
}

export async function fetchSnapshot(source: TopSource, o: FetchOptions = {}): Promise<Snapshot> {
  const now = o.now ?? Date.now;
  const t0 = now();
  const limit = o.detailLimit ?? 30;
  const qLimit = o.quarantineLimit ?? 50;
  const [stats, quarantine, detail] = await Promise.all([
    source.stats(),
    o.quarantineOps === undefined ? source.quarantine({ limit: qLimit }) : latestOf(source, o.quarantineOps, qLimit),
    o.detailOp === undefined
      ? undefined
      : Promise.all([source.recentJobs(o.detailOp, limit), source.quarantine({ op: o.detailOp, limit })]).then(
          ([recent, items]): Detail => ({ op: o.detailOp!, recent, quarantine: items }),
        ),
  ]);
  return { stats, quarantine, detail, fetchMs: now() - t0 };
}

/** The latest `limit` quarantine items of some operations, newest first (one call per operation). */
async function latestOf(source: TopSource, ops: string[], limit: number): Promise<QuarantineItem[]> {
  const lists = await Promise.all(ops.map((op) => source.quarantine({ op, limit })));
  return lists
    .flat()
    .sort((a, b) => b.lastFailedAt - a.lastFailedAt)
    .slice(0, limit);
}

export interface OpRates {
  /** Per second since the previous snapshot; null until two snapshots exist. */
  completedPerSec: number | null;
  failedPerSec: number | null;
}

export interface HistoryPoint {
  at: number;
  value: number;
}

/** What the components draw: the last good snapshot and what is derived from the stream. */
export interface SnapshotModel {
  /** The last good snapshot (kept when a fetch fails). */
  snapshot?: Snapshot;
  rates: Record<string, OpRates>;
  /** Completed jobs per second, per operation, over the last `HISTORY_MS`. */
  history: Record<string, HistoryPoint[]>;
  /** The last fetch's error; cleared by the next good fetch. */
  error?: { message: string; at: number };
  /** When the last good snapshot arrived (local clock). */
  lastOkAt?: number;
  /** Good snapshots so far. */
  ticks: number;
}

export const HISTORY_MS = 60_000;

export const emptyModel = (): SnapshotModel => ({ rates: {}, history: {}, ticks: 0 });

const perSec = (now: number, before: number, dtMs: number) => Math.max(0, now - before) / (dtMs / 1000);

/**
 * Fold a good snapshot into the model: rates from the counter deltas since the previous
 * snapshot (a counter that went down, e.g. after `cleanup`, counts as 0), history trimmed
 * to the last `historyMs`, the error cleared.
 */
export function applySnapshot(model: SnapshotModel, snap: Snapshot, receivedAt: number = snap.stats.at, historyMs = HISTORY_MS): SnapshotModel {
  const prev = model.snapshot?.stats;
  const at = snap.stats.at;
  const dt = prev ? at - prev.at : 0;
  const before = new Map(prev?.ops.map((o) => [o.op, o]) ?? []);
  const rates: Record<string, OpRates> = {};
  const history: Record<string, HistoryPoint[]> = {};
  for (const o of snap.stats.ops) {
    const b = before.get(o.op);
    let r: OpRates;
    if (dt > 0) {
      r = { completedPerSec: perSec(o.completed, b?.completed ?? 0, dt), failedPerSec: perSec(o.failed, b?.failed ?? 0, dt) };
      // An operation first seen now has no previous counters: its totals are not a rate.
      if (!b) r = { completedPerSec: null, failedPerSec: null };
    } else {
      r = model.rates[o.op] ?? { completedPerSec: null, failedPerSec: null };
    }
    rates[o.op] = r;
    const kept = (model.history[o.op] ?? []).filter((p) => p.at > at - historyMs && p.at < at);
    if (r.completedPerSec !== null && dt > 0) kept.push({ at, value: r.completedPerSec });
    history[o.op] = kept;
  }
  return { snapshot: snap, rates, history, lastOkAt: receivedAt, ticks: model.ticks + 1 };
}

/** A failed fetch: keep the last good data, remember the error for the status line. */
export function applyError(model: SnapshotModel, error: unknown, at: number): SnapshotModel {
  return { ...model, error: { message: errorMessage(error), at } };
}

export function errorMessage(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]!.trim() || 'unknown error';
}

export interface QuarantineGroup {
  /** The error message shared by the group. */
  message: string;
  name: string;
  count: number;
  ops: string[];
  lastFailedAt: number;
  /** The URI of the newest item. */
  uri: string;
}

/** Latest quarantine items grouped by error message, newest group first. */
export function groupByError(items: readonly QuarantineItem[]): QuarantineGroup[] {
  const groups = new Map<string, QuarantineGroup>();
  for (const it of items) {
    const message = it.error?.message || '(no message)';
    const g = groups.get(message);
    if (!g) {
      groups.set(message, { message, name: it.error?.name ?? 'Error', count: 1, ops: [it.op], lastFailedAt: it.lastFailedAt, uri: it.uri });
      continue;
    }
    g.count++;
    if (!g.ops.includes(it.op)) g.ops.push(it.op);
    if (it.lastFailedAt > g.lastFailedAt) (g.lastFailedAt = it.lastFailedAt), (g.uri = it.uri);
  }
  return [...groups.values()].sort((a, b) => b.lastFailedAt - a.lastFailedAt || b.count - a.count);
}
