import { BaseCommand } from './base.js';

export default class Metrics extends BaseCommand<typeof Metrics> {
  static override summary = 'Print the Prometheus metrics of the deployment once (the text "work --metrics-port" serves).';
  static override description = `Per operation (label op): the counters backache_hits_total, backache_l1_hits_total, backache_misses_total, backache_stale_hits_total, backache_coalesced_total, backache_completed_total, backache_failed_total and backache_retried_total; the gauges backache_waiting, backache_active, backache_delayed, backache_quarantined, backache_pending, backache_entries, backache_paused and backache_recent_run_seconds{quantile}; per live worker (label worker), backache_worker_jobs_running and backache_worker_processed_total. The figures are the deployment's, the same as "stats --json", so it runs from any machine that reaches the broker (no operations module needed).
The histogram backache_run_seconds counts the runs of the scraped worker's own process: here it is empty; scrape "work --metrics-port" for it.
--json prints prom-client's JSON form of the same metrics.`;
  static override examples = [
    '<%= config.bin %> metrics',
    `<%= config.bin %> metrics | grep '^backache_waiting'`,
    '<%= config.bin %> metrics --broker redis://localhost:6379 > backache.prom',
  ];
  static override enableJsonFlag = true;

  async run() {
    const { createMetrics, scrape } = await import('../cli/metrics.js');
    const app = await this.openApp({ operations: 'none', create: false });
    const m = createMetrics();
    const text = await scrape(m, () => app.stats());
    if (!this.jsonEnabled()) {
      process.stdout.write(text);
      return undefined;
    }
    return m.registry.getMetricsAsJSON();
  }
}
