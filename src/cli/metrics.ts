/**
 * Prometheus metrics (prom-client) for `backache work --metrics-port PORT` and
 * `backache metrics`.
 *
 * Every figure but one comes from the deployment-wide snapshot `stats --json` prints
 * (Backache.stats(): the registry's cumulative counters, queue counts, quarantine, live
 * workers), taken anew at each scrape, so the scrape of any process (any worker, or
 * `backache metrics` on another machine) agrees with `stats --json` and with the others.
 * Counters are therefore the deployment's, not the scraped process's: do not `sum()` them
 * over several scraped workers (use `max()`), or scrape one of them.
 *
 * The exception is the run time histogram, `backache_run_seconds`: a histogram must only
 * grow, and the registry keeps just a recent window of run times, so it counts the runs
 * this process's worker computed (empty in `backache metrics`): `sum()` it over the
 * workers. The deployment's recent percentiles (the p50/p95 of `stats`) are the gauge
 * `backache_recent_run_seconds{quantile}`.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { OpCounters } from '../core/ports.js';
import type { OpStats, Stats } from '../core/stats.js';
import { ConfigError } from '../core/errors.js';

/** Run time buckets, seconds: 5 ms to 5 minutes. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

const COUNTERS: [keyof OpCounters, string, string][] = [
  ['hits', 'backache_hits_total', 'Requests answered from the cache (fresh or stale; L1 hits included), deployment-wide (stats: hits).'],
  ['l1Hits', 'backache_l1_hits_total', 'Of the hits, those served from a process\'s in-memory L1 tier without a store read, deployment-wide (stats: l1Hits).'],
  ['misses', 'backache_misses_total', 'Requests not in the cache, delegated to the workers, deployment-wide (stats: misses).'],
  ['stale', 'backache_stale_hits_total', 'Hits on a stale entry, served while one refresh runs, deployment-wide (stats: stale).'],
  ['coalesced', 'backache_coalesced_total', 'Misses that joined a job already pending for the same URI, deployment-wide (stats: coalesced).'],
  ['completed', 'backache_completed_total', 'Jobs completed, deployment-wide (stats: completed).'],
  ['failed', 'backache_failed_total', 'Requests that failed for good and went to quarantine, deployment-wide (stats: failed).'],
  ['retried', 'backache_retried_total', 'Runs that failed and were retried (ctx.retry or the retry policy), deployment-wide (stats: retried).'],
];

const GAUGES: [keyof OpStats, string, string][] = [
  ['waiting', 'backache_waiting', 'Jobs waiting to run (stats: waiting).'],
  ['active', 'backache_active', 'Jobs running now (stats: active).'],
  ['delayed', 'backache_delayed', 'Jobs waiting for a retry delay (stats: delayed).'],
  ['quarantined', 'backache_quarantined', 'Requests in quarantine now; replay and purge lower it (stats: quarantined).'],
  ['pending', 'backache_pending', 'URIs with requests waiting for a result (stats: pending).'],
  ['entries', 'backache_entries', 'Cached entries (stats: entries).'],
];

export interface Metrics {
  registry: Registry;
  /** Feed one run time of this process's worker into `backache_run_seconds`. */
  observeRun(op: string, ms: number): void;
  /** Refresh every figure from a stats snapshot. */
  update(s: Stats): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  const counters = COUNTERS.map(([key, name, help]) => ({ key, metric: new Counter({ name, help, labelNames: ['op'], registers: [registry] }) }));
  const gauges = GAUGES.map(([key, name, help]) => ({ key, metric: new Gauge({ name, help, labelNames: ['op'], registers: [registry] }) }));
  const paused = new Gauge({ name: 'backache_paused', help: '1 when the operation\'s queue is paused (backache queue pause), else 0.', labelNames: ['op'], registers: [registry] });
  const recent = new Gauge({
    name: 'backache_recent_run_seconds',
    help: 'Run time percentiles over the deployment\'s recent computed runs (the registry keeps the last 500 per operation; stats: p50, p95).',
    labelNames: ['op', 'quantile'],
    registers: [registry],
  });
  const runs = new Histogram({
    name: 'backache_run_seconds',
    help: 'Run times of the results this process\'s worker computed (not the deployment\'s: sum over workers; empty in "backache metrics").',
    labelNames: ['op'],
    buckets: BUCKETS,
    registers: [registry],
  });
  const workers = new Gauge({ name: 'backache_workers', help: 'Workers alive now (from their heartbeats).', registers: [registry] });
  const running = new Gauge({ name: 'backache_worker_jobs_running', help: 'Jobs each live worker is running (as of its last heartbeat, every 2 s).', labelNames: ['worker', 'host'], registers: [registry] });
  const processed = new Counter({ name: 'backache_worker_processed_total', help: 'Jobs each live worker has finished since it started.', labelNames: ['worker', 'host'], registers: [registry] });

  return {
    registry,
    observeRun: (op, ms) => runs.observe({ op }, ms / 1000),
    update(s) {
      // Figures of operations or workers that are gone must go too: reset, then set.
      for (const { key, metric } of counters) {
        metric.reset();
        for (const o of s.ops) metric.inc({ op: o.op }, o[key]);
      }
      for (const { key, metric } of gauges) {
        metric.reset();
        for (const o of s.ops) metric.set({ op: o.op }, o[key] as number);
      }
      paused.reset();
      recent.reset();
      for (const o of s.ops) {
        paused.set({ op: o.op }, o.paused ? 1 : 0);
        if (o.p50 !== null) recent.set({ op: o.op, quantile: '0.5' }, o.p50 / 1000);
        if (o.p95 !== null) recent.set({ op: o.op, quantile: '0.95' }, o.p95 / 1000);
      }
      workers.set(s.workers.length);
      running.reset();
      processed.reset();
      for (const w of s.workers) {
        running.set({ worker: w.id, host: w.host }, w.running ?? 0);
        processed.inc({ worker: w.id, host: w.host }, w.processed);
      }
    },
  };
}

/** One scrape: a fresh snapshot, then the text in Prometheus' exposition format. */
export async function scrape(m: Metrics, stats: () => Promise<Stats>): Promise<string> {
  m.update(await stats());
  return m.registry.metrics();
}

export interface MetricsServer {
  /** The port it listens on (the one asked for, or the one the system chose for 0). */
  port: number;
  close(): Promise<void>;
}

/**
 * Serve `GET /metrics` on `port` (all interfaces). Scrapes are taken one at a time; one
 * that fails (the broker is down) answers 503 with the reason, and the next one tries
 * again. A port in use is a ConfigError naming it.
 */
export async function serveMetrics(port: number, m: Metrics, stats: () => Promise<Stats>, onError: (msg: string) => void = () => {}): Promise<MetricsServer> {
  let chain: Promise<unknown> = Promise.resolve();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: metrics are at /metrics\n');
      return;
    }
    const job = chain.then(() => scrape(m, stats));
    chain = job.catch(() => {});
    job.then(
      (text) => res.writeHead(200, { 'content-type': m.registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (e) => {
        const msg = `metrics: cannot read the deployment: ${(e as Error)?.message ?? e}`;
        onError(msg);
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end(`${msg}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') reject(new ConfigError(`--metrics-port ${port}: port ${port} is already in use`));
      else if (e.code === 'EACCES') reject(new ConfigError(`--metrics-port ${port}: not allowed to listen on port ${port}`, { hint: 'use a port above 1023' }));
      else reject(e);
    });
    server.listen(port, () => resolve());
  });
  // Scrapers keep connections alive: close them with the server.
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
