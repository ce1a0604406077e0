import { emptyCounters, type Backend, type OpCounters, type WorkerInfo } from './ports.js';

export interface OpStats extends OpCounters {
  op: string;
  waiting: number;
  active: number;
  delayed: number;
  paused: boolean;
  quarantined: number;
  /** Pairs with requests waiting for a result. */
  pending: number;
  /** Cached entries of this operation. */
  entries: number;
  /** hits / (hits + misses), null before any request. */
  hitRatio: number | null;
  /** Run time percentiles over the recent window (ms), null without data. */
  p50: number | null;
  p95: number | null;
}

export interface Stats {
  at: number;
  broker: string;
  cache: string;
  ops: OpStats[];
  workers: WorkerInfo[];
  totals: { waiting: number; active: number; delayed: number; quarantined: number; completed: number; failed: number; entries: number };
}

export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/**
 * One snapshot, O(operations) backend calls: counters, run times, quarantine counts and
 * workers in one call each, then queue counts, pending and entry counts per operation.
 */
export async function collectStats(backend: Backend, defined: string[]): Promise<Stats> {
  const [counters, durations, quarantined, workers, cached] = await Promise.all([
    backend.registry.counters(),
    backend.registry.durations(),
    backend.quarantine.countByOp(),
    backend.registry.workers(),
    backend.cache.namespaces(),
  ]);
  const names = new Set([...defined, ...Object.keys(counters), ...Object.keys(quarantined), ...workers.flatMap((w) => w.ops)]);
  const cachedSet = new Set(cached);
  const ops = await Promise.all(
    [...names].sort().map(async (op): Promise<OpStats> => {
      const [q, pending, entries] = await Promise.all([backend.queue.counts(op), backend.pending.count(op), cachedSet.has(op) ? backend.cache.count(op) : 0]);
      const c = { ...emptyCounters(), ...counters[op] };
      const d = [...(durations[op] ?? [])].sort((a, b) => a - b);
      const asked = c.hits + c.misses;
      return {
        op,
        ...q,
        ...c,
        quarantined: quarantined[op] ?? 0,
        pending,
        entries,
        hitRatio: asked ? c.hits / asked : null,
        p50: percentile(d, 50),
        p95: percentile(d, 95),
      };
    }),
  );
  const sum = (k: keyof OpStats) => ops.reduce((n, o) => n + (o[k] as number), 0);
  const { broker, cache } = backend.describe();
  return {
    at: Date.now(),
    broker,
    cache,
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
  };
}
