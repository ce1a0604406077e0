import { Flags } from '@oclif/core';
import { BaseCommand, env } from '../base.js';

export default class QuarantineList extends BaseCommand<typeof QuarantineList> {
  static override summary = 'List quarantined requests, newest first, or grouped by error.';
  static override description = `Filters: --op, --match (a glob over URIs), --since (30m, 1h, 2d, or a date). Pages of --limit items; the next page starts at --cursor (printed on stderr, and in --json).
--group counts the selected items by error message instead (for ctx.quarantine(details): by the reason the operation gave, details.reason), biggest group first, with a sample id of each to "quarantine show".`;
  static override examples = [
    '<%= config.bin %> quarantine list',
    '<%= config.bin %> quarantine list --op title --since 1h',
    `<%= config.bin %> quarantine list --match 'https://example.com/*' --json`,
    '<%= config.bin %> quarantine list --group',
  ];
  static override enableJsonFlag = true;
  static override flags = {
    op: Flags.string({ summary: 'Only this operation.', env: env('op') }),
    match: Flags.string({ summary: 'Only URIs matching this glob (* any run of characters, ? one).', env: env('match') }),
    since: Flags.string({ summary: 'Only items that failed since: a duration ago (30m, 1h, 2d) or a date.', env: env('since') }),
    limit: Flags.integer({ summary: 'Items per page.', default: 50, min: 1, max: 10_000, env: env('limit') }),
    cursor: Flags.string({ summary: 'Continue after a previous page.', env: env('cursor') }),
    group: Flags.boolean({ summary: 'Group by error message (scans every selected item).', env: env('group') }),
  };

  async run() {
    const [{ sinceArg }, render] = await Promise.all([import('../../cli/quarantine.js'), import('../../cli/render.js')]);
    const f = this.flags;
    const since = f.since === undefined ? undefined : sinceArg(f.since);
    const app = await this.openApp({ operations: 'none' , create: false });
    if (f.group) {
      const groups = new Map<string, import('../../cli/render.js').QuarantineGroup>();
      let total = 0;
      for await (const it of app.quarantine.select({ op: f.op, match: f.match, since, all: true })) {
        render.addToGroups(groups, it);
        total++;
      }
      const sorted = render.sortGroups(groups);
      if (!this.jsonEnabled()) {
        this.log(render.renderQuarantineGroups(sorted));
        this.diag(`${total} item${total === 1 ? '' : 's'} in ${sorted.length} group${sorted.length === 1 ? '' : 's'}`);
      }
      return { total, groups: sorted };
    }
    const page = await app.quarantine.list({ op: f.op, match: f.match, since, limit: f.limit, cursor: f.cursor });
    if (!this.jsonEnabled()) {
      this.log(render.renderQuarantineList(page.items));
      if (page.cursor) this.diag(`more: backache quarantine list --cursor '${page.cursor}'${f.op ? ` --op ${f.op}` : ''}${f.limit !== 50 ? ` --limit ${f.limit}` : ''}`);
    }
    return page;
  }
}
