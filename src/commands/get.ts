import { Args, Flags } from '@oclif/core';
import { BaseCommand, env } from './base.js';

export default class Get extends BaseCommand<typeof Get> {
  static override summary = 'Read cached results, without computing anything.';
  static override description = `Prints one JSON line per URI: {"op","uri","status","value"} with status hit, stale (served while a refresh is due) or miss (no value).
Exit 0 when every URI has a value, 1 when some are missing.`;
  static override examples = [
    '<%= config.bin %> get --op stats file:examples/data/a.txt',
    '<%= config.bin %> get --op title https://example.com/ https://example.org/ --json',
  ];
  static override enableJsonFlag = true;
  static override strict = false;
  static override args = {
    uri: Args.string({ ignoreStdin: true, required: true, description: 'One or more URIs.' }),
  };
  static override flags = {
    op: Flags.string({ required: true, summary: 'Operation whose results to read.', env: env('op') }),
  };

  async run() {
    const { writeLine } = await import('../cli/output.js');
    const app = await this.openProducer(this.flags.op, { cached: true });
    const uris = this.positional;
    const entries = await app.getMany(this.flags.op, uris);
    const rows = uris.map((uri, i) => {
      const e = entries[i];
      return e ? { op: this.flags.op, uri, status: e.stale ? 'stale' : 'hit', value: e.value } : { op: this.flags.op, uri, status: 'miss' };
    });
    if (!this.jsonEnabled()) for (const r of rows) await writeLine(process.stdout, JSON.stringify(r));
    if (rows.some((r) => r.status === 'miss')) this.markFailed();
    return rows;
  }
}
