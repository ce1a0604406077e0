import { queueFlags } from '../../cli/jobs.js';
import { BaseCommand } from '../base.js';

export default class QueuePause extends BaseCommand<typeof QueuePause> {
  static override summary = "Pause an operation's queue: workers take no new jobs of it.";
  static override description = `Jobs that are running finish; waiting and delayed jobs stay queued, and new requests are still accepted and queued. Resume with "backache queue resume". The same as "p" in "backache top", for scripts.
--all pauses every operation this deployment knows (defined, counted, quarantined or served by a live worker).`;
  static override examples = [
    '<%= config.bin %> queue pause --op title',
    '<%= config.bin %> queue pause --op title --op thumbnail --json',
    '<%= config.bin %> queue pause --all',
  ];
  static override enableJsonFlag = true;
  static override flags = queueFlags('pause');

  async run() {
    const { setPaused } = await import('../../cli/jobs.js');
    const r = await setPaused(() => this.openApp({ operations: 'optional' }), this.flags, true);
    if (!this.jsonEnabled()) this.diag(r.line);
    return { paused: r.ops };
  }
}
