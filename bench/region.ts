/**
 * Hits and regions (issue 14): backache's region and engine reads against the raw client
 * and against other caches, on one redis-server of its own (a free port, a temp dir), with
 * values of about 200 bytes.
 *
 * Throughput rows run each contender in a process of its own (bench/region-worker.ts, one
 * per contender, all alive for the whole run), one task at a time for BENCH_MS each, the
 * contenders of a row taking turns in an order that rotates every round; after an untimed
 * warm-up of every task, BENCH_ROUNDS rounds, medians reported:
 *
 *   get1 / get100   region.get of cached keys, 1 and 100 concurrent, vs GET + JSON.parse
 *   getMany / bulk  region.getMany and the engine's bulkGetOrDelegate of 1,000 cached keys a
 *                   call vs MGET + JSON.parse of the same 1,000 keys
 *   miss100         getOrCreate of keys never seen, trivial creator, 100 concurrent, vs GET
 *                   then SET (the hand-written cache-aside)
 *   with l1         the read rows again with `l1: { maxEntries: 10_000 }` on the region and
 *                   the engine, where this build has it (judged by what a hot read costs the
 *                   server, not by a version); otherwise "n/a (l1 not available)"
 *
 * Stampede: two processes per contender, each 1,000 concurrent getOrCreate of one key whose
 * creator INCRs a counter and sleeps 50 ms, started at one agreed instant; the wall time
 * until all 2,000 callers have the value, and how many creators ran.
 *
 * Every read row reads the same 1,000 keys (hot for an L1 of 10,000 entries); each
 * contender writes its own copy once at setup. What the miss and stampede rows write lives
 * 30 s. Peers: raw ioredis (`new Redis(port, host)`, default options), cache-manager 7 over
 * @keyv/redis, bentocache 1.6 (Redis only, and with its memory tier and Redis bus).
 *
 * Run: npm run bench:region   (BENCH_ROUNDS, default 5; BENCH_MS, default 1000; BENCH_LIB)
 * Prints the tables (markdown) on stdout, progress on stderr, and saves bench/results/region.json.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { loadLibrary, save } from './lib.js';
import type { ContenderName, Reply, Request, Task } from './region-worker.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** `throughput` or `stampede`: run only those rows (the others print as not run). */
const ONLY = process.env.BENCH_ONLY;
const MS = Number(process.env.BENCH_MS ?? 1000);
const WARM_MS = 300;
const STAMPEDE_CALLERS = 1000;
const CREATOR_MS = 50;

const started = performance.now();
const log = (s: string) => process.stderr.write(`${s}\n`);
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const rotate = <T>(xs: T[], by: number) => xs.map((_, i) => xs[(i + by) % xs.length]!);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const version = (pkg: string) => (JSON.parse(readFileSync(new URL(`../node_modules/${pkg}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;

// Compile src once here; the workers load that copy (or the sources with BENCH_LIB=src).
await loadLibrary();
const libMode = process.env.BENCH_LIB === 'src' ? 'src' : 'as-is';
const workerFile = fileURLToPath(new URL('./region-worker.ts', import.meta.url));

const server = await startRedisServer({ args: ['--maxmemory-policy', 'noeviction'] });
const admin = new Redis(server.port, server.host, { maxRetriesPerRequest: null });

/** A contender's process; one request at a time. */
class Worker {
  private proc: ChildProcess;
  private waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void } | undefined;
  readonly ready: Promise<Reply>;
  constructor(readonly name: ContenderName) {
    this.proc = fork(workerFile, [name, server.url], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, BENCH_LIB: libMode },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.ready = this.reply();
    this.proc.on('message', (r: Reply) => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.resolve(r);
    });
    this.proc.on('exit', (code, signal) => this.waiting?.reject(new Error(`worker ${name} exited (${code ?? signal})`)));
  }
  private reply() {
    return new Promise<Reply>((resolve, reject) => (this.waiting = { resolve, reject }));
  }
  async call(m: Request) {
    const r = this.reply();
    this.proc.send(m);
    const got = await r;
    if (!got.ok) throw new Error(`worker ${this.name}, ${m.type}: ${got.error}`);
    return got;
  }
  async close() {
    if (this.proc.exitCode !== null) return;
    const gone = new Promise((r) => this.proc.once('exit', r));
    await this.call({ type: 'close' }).catch(() => this.proc.kill('SIGKILL'));
    await gone;
  }
}

async function spawnAll(names: ContenderName[], mode: 'throughput' | 'stampede') {
  const ws = names.map((n) => new Worker(n));
  await Promise.all(ws.map((w) => w.ready));
  const can = new Map<Worker, Partial<Record<Task, string | true>>>();
  // One at a time: the L1 check counts what the server does while it runs.
  for (const w of ws) can.set(w, (await w.call({ type: 'setup', mode })).tasks ?? {});
  return { ws, can };
}

const load0 = loadavg()[0]!;
const redisVersion = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1];
const samples: Record<string, number[]> = {};
const unavailable: Record<string, string> = {};
const stampede: Record<string, { ms: number[]; creators: number[] }> = {};
const opened: Worker[] = [];

try {
  // ---- throughput rows ----
  if (ONLY !== 'stampede') await throughput();
  if (ONLY !== 'throughput') await stampedes();
} finally {
  await Promise.all(opened.map((w) => w.close().catch(() => {})));
  admin.disconnect();
  await server.stop();
}

async function throughput() {
  const names: ContenderName[] = ['raw', 'backache', 'backache-l1', 'cache-manager', 'bentocache', 'bentocache-l1'];
  const { ws, can } = await spawnAll(names, 'throughput');
  opened.push(...ws);
  const byName = new Map(ws.map((w) => [w.name, w]));
  for (const w of ws) for (const [t, v] of Object.entries(can.get(w)!)) if (v !== true) unavailable[`${w.name}/${t}`] = v;
  for (const [k, why] of Object.entries(unavailable)) log(`  ${k}: ${why}`);
  const all = (task: Task) => names.map((n) => [n, task] as const);
  const groups = [all('get1'), all('get100'), [...all('getMany'), ...all('bulk')], all('miss100')].map((g) =>
    g.filter(([n, t]) => can.get(byName.get(n)!)![t] === true),
  );
  log(`warm-up: every task for ${WARM_MS} ms`);
  for (const g of groups) for (const [n, task] of g) await byName.get(n)!.call({ type: 'run', task, ms: WARM_MS });
  for (let round = 0; round < ROUNDS; round++) {
    for (const g of groups) {
      for (const [n, task] of rotate(g, round)) {
        const r = await byName.get(n)!.call({ type: 'run', task, ms: MS });
        (samples[`${n}/${task}`] ??= []).push(r.perSecond!);
        log(`  round ${round + 1}/${ROUNDS} ${task} ${n}: ${fmt(r.perSecond!)}/s`);
      }
    }
  }
  await Promise.all(ws.map((w) => w.close()));
  opened.length = 0;
}

async function stampedes() {
  const stampeders: ContenderName[] = ['raw', 'backache', 'cache-manager', 'bentocache'];
  const sp = await spawnAll(stampeders.flatMap((n) => [n, n]), 'stampede');
  opened.push(...sp.ws);
  const pairs = stampeders.map((n) => sp.ws.filter((w) => w.name === n));
  const once = async (pair: Worker[], key: string, counter: string) => {
    const at = now() + 100;
    const ends = await Promise.all(pair.map((w) => w.call({ type: 'stampede', key, counter, at, callers: STAMPEDE_CALLERS, creatorMs: CREATOR_MS })));
    const ms = Math.max(...ends.map((e) => e.end!)) - at;
    const creators = Number(await admin.get(counter));
    await sleep(100);
    return { ms, creators, detail: ends.map((e) => `started +${(e.start! - at).toFixed(1)} ms, done +${(e.end! - at).toFixed(0)} ms`).join('; ') };
  };
  log('stampede warm-up');
  for (const [i, pair] of pairs.entries()) await once(pair, `stampede:warm`, `count:${stampeders[i]}:warm`);
  for (let round = 0; round < ROUNDS; round++) {
    for (const i of rotate([...pairs.keys()], round)) {
      const n = stampeders[i]!;
      const r = await once(pairs[i]!, `stampede:${round}`, `count:${n}:${round}`);
      const s = (stampede[n] ??= { ms: [], creators: [] });
      s.ms.push(r.ms);
      s.creators.push(r.creators);
      log(`  round ${round + 1}/${ROUNDS} stampede ${n}: ${r.ms.toFixed(0)} ms, ${r.creators} creators (${r.detail})`);
    }
  }
  await Promise.all(sp.ws.map((w) => w.close()));
  opened.length = 0;
}

// ---- report ----
const secs = (performance.now() - started) / 1000;
const med = (k: string) => (samples[k] ? median(samples[k]) : undefined);
const na = (k: string) => (k.startsWith('backache-l1/') ? 'n/a (l1 not available)' : 'n/a');

interface Line {
  row: string;
  backache: string;
  baseline: string;
  ratio: string;
  goal: string;
  met: string;
}
const json: Record<string, unknown>[] = [];
const lines: Line[] = [];

function ratioLine(row: string, b: string, base: string, baseLabel: string, unit: string, goal: number) {
  const xs = samples[b];
  const ys = samples[base];
  if (!xs || !ys) {
    lines.push({ row, backache: xs ? `${fmt(median(xs))} ${unit}` : na(b), baseline: ys ? `${baseLabel}: ${fmt(median(ys))} ${unit}` : na(base), ratio: '—', goal: `≥ ${goal}×`, met: '—' });
    json.push({ row, backache: b, baseline: base, unavailable: unavailable[b] ?? unavailable[base] ?? 'not run' });
    return;
  }
  const ratio = median(xs) / median(ys);
  const perRound = median(xs.map((x, i) => x / ys[i]!));
  lines.push({
    row,
    backache: `${fmt(median(xs))} ${unit}`,
    baseline: `${baseLabel}: ${fmt(median(ys))} ${unit}`,
    ratio: `**${ratio.toFixed(2)}** (${perRound.toFixed(2)})`,
    goal: `≥ ${goal}×`,
    met: ratio >= goal ? 'yes' : 'no',
  });
  json.push({ row, backache: b, baseline: base, backache_per_s: Math.round(median(xs)), baseline_per_s: Math.round(median(ys)), ratio: Number(ratio.toFixed(3)), round_ratio_median: Number(perRound.toFixed(3)), goal, samples: { backache: xs, baseline: ys } });
}

const stamp = (n: string) => {
  const s = stampede[n];
  if (!s) return '—';
  const c = [...new Set(s.creators)].sort((a, b) => a - b);
  return `${median(s.ms).toFixed(0)} ms, ${c.map(fmt).join('–')} creator${c.length === 1 && c[0] === 1 ? '' : 's'}`;
};

ratioLine('`region.get`, 1 concurrent', 'backache/get1', 'raw/get1', 'GET + parse', 'ops/s', 0.8);
ratioLine('`region.get`, 100 concurrent', 'backache/get100', 'raw/get100', 'GET + parse', 'ops/s', 0.8);
ratioLine('`region.getMany`, 1,000 keys a call', 'backache/getMany', 'raw/getMany', 'MGET + parse', 'keys/s', 0.7);
ratioLine('`bulkGetOrDelegate`, 1,000 requests a call', 'backache/bulk', 'raw/getMany', 'MGET + parse', 'keys/s', 0.7);
ratioLine('`getOrCreate` miss, 100 concurrent', 'backache/miss100', 'raw/miss100', 'GET, then SET', 'ops/s', 0.5);
{
  const b = stampede.backache;
  const r = stampede.raw;
  const ratio = b && r ? median(b.ms) / median(r.ms) : NaN;
  const perRound = b && r ? median(b.ms.map((x, i) => x / r.ms[i]!)) : NaN;
  const one = !!b && b.creators.every((c) => c === 1);
  lines.push({
    row: `stampede: 2 processes × ${fmt(STAMPEDE_CALLERS)} concurrent \`getOrCreate\` of one key, ${CREATOR_MS} ms creator (wall time)`,
    backache: stamp('backache'),
    baseline: `unprotected GET, create, SET: ${stamp('raw')}`,
    ratio: b && r ? `**${ratio.toFixed(2)}** (${perRound.toFixed(2)})` : '—',
    goal: '≤ 1.3×, 1 creator',
    met: b && r ? (ratio <= 1.3 && one ? 'yes' : 'no') : '—',
  });
  json.push({ row: 'stampede', stampede, ...(b && r ? { ratio: Number(ratio.toFixed(3)), round_ratio_median: Number(perRound.toFixed(3)) } : {}), goal: 1.3 });
}
ratioLine('with `l1`, hot keys: `region.get`, 1 concurrent', 'backache-l1/get1', 'raw/get1', 'GET + parse', 'ops/s', 5);
ratioLine('with `l1`, hot keys: `region.get`, 100 concurrent', 'backache-l1/get100', 'raw/get100', 'GET + parse', 'ops/s', 5);
ratioLine('with `l1`, hot keys: `bulkGetOrDelegate`, 1,000 a call', 'backache-l1/bulk', 'raw/getMany', 'MGET + parse', 'keys/s', 5);
ratioLine('with `l1`: `region.get`, 1 concurrent, vs bentocache with its memory tier', 'backache-l1/get1', 'bentocache-l1/get1', 'bentocache', 'ops/s', 1);
ratioLine('with `l1`: `region.get`, 100 concurrent, vs bentocache with its memory tier', 'backache-l1/get100', 'bentocache-l1/get100', 'bentocache', 'ops/s', 1);

const table = (cols: string[], rows: string[][]) =>
  [`| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

const cell = (k: string, unit = '/s') => {
  const m = med(k);
  return m === undefined ? (unavailable[k] ? na(k) : '—') : `${fmt(m)}${unit}`;
};
const manyCell = (n: string) => {
  const parts = [samples[`${n}/getMany`] ? `getMany ${cell(`${n}/getMany`)}` : '', samples[`${n}/bulk`] ? `bulk ${cell(`${n}/bulk`)}` : ''].filter(Boolean);
  return parts.length ? parts.join(', ') : n === 'backache-l1' ? na('backache-l1/bulk') : '—';
};
const peerCols = [
  'path',
  'backache',
  'backache with `l1`',
  `raw ioredis ${version('ioredis')}`,
  `cache-manager ${version('cache-manager')} (@keyv/redis ${version('@keyv/redis')})`,
  `bentocache ${version('bentocache')}, Redis only`,
  `bentocache ${version('bentocache')}, memory tier + Redis bus`,
];
const peerNames = ['backache', 'backache-l1', 'raw', 'cache-manager', 'bentocache', 'bentocache-l1'];
const peers = table(peerCols, [
  ['`get`, 1 concurrent', ...peerNames.map((n) => cell(`${n}/get1`))],
  ['`get`, 100 concurrent', ...peerNames.map((n) => cell(`${n}/get100`))],
  ['`getMany` / `bulkGetOrDelegate`, 1,000 keys a call (keys/s)', ...peerNames.map(manyCell)],
  ['`getOrCreate` miss, 100 concurrent', ...peerNames.map((n) => cell(`${n}/miss100`))],
  [`stampede: 2 × ${fmt(STAMPEDE_CALLERS)} callers, one key, ${CREATOR_MS} ms creator`, ...peerNames.map(stamp)],
]);

const header =
  `Node ${process.version}, Redis ${redisVersion}, ${cpus().length} cores (${cpus()[0]?.model?.trim()}), ` +
  `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, BENCH_ROUNDS=${ROUNDS}, BENCH_MS=${MS}, ` +
  `load average ${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}, ${secs.toFixed(0)} s in all`;
process.stdout.write(
  `${header}\n\n` +
    table(['row', 'backache', 'compared with', 'ratio (round median)', 'goal', 'met'], lines.map((l) => [l.row, l.backache, l.baseline, l.ratio, l.goal, l.met])) +
    `\n\nPeers (medians):\n\n${peers}\n`,
);
save('region', [...json, { peers: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, Math.round(median(v))])), unavailable, seconds: Math.round(secs) }]);
