import { Flags } from '@oclif/core';
import { BaseCommand, env } from './base.js';

export default class Stats extends BaseCommand<typeof Stats> {
  static override summary = 'One snapshot of queues, counters, cache and workers (or one every INTERVAL with --watch).';
  static override description = `Per operation: waiting, active, delayed, completed, failed and quarantined jobs, hits (and of them L1 hits, served from a process's in-memory L1 tier), misses and coalesced requests (cumulative counters), hit ratio, p50/p95 run time and cached entries; and the live workers.
Costs O(operations), never O(jobs): safe to run often from scripts. For a live view use "backache top".
--watch [INTERVAL] prints a snapshot every INTERVAL (default 2s; 500ms, 10s, 1m, or a bare number of seconds) until interrupted (Ctrl-C exits 0), like "rq info --interval"; with --json, one JSON line per snapshot.`;
  static override examples = [
    '<%= config.bin %> stats',
    '<%= config.bin %> stats --json',
    `<%= config.bin %> stats --json | jq '.ops[] | {op, waiting, quarantined, hitRatio}'`,
    '<%= config.bin %> stats --watch',
    '<%= config.bin %> stats --watch 5s --json',
    '<%= config.bin %> stats --broker redis://localhost:6379',
  ];
  static override enableJsonFlag = true;
  static override flags = {
    watch: Flags.string({ summary: 'Print a snapshot every INTERVAL (default 2s; a bare number is seconds) until interrupted.', helpValue: 'INTERVAL', env: env('watch') }),
  };

  override async init(): Promise<void> {
    // `--watch` with no value means the default interval (oclif's string flags need one).
    const { defaultWatch } = await import('../cli/jobs.js');
    this.argv = defaultWatch(this.argv);
    await super.init();
  }

  async run() {
    const { renderStats } = await import('../cli/render.js');
    const watch = this.flags.watch;
    let ms = 0;
    if (watch !== undefined) {
      const [{ watchIntervalMs }, { toMs }] = await Promise.all([import('../cli/jobs.js'), import('../core/duration.js')]);
      ms = watchIntervalMs(watch, toMs);
    }
    // The operations module is not loaded: stats shows what the backends hold (fast, and it
    // works from any machine that can reach the broker).
    const app = await this.openApp({ operations: 'none', create: false });
    if (watch === undefined) {
      const stats = await app.stats();
      if (!this.jsonEnabled()) this.log(renderStats(stats));
      return stats;
    }
    const { watchStats } = await import('../cli/watch.js');
    await watchStats(() => app.stats(), {
      intervalMs: ms,
      json: this.jsonEnabled(),
      render: renderStats,
      out: process.stdout,
      diag: (line) => this.diag(line),
    });
    return undefined;
  }
}
