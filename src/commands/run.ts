import { Flags } from '@oclif/core';
import { fileArg, requestFlags } from '../cli/request-flags.js';
import { BaseCommand, env } from './base.js';

export default class Run extends BaseCommand<typeof Run> {
  static override summary = 'Submit, work and wait in one process: one JSON line per URI. The one-liner for scripts and CI.';
  static override description = `Reads URIs (one a line, with --op) or JSON lines {"op","uri","cbArgs","kwargs"} from FILE or stdin, answers hits from the cache at once, computes the misses with workers in this process (other workers sharing the broker help), and prints one JSON line per input line on stdout as results complete:
  {"op":"stats","uri":"file:examples/data/a.txt","status":"computed","value":{…}}
status is hit, stale, computed or quarantined (then "error" says why). A second run over the same input is all hits.
Exit 0 when every line got a value; 1 when some lines were bad or quarantined; 2 for usage errors; 3 when a backend cannot be reached.`;
  static override examples = [
    { description: 'The main job, on the embedded SQLite store', command: '<%= config.bin %> run examples/urls.txt --op stats -o examples/operations.ts' },
    { description: 'From stdin, 4 jobs at a time, values only', command: `find data -type f | sed 's|^|file:|' | <%= config.bin %> run --op checksum -o examples/operations.ts --concurrency 4 | jq -r .value` },
    { description: 'Into a file, keeping the summary on the terminal', command: '<%= config.bin %> run urls.txt --op title -o operations.ts > results.jsonl' },
  ];
  static override args = { file: fileArg };
  static override flags = {
    ...requestFlags,
    concurrency: Flags.integer({ char: 'c', summary: 'Parallel jobs per operation in this process (default: each operation\'s own, else 8).', min: 1, env: env('concurrency') }),
  };

  async run() {
    const [{ parseJsonFlag, assertKnownOp }, { openInput }, { submitStream, summaryText, summaryFailed }, { withConcurrency }] = await Promise.all([
      import('../cli/operations.js'),
      import('../cli/input.js'),
      import('../cli/submit.js'),
      import('../cli/worker.js'),
    ]);
    const f = this.flags;
    const cbArgs = parseJsonFlag('cb-args', f['cb-args']);
    const kwargs = parseJsonFlag('kwargs', f.kwargs, { object: true });
    const app = await this.openApp({ operations: 'required', transform: (ops) => withConcurrency(ops, f.concurrency) });
    assertKnownOp(f.op, app.operationNames());
    const input = await openInput(this.args.file);
    if (input === process.stdin && process.stdin.isTTY) this.diag('reading URIs from the terminal, one a line (Ctrl-D to end)…');
    const started = Date.now();
    // Workers start with the first miss: a run that is all hits never starts one.
    let worker: ReturnType<typeof app.startWorker> | undefined;
    let summary;
    try {
      summary = await submitStream(
        { app, out: process.stdout, status: this.status, diag: (l) => this.diag(l) },
        { input, op: f.op, cbArgs, kwargs, wait: true, batchSize: f['batch-size'], label: 'run', beforeFirstWait: () => (worker = app.startWorker({ concurrency: f.concurrency })) },
      );
    } finally {
      await worker?.stop();
    }
    this.status.stop();
    if (!f.quiet) this.diag(summaryText('run', summary, true, Date.now() - started));
    if (summaryFailed(summary)) this.markFailed();
  }
}
