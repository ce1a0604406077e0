import { Flags } from '@oclif/core';
import { BaseCommand, env } from './base.js';

export default class Cleanup extends BaseCommand<typeof Cleanup> {
  static override summary = 'Remove everything under the prefix: cache, jobs, pending requests, quarantine, registry.';
  static override description = `Deletes every key of this deployment (--prefix, default "backache") on the broker and the cache, by scanning (never Redis KEYS), and nothing of another prefix or application. Needs --yes; --dry-run shows what is there instead.`;
  static override examples = ['<%= config.bin %> cleanup --dry-run', '<%= config.bin %> cleanup --yes', '<%= config.bin %> cleanup --yes --broker redis://localhost:6379 --prefix staging'];
  static override enableJsonFlag = true;
  static override flags = {
    yes: Flags.boolean({ char: 'y', summary: 'Confirm.', env: env('yes') }),
    'dry-run': Flags.boolean({ summary: 'Show what would be removed; remove nothing.', env: env('dry-run') }),
  };

  async run() {
    const { ConfigError } = await import('../core/errors.js');
    const s = await this.settings();
    const [{ maskUrl }, { safe }] = await Promise.all([import('../core/url.js'), import('../cli/output.js')]);
    const where = safe(`prefix "${s.prefix}" on ${maskUrl(s.broker)}${s.cache ? ` and ${maskUrl(s.cache)}` : ''}`);
    if (!this.flags.yes && !this.flags['dry-run']) {
      throw new ConfigError(`cleanup removes everything under ${where}: add --yes to confirm (or --dry-run to see what is there)`);
    }
    const app = await this.openApp({ operations: 'none' });
    const st = await app.stats();
    const there = {
      entries: st.totals.entries,
      jobs: st.totals.waiting + st.totals.active + st.totals.delayed,
      pending: st.ops.reduce((n, o) => n + o.pending, 0),
      quarantined: st.totals.quarantined,
      workers: st.workers.length,
    };
    const text = `${there.entries} entries, ${there.jobs} jobs, ${there.pending} pending pairs, ${there.quarantined} quarantined, ${there.workers} live workers`;
    if (this.flags['dry-run']) {
      if (!this.jsonEnabled()) this.log(`would remove everything under ${where}: ${text}`);
      return { dryRun: true, prefix: s.prefix, ...there };
    }
    if (there.workers) this.diag(`warning: ${there.workers} worker(s) are alive; they keep running and register again`);
    await app.cleanup();
    if (!this.jsonEnabled()) this.log(`removed everything under ${where}: ${text}`);
    return { dryRun: false, prefix: s.prefix, removed: there };
  }
}
