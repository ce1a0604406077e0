import { Args, Flags } from '@oclif/core';
import { BaseCommand, env, listFlag } from './base.js';

export default class Invalidate extends BaseCommand<typeof Invalidate> {
  static override summary = 'Remove cached results (or, with --soft, mark them stale so they refresh on next use).';
  static override description = `Say which entries with exactly one of:
  URI…: those URIs;
  --template T --var k=v…: a template with every {placeholder} bound names exact URIs (no scan);
  --template T with unbound placeholders, or --match GLOB: the cached URIs that match, found through the index from the literal prefix;
  --all: everything (of --op, or of every operation); needs --yes.
Without --op, every operation's entries are considered. --dry-run prints what would go, one JSON line {"op","uri"} each, and changes nothing.`;
  static override examples = [
    '<%= config.bin %> invalidate --op stats file:examples/data/a.txt',
    `<%= config.bin %> invalidate --op feed --template 'https://x.example/users/{id}/feed' --var id=5 --var id=6`,
    `<%= config.bin %> invalidate --op feed --template 'https://x.example/users/{id}/feed' --soft`,
    `<%= config.bin %> invalidate --match 'https://x.example/*' --dry-run`,
    '<%= config.bin %> invalidate --op stats --all --yes',
  ];
  static override enableJsonFlag = true;
  static override strict = false;
  static override args = {
    uri: Args.string({ ignoreStdin: true, description: 'URIs to invalidate.' }),
  };
  static override flags = {
    op: Flags.string({ summary: 'Operation whose entries to invalidate (default: every operation).', env: env('op') }),
    template: Flags.string({ summary: 'URI template with {placeholders}.', env: env('template') }),
    var: Flags.string({ summary: 'Template variable name=value (repeatable; in the environment, one per line).', multiple: true, default: [], env: env('var') }),
    match: Flags.string({ summary: 'Glob over cached URIs (* any run of characters, ? one).', env: env('match') }),
    all: Flags.boolean({ summary: 'Every entry (of --op, or of every operation). Needs --yes.', env: env('all') }),
    soft: Flags.boolean({ summary: 'Mark stale instead of deleting: the old value is served while one refresh runs.', env: env('soft') }),
    'dry-run': Flags.boolean({ summary: 'Print what would be invalidated; change nothing.', env: env('dry-run') }),
    yes: Flags.boolean({ char: 'y', summary: 'Confirm --all.', env: env('yes') }),
  };

  async run() {
    const [{ parseVars }, { ConfigError }, { formatProgress }, { writeLine }] = await Promise.all([
      import('../core/template.js'),
      import('../core/errors.js'),
      import('../cli/progress.js'),
      import('../cli/output.js'),
    ]);
    const f = this.flags;
    const uris = this.positional;
    const chosen = [uris.length > 0 && 'URI…', f.template !== undefined && '--template', f.match !== undefined && '--match', f.all && '--all'].filter(Boolean);
    if (chosen.length === 0) throw new ConfigError('say what to invalidate: URI…, --template, --match or --all', { hint: 'see backache invalidate --help' });
    if (chosen.length > 1) throw new ConfigError(`give only one of URI…, --template, --match, --all (got ${chosen.join(' and ')})`);
    if (listFlag(f.var).length && f.template === undefined) throw new ConfigError('--var needs --template');
    const what = f.op === undefined ? 'every operation' : `operation ${f.op}`;
    if (f.all && !f.yes && !f['dry-run']) throw new ConfigError(`--all invalidates every entry of ${what}: add --yes to confirm (or --dry-run to see them first)`);
    const vars = parseVars(listFlag(f.var));
    const app = await this.openProducer(f.op, { cached: true });
    const started = Date.now();
    let matched = 0;
    this.status.use(() => formatProgress('invalidate', [[f['dry-run'] ? 'would go' : f.soft ? 'marked stale' : 'removed', matched]], Date.now() - started));
    const res = await app.invalidate({
      op: f.op,
      ...(uris.length ? { uris } : {}),
      ...(f.template !== undefined ? { template: f.template, vars } : {}),
      ...(f.match !== undefined ? { match: f.match } : {}),
      soft: f.soft,
      dryRun: f['dry-run'],
      onProgress: (n) => {
        matched = n;
        this.status.update();
      },
    });
    this.status.stop();
    if (!this.jsonEnabled()) {
      if (res.items) for (const it of res.items) await writeLine(process.stdout, JSON.stringify(it));
      const n = (x: number) => `${x.toLocaleString('en-US')} entr${x === 1 ? 'y' : 'ies'}`;
      this.diag(
        f['dry-run']
          ? `invalidate --dry-run: ${n(res.matched)} would be ${f.soft ? 'marked stale' : 'removed'}`
          : `invalidated ${n(res.invalidated)}${f.soft ? ' (marked stale: served while one refresh runs)' : ''}`,
      );
    }
    return res;
  }
}
