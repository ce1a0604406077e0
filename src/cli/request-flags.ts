import { Args, Flags } from '@oclif/core';
import { env } from '../commands/base.js';

/** The input argument and flags shared by `run` and `submit`, which read requests alike. */
export const fileArg = Args.string({ ignoreStdin: true, description: 'File of URIs or JSON lines (default: stdin; "-" for stdin).' });

export const requestFlags = {
  op: Flags.string({ summary: 'Operation of plain URI lines (and default "op" of JSON lines).', env: env('op') }),
  'cb-args': Flags.string({ summary: 'Callback arguments (JSON) of every request; a JSON line\'s own "cbArgs" wins.', env: env('cb-args') }),
  kwargs: Flags.string({ summary: 'Keyword arguments (a JSON object) of every request; merged under a JSON line\'s own "kwargs".', env: env('kwargs') }),
  'batch-size': Flags.integer({ summary: 'Requests per round trip.', default: 1000, min: 1, max: 100_000, env: env('batch-size') }),
  quiet: Flags.boolean({ char: 'q', summary: 'No summary on stderr.', env: env('quiet') }),
};
