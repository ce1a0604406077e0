import { BaseCommand } from './base.js';

export default class Ops extends BaseCommand<typeof Ops> {
  static override summary = 'Operations that live workers serve (autodiscovery), and those of the local module.';
  static override description = 'Each operation with the number of live workers serving it and their total concurrency for it (what each worker applies to that operation: the operation\'s own concurrency, else the worker\'s --concurrency). LOCAL says whether the operations module configured here (--operations) defines it.';
  static override examples = ['<%= config.bin %> ops', '<%= config.bin %> ops --json', '<%= config.bin %> ops --broker redis://localhost:6379'];
  static override enableJsonFlag = true;

  async run() {
    const app = await this.openApp({ operations: 'optional' });
    const local = new Set(app.operationNames());
    const seen = await app.operations();
    const rows = seen.map((o) => ({ ...o, local: local.has(o.op) }));
    for (const op of local) if (!rows.some((r) => r.op === op)) rows.push({ op, workers: 0, concurrency: 0, local: true });
    rows.sort((a, b) => a.op.localeCompare(b.op));
    if (!this.jsonEnabled()) {
      const { renderOps } = await import('../cli/render.js');
      this.log(renderOps(rows));
    }
    return rows;
  }
}
