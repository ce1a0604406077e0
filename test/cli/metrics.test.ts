/**
 * Prometheus metrics: `work --metrics-port` scraped over HTTP while it runs, against
 * `stats --json` of the same deployment (the counters are the deployment's, so they must
 * agree), the worker's own run time histogram, `backache metrics` from another process,
 * a port in use, and the server closing with the worker.
 */
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/cli/metrics.js';
import { bin, cli, describeOnBackends, ensureBuilt, startCli, tempDir, TEST_OPS, writeFiles } from '../helpers/cli.js';
import { opStats, stats as snapshotStats } from '../ui/fixtures.js';
import { waitUntil } from '../helpers/wait.js';

beforeAll(ensureBuilt, 300_000);

const OPS = `
export default {
  upper: async (uri) => uri.toUpperCase(),
  half: { concurrency: 4, run: async (uri) => uri.length / 2 },
  reject: async (uri, ctx) => ctx.quarantine({ reason: 'no' }),
  again: { run: async (uri, ctx) => { if (ctx.attempt < 2) throw ctx.retry({ delay: 10 }); return ctx.attempt; } },
};
`;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus' text format, the samples only. */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

const value = (samples: Sample[], name: string, labels: Record<string, string>) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

/** stats --json field → metric name. */
const FIELDS: Record<string, string> = {
  hits: 'backache_hits_total',
  l1Hits: 'backache_l1_hits_total',
  misses: 'backache_misses_total',
  stale: 'backache_stale_hits_total',
  coalesced: 'backache_coalesced_total',
  completed: 'backache_completed_total',
  failed: 'backache_failed_total',
  retried: 'backache_retried_total',
  waiting: 'backache_waiting',
  active: 'backache_active',
  delayed: 'backache_delayed',
  quarantined: 'backache_quarantined',
  pending: 'backache_pending',
  entries: 'backache_entries',
};

describe('metrics from a snapshot', () => {
  it('L1 hits are a counter of their own beside the hits, documented', async () => {
    const m = createMetrics();
    m.update(snapshotStats([opStats('title', { hits: 10, l1Hits: 7, misses: 2 }), opStats('crawl', { hits: 1 })]));
    const text = await m.registry.metrics();
    expect(text).toMatch(/^# HELP backache_l1_hits_total Of the hits, those served from a process's in-memory L1 tier/m);
    expect(text).toMatch(/^# TYPE backache_l1_hits_total counter$/m);
    const samples = parse(text);
    expect(value(samples, 'backache_l1_hits_total', { op: 'title' })).toBe(7);
    expect(value(samples, 'backache_hits_total', { op: 'title' })).toBe(10);
    expect(value(samples, 'backache_l1_hits_total', { op: 'crawl' })).toBe(0);
  });
});

describe('metrics --help', () => {
  it('has a description and examples; the local examples run as written; work --help names --metrics-port and its variable', async () => {
    const help = await cli(['metrics', '--help'], { cwd: tempDir() });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^DESCRIPTION\n/m);
    expect(help.stdout).toMatch(/^EXAMPLES\n/m);
    expect(help.stdout).toMatch(/BACKACHE_BROKER/);
    const work = await cli(['work', '--help'], { cwd: tempDir() });
    expect(work.stdout).toMatch(/--metrics-port=<value>/);
    expect(work.stdout).toMatch(/BACKACHE_METRICS_PORT/);
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': TEST_OPS });
    expect((await cli(['run', '--op', 'upper', '-o', 'ops.mjs'], { cwd: dir, input: 'a\n' })).code).toBe(0);
    // The examples that need no server, through a shell, with `backache` the built CLI.
    const examples = [...help.stdout.matchAll(/^ +\$ (backache metrics.*)$/gm)].map((m) => m[1]!).filter((ex) => !ex.includes('--broker'));
    expect(examples).toEqual(['backache metrics', "backache metrics | grep '^backache_waiting'"]);
    for (const ex of examples) {
      const out = execFileSync('sh', ['-c', ex.replace(/^backache/, `"${process.execPath}" "${bin()}"`)], { cwd: dir, encoding: 'utf8' });
      expect(out, ex).toMatch(/^backache_waiting\{op="upper"\} 0$/m);
    }
  }, 120_000);
});

describeOnBackends('metrics', (b) => {
  it('a running worker serves /metrics that agree with stats --json; backache metrics prints the same; the server closes with the worker', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': OPS });
    const flags = b.flags();
    const w = startCli(['work', '-o', 'ops.mjs', '--metrics-port', '0', ...flags], { cwd: dir });
    await w.waitFor(/metrics on http:\/\/localhost:(\d+)\/metrics/);
    const port = Number(/metrics on http:\/\/localhost:(\d+)\/metrics/.exec(w.stderr())![1]);
    const url = `http://127.0.0.1:${port}/metrics`;

    const input = ['upper a', 'upper b', 'upper c', 'half xyz', 'reject r', 'again g'].map((l) => JSON.stringify({ op: l.split(' ')[0], uri: l.split(' ')[1] })).join('\n');
    const sub = await cli(['submit', '-o', 'ops.mjs', '--wait', ...flags], { cwd: dir, input: `${input}\n` });
    expect(sub.code, sub.stderr).toBe(1); // one quarantined
    const hit = await cli(['submit', '--op', 'upper', '-o', 'ops.mjs', ...flags], { cwd: dir, input: 'a\n' });
    expect(hit.code, hit.stderr).toBe(0);

    // Quiet now: wait until the worker's counters reached the registry (flushed every 250 ms).
    let stats: any;
    await waitUntil(async () => {
      stats = (await cli(['stats', '--json', ...flags], { cwd: dir })).json();
      const by = Object.fromEntries(stats.ops.map((o: any) => [o.op, o]));
      return by.upper?.completed === 3 && by.upper?.hits === 1 && by.again?.completed === 1 && by.reject?.failed === 1 && stats.workers[0]?.processed >= 6;
    }, 'the counters of every request');

    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const scraped = parse(text);
    stats = (await cli(['stats', '--json', ...flags], { cwd: dir })).json();
    expect(stats.ops.map((o: any) => o.op)).toEqual(['again', 'half', 'reject', 'upper']);
    for (const o of stats.ops) {
      for (const [field, name] of Object.entries(FIELDS)) expect(value(scraped, name, { op: o.op }), `${name}{op="${o.op}"}`).toBe(o[field]);
      expect(value(scraped, 'backache_paused', { op: o.op })).toBe(o.paused ? 1 : 0);
      if (o.p50 !== null) expect(value(scraped, 'backache_recent_run_seconds', { op: o.op, quantile: '0.5' })).toBeCloseTo(o.p50 / 1000, 6);
    }
    // The figures themselves, so a wrong mapping cannot agree with itself.
    expect(value(scraped, 'backache_completed_total', { op: 'upper' })).toBe(3);
    expect(value(scraped, 'backache_hits_total', { op: 'upper' })).toBe(1);
    expect(value(scraped, 'backache_l1_hits_total', { op: 'upper' })).toBe(0); // the CLI has no L1 tier
    expect(value(scraped, 'backache_misses_total', { op: 'upper' })).toBe(3);
    expect(value(scraped, 'backache_failed_total', { op: 'reject' })).toBe(1);
    expect(value(scraped, 'backache_quarantined', { op: 'reject' })).toBe(1);
    expect(value(scraped, 'backache_retried_total', { op: 'again' })).toBe(1);
    // Run times: this worker computed upper 3 times, half and again once, reject never.
    expect(text).toMatch(/^# TYPE backache_run_seconds histogram$/m);
    expect(value(scraped, 'backache_run_seconds_count', { op: 'upper' })).toBe(3);
    expect(value(scraped, 'backache_run_seconds_count', { op: 'half' })).toBe(1);
    expect(value(scraped, 'backache_run_seconds_bucket', { op: 'upper', le: '+Inf' })).toBe(3);
    expect(value(scraped, 'backache_run_seconds_count', { op: 'reject' })).toBeUndefined();
    // Per worker: the one alive, running nothing now.
    const [worker] = stats.workers;
    expect(value(scraped, 'backache_workers', {})).toBe(1);
    expect(value(scraped, 'backache_worker_jobs_running', { worker: worker.id })).toBe(0);
    expect(worker.running).toBe(0);
    await waitUntil(async () => value(parse(await (await fetch(url)).text()), 'backache_worker_processed_total', { worker: worker.id }) === (await cli(['workers', '--json', ...flags], { cwd: dir })).json()[0].processed, 'processed as the heartbeat says');
    // Anything but /metrics is a 404.
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);

    // backache metrics, from another process with no operations module: the same figures,
    // and an empty histogram (it computed nothing).
    const once = await cli(['metrics', ...flags], { cwd: dir });
    expect(once.code, once.stderr).toBe(0);
    const printed = parse(once.stdout);
    for (const o of stats.ops) for (const name of Object.values(FIELDS)) expect(value(printed, name, { op: o.op }), `${name}{op="${o.op}"}`).toBe(value(scraped, name, { op: o.op }));
    expect(once.stdout).toMatch(/^# HELP backache_run_seconds .*this process's worker/m);
    expect(printed.some((s) => s.name.startsWith('backache_run_seconds'))).toBe(false);
    const json = await cli(['metrics', '--json', ...flags], { cwd: dir });
    expect(json.code, json.stderr).toBe(0);
    const hits = json.json().find((m: { name: string }) => m.name === 'backache_hits_total');
    expect(hits).toMatchObject({ type: 'counter', values: expect.arrayContaining([{ labels: { op: 'upper' }, value: 1 }]) });

    // A second worker on the same port: one line naming it, exit 2, no job taken.
    const busy = await cli(['work', '-o', 'ops.mjs', '--metrics-port', String(port), ...flags], { cwd: dir });
    expect(busy.code).toBe(2);
    expect(busy.stderr).toBe(`backache: --metrics-port ${port}: port ${port} is already in use\n`);

    const done = await w.stop('SIGTERM');
    expect(done.code, done.stderr).toBe(0);
    await expect(fetch(url)).rejects.toThrow();
    // The port is free again.
    await new Promise<void>((resolve, reject) => {
      const s = createServer().once('error', reject);
      s.listen(port, () => s.close(() => resolve()));
    });
  }, 120_000);

  it('--metrics-port comes from BACKACHE_METRICS_PORT; a bad value is one line, exit 2', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'ops.mjs': OPS });
    const flags = b.flags();
    const bad = await cli(['work', '-o', 'ops.mjs', ...flags], { cwd: dir, env: { BACKACHE_METRICS_PORT: 'http' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')[0]).toMatch(/metrics-port/);
    const w = startCli(['work', '-o', 'ops.mjs', ...flags], { cwd: dir, env: { BACKACHE_METRICS_PORT: '0' } });
    await w.waitFor(/metrics on http:\/\/localhost:\d+\/metrics/);
    const port = Number(/localhost:(\d+)\/metrics/.exec(w.stderr())![1]);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toMatch(/^# TYPE backache_waiting gauge$/m);
    expect((await w.stop('SIGTERM')).code).toBe(0);
  }, 120_000);
});
