import { BaseCommand } from './base.js';

export default class Stats extends BaseCommand<typeof Stats> {
  static override summary = 'One snapshot of queues, counters, cache and workers.';
  static override description = `Per operation: waiting, active, delayed, completed, failed and quarantined jobs, hits, misses and coalesced requests (cumulative counters), hit ratio, p50/p95 run time and cached entries; and the live workers.
Costs O(operations), never O(jobs): safe to run often from scripts. For a live view use "backache top".`;
  static override examples = [
    '<%= config.bin %> stats',
    '<%= config.bin %> stats --json',
    `<%= config.bin %> stats --json | jq '.ops[] | {op, waiting, quarantined, hitRatio}'`,
    '<%= config.bin %> stats --broker redis://localhost:6379',
  ];
  static override enableJsonFlag = true;

  async run() {
    // The operations module is not loaded: stats shows what the backends hold (fast, and it
    // works from any machine that can reach the broker).
    const app = await this.openApp({ operations: 'none' , create: false });
    const stats = await app.stats();
    if (!this.jsonEnabled()) {
      const { renderStats } = await import('../cli/render.js');
      this.log(renderStats(stats));
    }
    return stats;
  }
}
