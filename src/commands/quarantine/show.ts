import { Args } from '@oclif/core';
import { BaseCommand } from '../base.js';

export default class QuarantineShow extends BaseCommand<typeof QuarantineShow> {
  static override summary = 'Everything about one quarantined request, including the stack.';
  static override description = 'op, uri, attempts, first and last failure, the worker, kwargs, the callback arguments waiting for it, the details the operation gave, and the error with its stack. Exit 1 when there is no such item.';
  static override examples = ['<%= config.bin %> quarantine show 0m3x1k2a9f4e1b2c3d4e5f', '<%= config.bin %> quarantine show 0m3x1k2a9f4e1b2c3d4e5f --json'];
  static override enableJsonFlag = true;
  static override args = {
    id: Args.string({ ignoreStdin: true, required: true, description: 'Item id (from quarantine list).' }),
  };

  async run() {
    const app = await this.openApp({ operations: 'none' , create: false });
    const item = await app.quarantine.get(this.args.id);
    if (!item) {
      const { BackacheError } = await import('../../core/errors.js');
      throw new BackacheError(`no quarantine item ${this.args.id}`, { hint: 'list them with: backache quarantine list' });
    }
    if (!this.jsonEnabled()) {
      const { renderQuarantineItem } = await import('../../cli/render.js');
      this.log(renderQuarantineItem(item));
    }
    return item;
  }
}
