import { Flags } from '@oclif/core';
import { fileArg, requestFlags } from '../cli/request-flags.js';
import { BaseCommand, env } from './base.js';

export default class Submit extends BaseCommand<typeof Submit> {
  static override summary = 'Submit requests from a file or stdin: hits come back at once, misses go to the workers.';
  static override description = `Reads one URI a line (with --op), or JSON lines {"op","uri","cbArgs","kwargs"}, streaming and in batches, so any input length runs in flat memory. Blank lines are skipped and whitespace trimmed; a bad line is reported with its number on stderr and the other lines are still submitted (exit 1 at the end).
Prints a summary on stderr (hits, delegated, coalesced, errors) and a progress line on a terminal. With --wait, prints one JSON line per request on stdout as results come back: {"op","uri","status","value"|"error"} with status hit, stale, computed or quarantined.
The operation may be one a worker registered (see backache ops): no operations module is needed then; one known to neither is refused with the known ones (exit 2).`;
  static override examples = [
    { description: 'Submit a file of URIs for one operation', command: '<%= config.bin %> submit urls.txt --op title -o operations.ts' },
    { description: 'From stdin, with callback arguments for every request', command: `cat urls.txt | <%= config.bin %> submit --op title -o operations.ts --cb-args '{"notify":"team-a"}'` },
    {
      description: 'JSON lines naming their own operation; a variant (a width, a language) goes in the operation or the URI, since kwargs are not part of the cache key',
      command: `echo '{"op":"thumbnail","uri":"https://example.com/a.png?w=200"}' | <%= config.bin %> submit -o operations.ts`,
    },
    { description: 'Wait for the results (a worker must be running: backache work -o operations.ts)', command: '<%= config.bin %> submit urls.txt --op title -o operations.ts --wait > results.jsonl' },
  ];
  static override enableJsonFlag = true;
  static override args = { file: fileArg };
  static override flags = {
    ...requestFlags,
    wait: Flags.boolean({ summary: 'Wait for every result and print it as a JSON line on stdout.', env: env('wait') }),
    timeout: Flags.string({ summary: 'With --wait: give up on a request after this long (e.g. 30s, 5m); default: wait as long as it takes.', env: env('timeout') }),
  };

  async run() {
    const [{ parseJsonFlag }, { openInput }, { submitStream, summaryText, summaryFailed }, { toMs }] = await Promise.all([
      import('../cli/operations.js'),
      import('../cli/input.js'),
      import('../cli/submit.js'),
      import('../core/duration.js'),
    ]);
    const f = this.flags;
    const cbArgs = parseJsonFlag('cb-args', f['cb-args']);
    const kwargs = parseJsonFlag('kwargs', f.kwargs, { object: true });
    const timeoutMs = f.timeout === undefined ? undefined : toMs(f.timeout, '--timeout');
    const app = await this.openProducer(f.op);
    const input = await openInput(this.args.file);
    if (input === process.stdin && process.stdin.isTTY) this.diag('reading URIs from the terminal, one a line (Ctrl-D to end)…');
    const started = Date.now();
    const summary = await submitStream(
      { app, out: process.stdout, status: this.status, diag: (l) => this.diag(l) },
      { input, op: f.op, cbArgs, kwargs, wait: !!f.wait, waitTimeoutMs: timeoutMs, batchSize: f['batch-size'], label: 'submit' },
    );
    this.status.stop();
    if (!f.quiet && !this.jsonEnabled()) this.diag(summaryText('submit', summary, f.wait, Date.now() - started));
    if (summaryFailed(summary)) this.markFailed();
    return summary;
  }
}
