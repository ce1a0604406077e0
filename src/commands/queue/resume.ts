import { queueFlags } from '../../cli/jobs.js';
import { BaseCommand } from '../base.js';

export default class QueueResume extends BaseCommand<typeof QueueResume> {
  static override summary = "Resume a paused operation's queue: workers take its jobs again.";
  static override description = `Workers take its waiting jobs again, in their order. Resuming a queue that is not paused changes nothing.
--all resumes every operation this deployment knows.`;
  static override examples = ['<%= config.bin %> queue resume --op title', '<%= config.bin %> queue resume --all --json'];
  static override enableJsonFlag = true;
  static override flags = queueFlags('resume');

  async run() {
    const { setPaused } = await import('../../cli/jobs.js');
    const r = await setPaused(() => this.openApp({ operations: 'optional' }), this.flags, false);
    if (!this.jsonEnabled()) this.diag(r.line);
    return { resumed: r.ops };
  }
}
