import { Flags } from '@oclif/core';
import { BaseCommand, env } from '../base.js';

export default class QueueDrain extends BaseCommand<typeof QueueDrain> {
  static override summary = "Drop an operation's waiting and delayed jobs; their requests go to quarantine.";
  static override description = `Nothing accepted disappears: each job's pending requests (their callback arguments) move to quarantine with the error DrainedError, then the job leaves the queue, so "backache quarantine replay" brings them back. Active jobs are left running. Jobs added while the drain runs are left queued.
Needs --yes; --dry-run counts what would be drained and changes nothing.`;
  static override examples = [
    '<%= config.bin %> queue drain --op title --dry-run',
    '<%= config.bin %> queue drain --op title --yes',
    '<%= config.bin %> queue drain --op title --yes --json',
    '<%= config.bin %> quarantine replay --op title',
  ];
  static override enableJsonFlag = true;
  static override flags = {
    op: Flags.string({ summary: 'Operation whose queue to drain.', required: true, env: env('op') }),
    yes: Flags.boolean({ char: 'y', summary: 'Confirm the drain.', env: env('yes') }),
    'dry-run': Flags.boolean({ summary: 'Count what would be drained; change nothing.', env: env('dry-run') }),
  };

  async run() {
    const [{ ConfigError }, { knownOp, drainSummary }, { formatProgress }] = await Promise.all([import('../../core/errors.js'), import('../../cli/jobs.js'), import('../../cli/progress.js')]);
    const f = this.flags;
    if (!f.yes && !f['dry-run']) throw new ConfigError(`queue drain removes every waiting and delayed job of ${f.op}: add --yes to confirm (or --dry-run to count them first)`);
    // Counting creates nothing (a mistyped SQLite path says there is no store there).
    const app = await this.openApp({ operations: 'optional', create: !f['dry-run'] });
    await knownOp(app, f.op);
    const started = Date.now();
    let drained = 0;
    this.status.use(() => formatProgress('drain', [['drained', drained]], Date.now() - started));
    const res = await app.drain(f.op, {
      dryRun: f['dry-run'],
      onProgress: (n) => {
        drained = n;
        this.status.update();
      },
    });
    this.status.stop();
    if (!this.jsonEnabled()) for (const line of drainSummary(res)) this.diag(line);
    return res;
  }
}
