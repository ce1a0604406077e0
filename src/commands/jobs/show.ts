import { Args } from '@oclif/core';
import { BaseCommand } from '../base.js';

export default class JobsShow extends BaseCommand<typeof JobsShow> {
  static override summary = 'One job in full: data, attempts, stalls, worker, times and outcome.';
  static override description = `The job's operation, URI, kwargs and other data, its state and priority, attempts (runs started) and stalls (leases that ran out), the worker that holds or held it, when it was created, started, is due and finished, and its outcome: the callback arguments it delivered (the value is in the cache), or the quarantine item and error it failed with. Exit 1 when no queue holds the job (finished jobs are kept for a while only).`;
  static override examples = ['<%= config.bin %> jobs show 0m3x1k2a9f4e1b2c3d4e5f', '<%= config.bin %> jobs show 0m3x1k2a9f4e1b2c3d4e5f --json'];
  static override enableJsonFlag = true;
  static override args = {
    id: Args.string({ ignoreStdin: true, required: true, description: 'Job id (from jobs list, submit --json, or a quarantine item).' }),
  };

  async run() {
    const app = await this.openApp({ operations: 'none', create: false });
    const job = await app.job(this.args.id);
    if (!job) {
      const [{ BackacheError }, { printable }] = await Promise.all([import('../../core/errors.js'), import('../../ui/format.js')]);
      throw new BackacheError(`no job ${printable(this.args.id)}: not queued, or finished and no longer kept`, { hint: 'list them with: backache jobs list --op OP' });
    }
    if (!this.jsonEnabled()) {
      const { renderJob } = await import('../../cli/jobs.js');
      this.log(renderJob(job));
    }
    return job;
  }
}
