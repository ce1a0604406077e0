import { Args, Flags } from '@oclif/core';
import { selectorFlags } from '../../cli/quarantine-flags.js';
import { BaseCommand, env } from '../base.js';

export default class QuarantineReplay extends BaseCommand<typeof QuarantineReplay> {
  static override summary = 'Queue quarantined requests again (their callback arguments come along).';
  static override description = `Select items by ID…, or by --op / --match / --since, or --all (needs --yes). Each is queued again with its kwargs (or --kwargs instead) and removed from quarantine once its job is queued; if it fails again, its item comes back with the attempts added up. Exit 1 when an ID names no item.
--dry-run lists what would be replayed.`;
  static override examples = [
    '<%= config.bin %> quarantine replay 0m3x1k2a9f4e1b2c3d4e5f',
    '<%= config.bin %> quarantine replay --op title --since 1h --dry-run',
    `<%= config.bin %> quarantine replay --op title --kwargs '{"attempt":1}'`,
    '<%= config.bin %> quarantine replay --all --yes',
  ];
  static override enableJsonFlag = true;
  static override strict = false;
  static override args = {
    id: Args.string({ ignoreStdin: true, description: 'Item ids.' }),
  };
  static override flags = {
    ...selectorFlags('replayed'),
    kwargs: Flags.string({ summary: 'Replace each item\'s kwargs with this JSON object.', env: env('kwargs') }),
  };

  async run() {
    const [{ quarantineSelector }, { parseJsonFlag }, { formatProgress }, render] = await Promise.all([
      import('../../cli/quarantine.js'),
      import('../../cli/operations.js'),
      import('../../cli/progress.js'),
      import('../../cli/render.js'),
    ]);
    const f = this.flags;
    const ids = this.positional;
    const sel = quarantineSelector(ids, f, 'replay');
    const kwargs = parseJsonFlag('kwargs', f.kwargs, { object: true });
    const app = await this.openApp({ operations: 'none' });
    const started = Date.now();
    let done = 0;
    this.status.use(() => formatProgress('replay', [['replayed', done]], Date.now() - started));
    const res = await app.quarantine.replay(sel, {
      kwargs,
      dryRun: f['dry-run'],
      onProgress: (n) => {
        done = n;
        this.status.update();
      },
    });
    this.status.stop();
    const missing = ids.filter((id) => !res.items.some((it) => it.id === id));
    for (const id of missing) this.diag(`no quarantine item ${id}`);
    if (missing.length) this.markFailed();
    if (!this.jsonEnabled()) {
      if (f['dry-run']) {
        this.log(render.renderQuarantineList(res.items));
        this.diag(`replay --dry-run: ${res.matched} item${res.matched === 1 ? '' : 's'} would be queued again`);
      } else this.diag(`replayed ${res.replayed} item${res.replayed === 1 ? '' : 's'} (queued again; a worker must run: backache work)`);
    }
    return f['dry-run'] ? { matched: res.matched, replayed: 0, items: res.items } : { matched: res.matched, replayed: res.replayed, ids: res.items.map((i) => i.id), jobIds: res.jobIds };
  }
}
