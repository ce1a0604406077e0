/**
 * One `backache top` tick on SQLite with 100 operations and 1,000,000 waiting jobs:
 * the latency of `fetchSnapshot` (stats() + the latest quarantine), and the backend calls
 * it makes (O(operations), whatever the number of jobs). Side by side with the raw
 * layer: the same per-operation count queries run directly through better-sqlite3.
 *
 * Two layouts of the same million jobs: spread evenly (10k per operation) and skewed
 * (all in one operation). Prints one JSON line per layout on stdout.
 * Run: node --import tsx bench/top-tick.ts   (TICK_OPS, TICK_JOBS, TICK_TICKS to change sizes)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createBackache, openBackend, type Backend, type NewJob } from '../src/index.js';
import { newId } from '../src/core/hash.js';
import { fetchSnapshot, sourceFromApp } from '../src/ui/snapshot.js';
import { printTable, save } from './lib.js';

const OPS = Number(process.env.TICK_OPS ?? 100);
const JOBS = Number(process.env.TICK_JOBS ?? 1_000_000);
const TICKS = Number(process.env.TICK_TICKS ?? 30);
const BATCH = 10_000;

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
};
const round = (x: number) => Number(x.toFixed(2));

/** Every port method call counted (the backend calls of one tick). */
function counting(b: Backend): { backend: Backend; calls: () => number; reset: () => void } {
  let n = 0;
  const wrap = <T extends object>(port: T): T =>
    new Proxy(port, {
      get(target, key, recv) {
        const v = Reflect.get(target, key, recv);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          n++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  const backend: Backend = {
    cache: wrap(b.cache),
    locker: wrap(b.locker),
    pending: wrap(b.pending),
    queue: wrap(b.queue),
    quarantine: wrap(b.quarantine),
    registry: wrap(b.registry),
    steps: wrap(b.steps),
    regionSteps: wrap(b.regionSteps),
    describe: () => b.describe(),
    close: () => b.close(),
  };
  return { backend, calls: () => n, reset: () => (n = 0) };
}

async function layout(name: 'spread' | 'skewed', dir: string) {
  const file = join(dir, `${name}.db`);
  const opNames = Array.from({ length: OPS }, (_, i) => `op${String(i).padStart(3, '0')}`);
  const raw = await openBackend({ broker: `sqlite:${file}` });
  const { backend, calls, reset } = counting(raw);
  const operations = Object.fromEntries(opNames.map((op) => [op, async () => null]));
  const app = await createBackache({ operations, backend });

  const t0 = performance.now();
  for (let i = 0; i < JOBS; i += BATCH) {
    const jobs: NewJob[] = [];
    for (let j = i; j < Math.min(JOBS, i + BATCH); j++) {
      const op = name === 'spread' ? opNames[j % OPS]! : opNames[0]!;
      jobs.push({ id: newId(), data: { op, uri: `https://example.com/${j}`, kwargs: {} } });
    }
    await raw.queue.addMany(jobs);
  }
  process.stderr.write(`  ${name}: ${JOBS} jobs inserted in ${Math.round(performance.now() - t0)} ms\n`);

  const source = sourceFromApp(app);
  await fetchSnapshot(source); // warm the statement cache
  const ticks: number[] = [];
  let callsPerTick = 0;
  let waiting = 0;
  for (let i = 0; i < TICKS; i++) {
    reset();
    const s = performance.now();
    const snap = await fetchSnapshot(source);
    ticks.push(performance.now() - s);
    callsPerTick = calls();
    waiting = snap.stats.totals.waiting;
  }

  // The raw layer: the same per-operation counts straight through better-sqlite3.
  const db = new Database(file, { readonly: true });
  const count = db.prepare(
    `SELECT (SELECT count(*) FROM jobs WHERE prefix = @p AND op = @op AND state = 0) AS w,
            (SELECT count(*) FROM jobs WHERE prefix = @p AND op = @op AND state = 1) AS d,
            (SELECT count(*) FROM jobs WHERE prefix = @p AND op = @op AND state = 2) AS a`,
  );
  const rawTicks: number[] = [];
  for (let i = 0; i < TICKS; i++) {
    const s = performance.now();
    for (const op of opNames) count.get({ p: 'backache', op });
    rawTicks.push(performance.now() - s);
  }
  db.close();
  await app.close();
  await raw.close();

  const row = {
    bench: 'top-tick',
    layout: name,
    ops: OPS,
    waiting,
    ticks: TICKS,
    tick_p50_ms: round(quantile(ticks, 0.5)),
    tick_p95_ms: round(quantile(ticks, 0.95)),
    tick_max_ms: round(Math.max(...ticks)),
    backend_calls_per_tick: callsPerTick,
    raw_counts_p50_ms: round(quantile(rawTicks, 0.5)),
    ratio: round(quantile(ticks, 0.5) / quantile(rawTicks, 0.5)),
  };
  process.stdout.write(JSON.stringify(row) + '\n');
  return row;
}

const dir = mkdtempSync(join(tmpdir(), 'backache-top-tick-'));
try {
  const rows = [await layout('spread', dir), await layout('skewed', dir)];
  printTable(rows);
  save('top-tick', rows);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
