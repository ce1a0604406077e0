import { Args } from '@oclif/core';
import { selectorFlags } from '../../cli/quarantine-flags.js';
import { BaseCommand } from '../base.js';

export default class QuarantinePurge extends BaseCommand<typeof QuarantinePurge> {
  static override summary = 'Delete quarantined requests for good.';
  static override description = 'Select items by ID…, or by --op / --match / --since, or --all (needs --yes). Their callback arguments are dropped with them. --dry-run lists what would be deleted. Exit 1 when an ID names no item.';
  static override examples = [
    '<%= config.bin %> quarantine purge 0m3x1k2a9f4e1b2c3d4e5f',
    `<%= config.bin %> quarantine purge --op title --match 'https://old.example.com/*' --dry-run`,
    '<%= config.bin %> quarantine purge --since 30d --op title',
    '<%= config.bin %> quarantine purge --all --yes',
  ];
  static override enableJsonFlag = true;
  static override strict = false;
  static override args = {
    id: Args.string({ ignoreStdin: true, description: 'Item ids.' }),
  };
  static override flags = {
    ...selectorFlags('deleted'),
  };

  async run() {
    const [{ quarantineSelector }, { writeLine }] = await Promise.all([import('../../cli/quarantine.js'), import('../../cli/output.js')]);
    const f = this.flags;
    const ids = this.positional;
    const sel = quarantineSelector(ids, f, 'purge');
    const app = await this.openApp({ operations: 'none' });
    const res = await app.quarantine.purge({ ...sel, dryRun: f['dry-run'] });
    const missing = ids.filter((id) => !res.ids.includes(id));
    for (const id of missing) this.diag(`no quarantine item ${id}`);
    if (missing.length) this.markFailed();
    if (!this.jsonEnabled()) {
      if (f['dry-run']) {
        for (const id of res.ids) await writeLine(process.stdout, id);
        this.diag(`purge --dry-run: ${res.matched} item${res.matched === 1 ? '' : 's'} would be deleted`);
      } else this.diag(`purged ${res.purged} item${res.purged === 1 ? '' : 's'}`);
    }
    return res;
  }
}
