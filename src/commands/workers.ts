import { BaseCommand } from './base.js';

export default class Workers extends BaseCommand<typeof Workers> {
  static override summary = 'Workers alive now (from their heartbeats).';
  static override description = 'Each live worker: id, host, pid, the operations it serves, the concurrency it applies to each (one number when they are all the same, else op=N: an operation\'s own concurrency wins over the worker\'s --concurrency), jobs running now (their number, then their ids, as of its last heartbeat; "backache jobs show ID" shows one) and processed, when it started and when it was last seen. A worker that stops sending heartbeats drops out of the list after three periods (6 s by default).';
  static override examples = ['<%= config.bin %> workers', `<%= config.bin %> workers --json | jq -r '.[].id'`];
  static override enableJsonFlag = true;

  async run() {
    const app = await this.openApp({ operations: 'none' , create: false });
    const workers = await app.workers();
    if (!this.jsonEnabled()) {
      const { renderWorkers } = await import('../cli/render.js');
      this.log(renderWorkers(workers));
    }
    return workers;
  }
}
