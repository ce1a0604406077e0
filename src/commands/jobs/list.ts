import { Flags } from '@oclif/core';
import { BaseCommand, env } from '../base.js';

export default class JobsList extends BaseCommand<typeof JobsList> {
  static override summary = "An operation's jobs: what is queued and running, or what finished.";
  static override description = `Without --state: the active jobs, then the waiting ones in the order workers take them, then the delayed ones (soonest first). --state completed or failed lists finished jobs, newest first, as long as the queue keeps them (by default the last 10,000, for an hour). A quarantined request's job is "failed".
Each job: id, state, URI, attempts (runs started), stalls (leases that ran out), the worker that holds or held it, when it was created and when it is due or finished. "backache jobs show ID" shows one in full.`;
  static override examples = [
    '<%= config.bin %> jobs list --op title',
    '<%= config.bin %> jobs list --op title --state active',
    '<%= config.bin %> jobs list --op title --state failed --limit 10 --json',
    `<%= config.bin %> jobs list --op title --state waiting --json | jq -r '.[].uri'`,
  ];
  static override enableJsonFlag = true;
  static override flags = {
    op: Flags.string({ summary: 'Operation whose jobs to list.', required: true, env: env('op') }),
    state: Flags.string({ summary: 'Only jobs in this state.', options: ['waiting', 'active', 'delayed', 'completed', 'failed'], env: env('state') }),
    limit: Flags.integer({ summary: 'At most this many jobs.', default: 50, min: 1, max: 10_000, env: env('limit') }),
  };

  async run() {
    const { knownOp, renderJobList } = await import('../../cli/jobs.js');
    const f = this.flags;
    const state = f.state as import('../../core/ports.js').JobListState | undefined;
    const app = await this.openApp({ operations: 'optional', create: false });
    await knownOp(app, f.op);
    const jobs = await app.jobs(f.op, { state, limit: f.limit });
    if (!this.jsonEnabled()) this.log(renderJobList(jobs, f.op, state));
    return jobs;
  }
}
