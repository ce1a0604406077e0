/**
 * Shared bench helpers: run backache and the raw layer beneath it alternately in one
 * process, report throughput medians and their ratio as JSON lines and a table, and save
 * the run under bench/results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

export interface Variant {
  /** Sets up (untimed), returns the timed body and a teardown. */
  prepare(round: number): Promise<{ run: () => Promise<unknown>; teardown?: () => Promise<unknown> }>;
}

export interface Measure {
  name: string;
  unit: string;
  items: number;
  backache: number[];
  raw: number[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const resultsDir = () => {
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  return dir;
};

/**
 * `BENCH_PROFILE=backache` (or `raw`) records a CPU profile of that variant's timed runs only
 * (setup and teardown excluded) into bench/results/<bench>-<variant>-<round>.cpuprofile;
 * summarise it with bench/cpuprofile.ts.
 */
async function profiled<T>(name: string, which: string, round: number, body: () => Promise<T>): Promise<T> {
  if (process.env.BENCH_PROFILE !== which) return body();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  try {
    return await body();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    const file = `${resultsDir()}${name.replace(/[^A-Za-z0-9]+/g, '-')}-${which}-${round}.cpuprofile`;
    writeFileSync(file, JSON.stringify(profile));
    process.stderr.write(`  profile: ${file}\n`);
    session.disconnect();
  }
}

/** Rounds alternate raw, backache, raw, backache…; each reports items per second. */
export async function compare(name: string, items: number, rounds: number, variants: { backache: Variant; raw: Variant }) {
  const m: Measure = { name, unit: 'items/s', items, backache: [], raw: [] };
  for (let i = 0; i < rounds; i++) {
    for (const which of ['raw', 'backache'] as const) {
      const { run, teardown } = await variants[which].prepare(i);
      const t0 = performance.now();
      await profiled(name, which, i, run);
      const secs = (performance.now() - t0) / 1000;
      await teardown?.();
      m[which].push(items / secs);
      process.stderr.write(`  ${name} round ${i + 1}/${rounds} ${which}: ${Math.round(items / secs)} items/s\n`);
    }
  }
  return report(m);
}

export function report(m: Measure) {
  const b = median(m.backache);
  const r = median(m.raw);
  // The ratio of medians, and the median of the per-round ratios (each round runs both
  // variants back to back, so it is less sensitive to load that changes during the run).
  const perRound = m.backache.map((x, i) => x / m.raw[i]!);
  const row = {
    bench: m.name,
    items: m.items,
    backache_per_s: Math.round(b),
    raw_per_s: Math.round(r),
    ratio: Number((b / r).toFixed(3)),
    round_ratio_median: Number(median(perRound).toFixed(3)),
    rounds: m.backache.length,
    load: Number(loadavg()[0]!.toFixed(2)),
  };
  process.stdout.write(JSON.stringify(row) + '\n');
  return row;
}

export function printTable(rows: Record<string, unknown>[]) {
  if (!rows.length) return;
  const cols = Object.keys(rows[0]!);
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(w[i]!)).join('  ');
  process.stderr.write('\n' + line(cols) + '\n' + line(w.map((n) => '-'.repeat(n))) + '\n');
  for (const r of rows) process.stderr.write(line(cols.map((c) => String(r[c]))) + '\n');
}

/** Save rows to bench/results/<name>.json with the machine and date. */
export function save(name: string, rows: Record<string, unknown>[]) {
  const doc = { bench: name, date: new Date().toISOString(), node: process.version, cores: cpus().length, cpu: cpus()[0]?.model, loadavg: loadavg(), rows };
  writeFileSync(`${resultsDir()}${name}.json`, JSON.stringify(doc, null, 2));
}

export const rounds = () => Number(process.env.BENCH_ROUNDS ?? 3);
