/**
 * Shared bench helpers: run backache and the raw layer beneath it alternately in one
 * process, report throughput medians and their ratio as JSON lines and a table, and save
 * the run under bench/results/.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  /** CPU time (user + system) per item, µs: this process and the servers it uses. */
  cpu?: { backache: { self: number[]; servers: number[] }; raw: { self: number[]; servers: number[] } };
}

/** Server processes (e.g. redis-server) whose CPU time is reported next to ours. */
const serverPids: number[] = [];
export const watchServerCpu = (pid: number | undefined) => void (pid && serverPids.push(pid));

/** CPU seconds (user + system) of a process from /proc (Linux); 0 where unavailable. */
function procCpu(pid: number) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}
const serversCpu = () => serverPids.reduce((a, p) => a + procCpu(p), 0);

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
  if (process.env.BENCH_HEAP === which) return heapProfiled(name, which, round, body);
  if (process.env.BENCH_PROFILE !== which && process.env.BENCH_PROFILE !== 'both') return body();
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

/** `BENCH_HEAP=backache` (or `raw`): a sampling allocation profile of the timed runs (.heapprofile, open in DevTools). */
async function heapProfiled<T>(name: string, which: string, round: number, body: () => Promise<T>): Promise<T> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
  try {
    return await body();
  } finally {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    const file = `${resultsDir()}${name.replace(/[^A-Za-z0-9]+/g, '-')}-${which}-${round}.heapprofile`;
    writeFileSync(file, JSON.stringify(profile));
    process.stderr.write(`  heap profile: ${file}\n`);
    session.disconnect();
  }
}

/** Rounds alternate raw, backache, raw, backache…; each reports items per second. */
export async function compare(name: string, items: number, rounds: number, variants: { backache: Variant; raw: Variant }) {
  const m: Measure = { name, unit: 'items/s', items, backache: [], raw: [], cpu: { backache: { self: [], servers: [] }, raw: { self: [], servers: [] } } };
  for (let i = 0; i < rounds; i++) {
    for (const which of ['raw', 'backache'] as const) {
      const { run, teardown } = await variants[which].prepare(i);
      const c0 = process.cpuUsage();
      const s0 = serversCpu();
      const t0 = performance.now();
      await profiled(name, which, i, run);
      const secs = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(c0);
      const selfUs = (c.user + c.system) / items;
      const serverUs = ((serversCpu() - s0) * 1e6) / items;
      await teardown?.();
      m[which].push(items / secs);
      m.cpu![which].self.push(selfUs);
      m.cpu![which].servers.push(serverUs);
      process.stderr.write(
        `  ${name} round ${i + 1}/${rounds} ${which}: ${Math.round(items / secs)} items/s (cpu µs/item: this process ${selfUs.toFixed(1)}${serverPids.length ? `, servers ${serverUs.toFixed(1)}` : ''})\n`,
      );
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
    ...(m.cpu
      ? {
          cpu_us_per_item: {
            backache: Number(median(m.cpu.backache.self).toFixed(1)),
            raw: Number(median(m.cpu.raw.self).toFixed(1)),
            ...(serverPids.length ? { backache_server: Number(median(m.cpu.backache.servers).toFixed(1)), raw_server: Number(median(m.cpu.raw.servers).toFixed(1)) } : {}),
          },
        }
      : {}),
  };
  process.stdout.write(JSON.stringify(row) + '\n');
  return row;
}

export function printTable(rows: Record<string, unknown>[]) {
  if (!rows.length) return;
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown) => (v === undefined ? '' : typeof v === 'object' && v !== null ? JSON.stringify(v).replace(/"/g, '') : String(v));
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(w[i]!)).join('  ');
  process.stderr.write('\n' + line(cols) + '\n' + line(w.map((n) => '-'.repeat(n))) + '\n');
  for (const r of rows) process.stderr.write(line(cols.map((c) => cell(r[c]))) + '\n');
}

/** Save rows to bench/results/<name>.json with the machine and date. */
export function save(name: string, rows: Record<string, unknown>[]) {
  const doc = { bench: name, date: new Date().toISOString(), node: process.version, cores: cpus().length, cpu: cpus()[0]?.model, loadavg: loadavg(), rows };
  writeFileSync(`${resultsDir()}${name}.json`, JSON.stringify(doc, null, 2));
}

/**
 * The library under test. By default the compiled one (what users run): `src/` is compiled
 * with tsc into bench/results/lib/ (with the Lua scripts) once per run, because running the
 * sources through tsx adds a cost to every closure our code creates (esbuild's keepNames)
 * that the built package does not have. `BENCH_LIB=src` uses the sources instead;
 * `BENCH_LIB=as-is` the last compiled copy without compiling again (for experiments).
 */
export async function loadLibrary(): Promise<typeof import('../src/index.js')> {
  if (process.env.BENCH_LIB === 'src') return import('../src/index.js');
  const out = `${resultsDir()}lib/`;
  if (process.env.BENCH_LIB === 'as-is' && existsSync(`${out}index.js`)) return import(`${out}index.js`);
  const root = fileURLToPath(new URL('../', import.meta.url));
  const tsc = spawnSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.build.json`, '--outDir', out, '--declaration', 'false', '--sourceMap', 'false'], {
    encoding: 'utf8',
  });
  if (tsc.status !== 0) {
    if (!existsSync(`${out}index.js`)) throw new Error(`compiling src for the benchmark failed:\n${tsc.stdout}${tsc.stderr}`);
    process.stderr.write(`bench: tsc reported errors (the emitted JavaScript is used anyway):\n${tsc.stdout.slice(0, 2000)}\n`);
  }
  const copyLua = (dir: string) => {
    for (const name of readdirSync(`${root}src/${dir}`, { withFileTypes: true })) {
      const rel = `${dir}${name.name}`;
      if (name.isDirectory()) copyLua(`${rel}/`);
      else if (name.name.endsWith('.lua')) {
        mkdirSync(`${out}${dir}`, { recursive: true });
        copyFileSync(`${root}src/${rel}`, `${out}${rel}`);
      }
    }
  };
  copyLua('');
  return import(`${out}index.js`);
}

export const rounds = () => Number(process.env.BENCH_ROUNDS ?? 3);
