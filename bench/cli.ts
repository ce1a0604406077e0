/**
 * The built CLI (`npm run build` first; the npm scripts do it):
 *
 *   rss:     `backache submit --op noop` of 1M URIs piped to stdin on a SQLite broker:
 *            peak RSS of the process (goal ≤ 150 MB: submit streams, memory stays flat)
 *   startup: median wall time of `backache --version` and `backache stats --json`
 *            (SQLite) next to `node -e 0`, run alternately (goals ≤ 0.4 s and ≤ 0.7 s)
 *
 * Run: npm run bench:rss | bench:startup   (RSS_LINES, BENCH_RUNS to change sizes)
 * Everything it writes (database, operations module) lives in bench/results/ and is
 * removed afterwards, except the JSON results.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { printTable, save } from './lib.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const bin = `${root}bin/run.js`;
const RSS_LINES = Number(process.env.RSS_LINES ?? 1_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 15);

if (!existsSync(`${root}dist/commands`) || !existsSync(`${root}oclif.manifest.json`)) {
  process.stderr.write('bench/cli.ts measures the built CLI: run `npm run build` first\n');
  process.exit(2);
}
mkdirSync(`${root}bench/results`, { recursive: true });
const work = mkdtempSync(`${root}bench/results/tmp-cli-`);
const ops = `${work}/ops.mjs`;
writeFileSync(ops, 'export default { noop: async () => null };\n');
// No config file is found from here upward but the project's own (none): a clean start.
const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
for (const k of Object.keys(env)) if (k.startsWith('BACKACHE_')) delete env[k];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round3 = (x: number) => Number(x.toFixed(3));

/** Peak RSS (VmHWM) of a process, polled from /proc while it runs; Linux only. */
function hwmKb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

async function rss() {
  const db = `${work}/rss.db`;
  const args = [bin, 'submit', '--op', 'noop', '-o', ops, '--broker', `sqlite:${db}`, '-q'];
  // GNU time reports the peak RSS itself (Maximum resident set size); /proc polling is the fallback.
  const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
  const cmd = timeBin ? timeBin : process.execPath;
  const cmdArgs = timeBin ? ['-v', process.execPath, ...args] : args;
  const t0 = performance.now();
  const child = spawn(cmd, cmdArgs, { cwd: work, env, stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-20_000)));
  let peakKb = 0;
  const poll = setInterval(() => {
    // With /usr/bin/time the child is `time`; its own child is node.
    const pids = [child.pid!];
    try {
      const kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim();
      if (kids) pids.push(...kids.split(/\s+/).map(Number));
    } catch {
      /* gone */
    }
    for (const p of pids) peakKb = Math.max(peakKb, hwmKb(p));
  }, 50);
  // 1M distinct URIs, written as fast as the pipe takes them (back-pressure respected).
  const stdin = child.stdin!;
  const exited = new Promise<number>((r) => child.on('exit', (code) => r(code ?? -1)));
  stdin.on('error', () => {});
  const CHUNK = 10_000;
  for (let i = 0; i < RSS_LINES; i += CHUNK) {
    let s = '';
    for (let j = i; j < Math.min(RSS_LINES, i + CHUNK); j++) s += `https://example.com/rss/${j}\n`;
    if (!stdin.write(s)) await new Promise((r) => stdin.once('drain', r));
  }
  stdin.end();
  const code = await exited;
  clearInterval(poll);
  const secs = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`submit exited with ${code}:\n${stderr.slice(-3000)}`);
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  const peakMb = (m ? Number(m[1]) : peakKb) / 1024;
  const row = {
    bench: 'submit 1M lines from stdin, SQLite broker: peak RSS',
    lines: RSS_LINES,
    peak_rss_mb: Number(peakMb.toFixed(1)),
    goal_mb: 150,
    met: peakMb <= 150,
    seconds: Number(secs.toFixed(1)),
    lines_per_s: Math.round(RSS_LINES / secs),
    measured_by: m ? '/usr/bin/time -v' : '/proc VmHWM polling',
    db_mb: Number((statSync(db).size / 1e6).toFixed(1)),
  };
  process.stdout.write(JSON.stringify(row) + '\n');
  return row;
}

function wall(args: string[]) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const secs = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited with ${r.status}:\n${r.stderr}`);
  return secs;
}

async function startup() {
  const db = `${work}/stats.db`;
  const cases = {
    node: ['-e', '0'],
    version: [bin, '--version'],
    stats: [bin, 'stats', '--json', '--broker', `sqlite:${db}`],
  };
  // One untimed run each (the database file is created, the OS caches warm up).
  for (const a of Object.values(cases)) wall(a);
  const times: Record<keyof typeof cases, number[]> = { node: [], version: [], stats: [] };
  for (let i = 0; i < RUNS; i++) for (const k of Object.keys(cases) as (keyof typeof cases)[]) times[k].push(wall(cases[k]));
  const node = median(times.node);
  const rows = [
    { bench: '`backache --version` median wall time', seconds: round3(median(times.version)), node_e_0: round3(node), over_node: round3(median(times.version) - node), goal_s: 0.4, met: median(times.version) <= 0.4, runs: RUNS },
    { bench: '`backache stats --json` (SQLite) median wall time', seconds: round3(median(times.stats)), node_e_0: round3(node), over_node: round3(median(times.stats) - node), goal_s: 0.7, met: median(times.stats) <= 0.7, runs: RUNS },
  ];
  for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
  return rows;
}

const which = process.argv[2] ?? 'all';
const rows: Record<string, unknown>[] = [];
try {
  if (which === 'all' || which === 'startup') rows.push(...(await startup()));
  if (which === 'all' || which === 'rss') rows.push(await rss());
  printTable(rows);
  save(`cli-${which}`, rows);
} finally {
  rmSync(work, { recursive: true, force: true });
}
