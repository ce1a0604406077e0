import { Flags } from '@oclif/core';
import { BaseCommand, env } from './base.js';

export default class Work extends BaseCommand<typeof Work> {
  static override summary = 'Run workers until SIGINT/SIGTERM, then stop gracefully.';
  static override description = `Consumes the jobs of the operations module's operations (or only those of --only) from the broker, computes them, stores the results and fires the callbacks. Registers itself with a heartbeat, so "backache workers" and "backache ops" see it.
On SIGINT or SIGTERM it stops taking jobs and waits for the running ones (up to --stop-timeout; what still runs then is aborted and handed back to the queue, never quarantined), then exits 0; a second signal exits at once. Quarantined requests and retries are reported on stderr.
--debug runs one job at a time, prints every failure in full (stack, kwargs) and stops at the first one (exit 1).`;
  static override examples = [
    '<%= config.bin %> work -o operations.ts',
    '<%= config.bin %> work -o operations.ts --concurrency 16 --only title,thumbnail',
    { description: 'Find out why a job fails', command: '<%= config.bin %> work -o operations.ts --only title --debug' },
    { description: 'Notice a dead worker within 10 seconds', command: '<%= config.bin %> work -o operations.ts --lease 10s' },
    { description: 'Share a SQLite file with "backache submit" in another terminal', command: '<%= config.bin %> work -o operations.ts --broker sqlite:/srv/backache.db' },
    { description: 'Serve Prometheus metrics on http://HOST:9464/metrics', command: '<%= config.bin %> work -o operations.ts --metrics-port 9464' },
  ];
  static override flags = {
    concurrency: Flags.integer({ char: 'c', summary: 'Parallel jobs per operation (default: each operation\'s own "concurrency", else 8).', min: 1, env: env('concurrency') }),
    only: Flags.string({ summary: 'Comma-separated operations to consume (default: all of the module).', env: env('only') }),
    debug: Flags.boolean({ summary: 'One job at a time, every failure in full, stop at the first.', env: env('debug') }),
    'stop-timeout': Flags.string({ summary: 'On SIGINT/SIGTERM, how long running jobs may take to finish; what still runs then is handed back to the queue.', default: '10s', env: env('stop-timeout') }),
    'metrics-port': Flags.integer({
      summary: 'Serve Prometheus metrics on this port at /metrics (0: any free port, printed on stderr).',
      description: 'The same text as "backache metrics": the deployment\'s counters and queue figures (as "stats --json"), plus a histogram of this worker\'s run times.',
      min: 0,
      max: 65535,
      env: env('metrics-port'),
    }),
    lease: Flags.string({ summary: 'How long a taken job stays this worker\'s without renewal; a worker that dies is noticed after about this long.', default: '30s', env: env('lease') }),
  };

  async run() {
    const [{ withConcurrency, debugOperations, formatFailure, untilStopped }, { toMs }, { maskUrl }, { formatProgress }] = await Promise.all([
      import('../cli/worker.js'),
      import('../core/duration.js'),
      import('../core/url.js'),
      import('../cli/progress.js'),
    ]);
    const f = this.flags;
    const stopMs = toMs(f['stop-timeout'], '--stop-timeout');
    const leaseMs = toMs(f.lease, '--lease');
    const only = f.only
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const stopper = untilStopped();
    this.onCleanup(() => stopper.dispose());
    const reported = new Set<string>();
    // Live counts for the status line (drawn on a TTY only).
    const done = { completed: 0, retried: 0, quarantined: 0 };
    let failed = false;
    const onFailure = (text: string, jobId: string) => {
      if (reported.has(jobId)) return;
      reported.add(jobId);
      this.diag(text);
      if (f.debug) {
        failed = true;
        stopper.stop('debug: first failure');
      }
    };
    const app = await this.openApp({
      operations: 'required',
      transform: (ops) => (f.debug ? debugOperations(ops, (x) => onFailure(formatFailure(x), x.jobId)) : withConcurrency(ops, f.concurrency)),
    });
    // Metrics first: a port in use stops the worker before it takes any job.
    let metrics: { observeRun(op: string, ms: number): void } | undefined;
    let metricsServer: { port: number; close(): Promise<void> } | undefined;
    if (f['metrics-port'] !== undefined) {
      const { createMetrics, serveMetrics } = await import('../cli/metrics.js');
      const m = createMetrics();
      metricsServer = await serveMetrics(f['metrics-port'], m, () => app.stats(), (msg) => this.diag(msg));
      const server = metricsServer;
      this.onCleanup(() => server.close());
      metrics = m;
    }
    const worker = app.startWorker({
      concurrency: f.debug ? 1 : f.concurrency,
      ops: only,
      lease: leaseMs,
      onRunTime: metrics ? (op, ms) => metrics!.observeRun(op, ms) : undefined,
      onOutcome: (job, outcome) => {
        if (outcome.type === 'handback') return;
        done[outcome.type === 'completed' ? 'completed' : outcome.type === 'retry' ? 'retried' : 'quarantined']++;
        this.status.update();
        if (outcome.type === 'quarantined') {
          const e = outcome.error;
          if (f.debug) onFailure(`✗ ${job.data.op} quarantined ${job.data.uri} (job ${job.id}, attempt ${job.attempt}, item ${outcome.quarantineId})\n${e.stack ?? `${e.name}: ${e.message}`}`, job.id);
          else this.diag(`quarantined ${job.data.op} ${job.data.uri}: ${e.message} (show it: backache quarantine show ${outcome.quarantineId})`);
        } else if (f.verbose && outcome.type === 'completed') this.diag(`done ${job.data.op} ${job.data.uri}`);
      },
    });
    const s = await this.settings();
    const ops = only ?? app.operationNames();
    this.diag(
      `worker ${worker.id} started: ${ops.join(', ')}${f.debug ? ' (debug: one job at a time)' : ''} on ${maskUrl(s.broker)}${s.cache ? ` (cache ${maskUrl(s.cache)})` : ''}; Ctrl-C to stop`,
    );
    if (metricsServer) this.diag(`metrics on http://localhost:${metricsServer.port}/metrics`);
    const started = Date.now();
    this.status.use(() =>
      formatProgress('work', [['done', done.completed], ['retried', done.retried], ['quarantined', done.quarantined]], Date.now() - started, 'done'),
    );
    const why = await stopper.done;
    this.status.stop();
    this.diag(`${why}: stopping, finishing running jobs (up to ${f['stop-timeout']})…`);
    await worker.stop(stopMs);
    await metricsServer?.close();
    this.diag(`worker stopped after ${worker.processed} job${worker.processed === 1 ? '' : 's'}`);
    if (failed) this.markFailed();
  }
}
