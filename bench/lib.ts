/**
 * Shared bench helpers: run backache and the raw layer beneath it alternately in one
 * process, report throughput medians and their ratio as JSON lines and a table, and save
 * the run under bench/results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

export interface Variant {
  /** Sets up (untimed), returns the timed body and a teardown. */
  prepare(round: number): Promise<{ run: () => Promise<void>; teardown?: () => Promise<void> }>;
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

/** Rounds alternate raw, backache, raw, backache…; each reports items per second. */
export async function compare(name: string, items: number, rounds: number, variants: { backache: Variant; raw: Variant }) {
  const m: Measure = { name, unit: 'items/s', items, backache: [], raw: [] };
  for (let i = 0; i < rounds; i++) {
    for (const which of ['raw', 'backache'] as const) {
      const { run, teardown } = await variants[which].prepare(i);
      const t0 = performance.now();
      await run();
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
  const row = { bench: m.name, items: m.items, backache_per_s: Math.round(b), raw_per_s: Math.round(r), ratio: Number((b / r).toFixed(3)), rounds: m.backache.length };
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
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const doc = { bench: name, date: new Date().toISOString(), node: process.version, cores: cpus().length, cpu: cpus()[0]?.model, rows };
  writeFileSync(`${dir}${name}.json`, JSON.stringify(doc, null, 2));
}

export const rounds = () => Number(process.env.BENCH_ROUNDS ?? 3);
