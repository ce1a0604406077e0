import { Args, Flags } from '@oclif/core';
import { BaseCommand, env, listFlag } from './base.js';

export default class Warm extends BaseCommand<typeof Warm> {
  static override summary = 'Fill the cache ahead of requests: queue what is missing or stale (--force: everything).';
  static override description = `Requests come from one of:
  FILE or stdin: one URI a line (with --op), or JSON lines {"op","uri","kwargs"};
  --template T --var k=v…: a template with every {placeholder} bound names exact URIs (repeat --var for several values: the URIs are their combinations);
  --template T with unbound placeholders: FILE or stdin gives one JSON object of variables a line, e.g. {"id":42};
  --template T --cached, or --match GLOB: the entries already cached that match, found through the index (useful with --force to refresh them).
Entries that are fresh are skipped unless --force. --dry-run prints what would be queued, one JSON line {"op","uri"} each, and queues nothing.
The operation may be one a worker registered (see backache ops): no operations module is needed then; one known to neither is refused with the known ones (exit 2).`;
  static override examples = [
    '<%= config.bin %> warm --op stats examples/urls.txt -o examples/operations.ts',
    `<%= config.bin %> warm --op feed --template 'https://x.example/users/{id}/feed' --var id=1 --var id=2 -o operations.ts`,
    `seq 1 1000 | jq -c '{id: .}' | <%= config.bin %> warm --op feed --template 'https://x.example/users/{id}/feed' -o operations.ts`,
    `<%= config.bin %> warm --op feed --template 'https://x.example/users/{id}/feed' --cached --force -o operations.ts`,
    `<%= config.bin %> warm --op feed --match 'https://x.example/users/*' --force --dry-run -o operations.ts`,
  ];
  static override enableJsonFlag = true;
  static override args = {
    file: Args.string({ ignoreStdin: true, description: 'File of URIs, JSON lines, or (with an unbound --template) JSON objects of variables (default: stdin; "-" for stdin).' }),
  };
  static override flags = {
    op: Flags.string({ summary: 'Operation to warm.', env: env('op') }),
    template: Flags.string({ summary: 'URI template with {placeholders}.', env: env('template') }),
    var: Flags.string({ summary: 'Template variable name=value (repeatable; in the environment, one per line).', multiple: true, default: [], env: env('var') }),
    match: Flags.string({ summary: 'Glob over cached URIs (* any run of characters, ? one).', env: env('match') }),
    cached: Flags.boolean({ summary: 'With an unbound --template: warm the cached entries that match it (scan) instead of reading variables.', env: env('cached') }),
    kwargs: Flags.string({ summary: 'Keyword arguments (a JSON object) of every request.', env: env('kwargs') }),
    force: Flags.boolean({ summary: 'Queue even fresh entries (recompute everything named).', env: env('force') }),
    'dry-run': Flags.boolean({ summary: 'Print what would be queued; queue nothing.', env: env('dry-run') }),
    'batch-size': Flags.integer({ summary: 'Requests per round trip.', default: 1000, min: 1, max: 100_000, env: env('batch-size') }),
    quiet: Flags.boolean({ char: 'q', summary: 'No summary on stderr.', env: env('quiet') }),
  };

  async run() {
    const [{ parseJsonFlag }, { openInput }, { planWarm, warmRequests }, { parseVars }, { batches }, { formatProgress }, { writeLine }] =
      await Promise.all([
        import('../cli/operations.js'),
        import('../cli/input.js'),
        import('../cli/warm.js'),
        import('../core/template.js'),
        import('../cli/batch.js'),
        import('../cli/progress.js'),
        import('../cli/output.js'),
      ]);
    const f = this.flags;
    const kwargs = parseJsonFlag('kwargs', f.kwargs, { object: true });
    const vars = parseVars(listFlag(f.var));
    const kind = planWarm({ op: f.op, template: f.template, vars, match: f.match, cached: f.cached });
    const app = await this.openProducer(f.op);
    const input = kind === 'lines' || kind === 'template-lines' ? await openInput(this.args.file) : undefined;
    if (input === process.stdin && process.stdin.isTTY) this.diag('reading from the terminal, one a line (Ctrl-D to end)…');

    const s = { read: 0, queued: 0, fresh: 0, errors: 0 };
    const started = Date.now();
    const verb = f['dry-run'] ? 'would queue' : 'queued';
    this.status.use(() =>
      formatProgress(
        'warm',
        [
          ['read', s.read],
          [verb, s.queued],
          ['fresh', s.fresh],
          ['errors', s.errors],
        ],
        Date.now() - started,
        'read',
      ),
    );
    const reqs = warmRequests(kind, input, {
      op: f.op,
      kwargs,
      template: f.template,
      vars,
      match: f.match,
      known: app.knownOperations(),
      cache: app.backend.cache,
      onRead: () => void s.read++,
      onError: (e) => {
        s.errors++;
        this.diag(e.message);
      },
    });
    const items: { op: string; uri: string }[] = [];
    for await (const batch of batches(reqs, f['batch-size'])) {
      const r = await app.warm(batch, { force: f.force, dryRun: f['dry-run'] });
      s.queued += r.queued;
      s.fresh += r.fresh;
      s.errors += r.errors.length;
      for (const e of r.errors) this.diag(`${e.op} ${e.uri}: ${e.error}`);
      if (f['dry-run']) {
        if (this.jsonEnabled()) items.push(...r.items);
        else for (const it of r.items) await writeLine(process.stdout, JSON.stringify(it));
      }
      this.status.update();
    }
    this.status.stop();
    if (!f.quiet && !this.jsonEnabled()) {
      this.diag(`warm: ${s.read} read, ${s.queued} ${verb}, ${s.fresh} already fresh, ${s.errors} error${s.errors === 1 ? '' : 's'} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    }
    if (s.errors) this.markFailed();
    return { ...s, dryRun: !!f['dry-run'], ...(f['dry-run'] ? { items } : {}) };
  }
}
