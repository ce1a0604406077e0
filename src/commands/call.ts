import { Args, Flags } from '@oclif/core';
import { BaseCommand, env } from './base.js';

export default class Call extends BaseCommand<typeof Call> {
  static override summary = 'Get one result, computing it if needed, and wait for it (the bus-style remote call).';
  static override description = `A hit comes back at once; a miss is delegated to the workers (or computed in this process with --inline) and waited for. Prints the value as JSON on stdout; --json prints {"op","uri","status","value"}.
Exit 1 when the request ends in quarantine or does not complete within --timeout.
The operation may be one a worker registered (see backache ops): no operations module is needed then; one known to neither is refused with the known ones (exit 2).`;
  static override examples = [
    { description: 'Compute a miss in this process, no worker needed', command: '<%= config.bin %> call --op checksum file:examples/data/a.txt -o examples/operations.ts --inline' },
    { description: 'Wait up to 10 s for a worker (backache work -o operations.ts)', command: '<%= config.bin %> call --op title https://example.com/ -o operations.ts --timeout 10s' },
  ];
  static override enableJsonFlag = true;
  static override args = {
    uri: Args.string({ ignoreStdin: true, required: true, description: 'The URI.' }),
  };
  static override flags = {
    op: Flags.string({ required: true, summary: 'Operation to call.', env: env('op') }),
    kwargs: Flags.string({ summary: 'Keyword arguments (a JSON object).', env: env('kwargs') }),
    'cb-args': Flags.string({ summary: 'Callback arguments (JSON) for the operation\'s onResult.', env: env('cb-args') }),
    timeout: Flags.string({ summary: 'How long to wait for a worker.', default: '60s', env: env('timeout') }),
    inline: Flags.boolean({ summary: 'Compute a miss in this process (still under the lock, still coalescing with other clients).', env: env('inline') }),
  };

  async run() {
    const [{ parseJsonFlag }, { toMs }, errors, { toJson }] = await Promise.all([
      import('../cli/operations.js'),
      import('../core/duration.js'),
      import('../core/errors.js'),
      import('../cli/output.js'),
    ]);
    const f = this.flags;
    const kwargs = parseJsonFlag('kwargs', f.kwargs, { object: true });
    const cbArgs = parseJsonFlag('cb-args', f['cb-args']);
    const timeout = toMs(f.timeout, '--timeout');
    const op = f.op;
    const uri = this.args.uri;
    const app = await this.openProducer(op);
    if (f.inline && !app.operationNames().includes(op)) {
      throw new errors.ConfigError(`--inline computes ${op} in this process: it needs the operations module that defines it`, { hint: 'pass --operations FILE (-o), or drop --inline to let the workers compute it' });
    }
    const r = await app.bulkGetOrDelegate([{ op, uri, kwargs, cbArgs }], { inline: f.inline });
    let result: { op: string; uri: string; status: 'hit' | 'stale' | 'computed'; value: unknown };
    if (r.errors.length) throw new errors.BackacheError(`${op} ${uri} failed: ${r.errors[0]!.error}`, { hint: `backache quarantine list --op ${op}` });
    if (r.hits.length) result = { op, uri, status: r.hits[0]!.stale ? 'stale' : 'hit', value: r.hits[0]!.value };
    else {
      try {
        const done = await app.waitFor(r.delegated[0]!.jobId, { timeout });
        result = { op, uri, status: 'computed', value: done.value };
      } catch (e) {
        if (e instanceof errors.QuarantinedError) {
          const { quarantineReason } = await import('../cli/submit.js');
          throw new errors.BackacheError(`${op} ${uri} was quarantined: ${await quarantineReason(app, e.message, e.quarantineId)}`, { hint: `backache quarantine show ${e.quarantineId}` });
        }
        if (e instanceof errors.TimeoutError) {
          const alive = (await app.workers()).filter((w) => w.ops.includes(op));
          throw new errors.BackacheError(`${op} ${uri}: no result within ${f.timeout}`, {
            hint: alive.length ? `${alive.length} worker(s) serve ${op}; they may be busy (backache stats)` : `no worker serves ${op}: start one (backache work) or pass --inline`,
          });
        }
        throw e;
      }
    }
    if (!this.jsonEnabled()) this.log(toJson(result.value, !!process.stdout.isTTY));
    return result;
  }
}
