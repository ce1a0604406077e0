import { Flags } from '@oclif/core';
import { env } from '../commands/base.js';

/** The flags that select quarantine items, shared by `quarantine replay` and `quarantine purge`. */
export const selectorFlags = (verb: string) => ({
  op: Flags.string({ summary: 'Items of this operation.', env: env('op') }),
  match: Flags.string({ summary: 'Items whose URI matches this glob.', env: env('match') }),
  since: Flags.string({ summary: 'Items that failed since: a duration ago (30m, 1h) or a date.', env: env('since') }),
  all: Flags.boolean({ summary: 'Every item. Needs --yes.', env: env('all') }),
  yes: Flags.boolean({ char: 'y', summary: 'Confirm --all.', env: env('yes') }),
  'dry-run': Flags.boolean({ summary: `List what would be ${verb}; change nothing.`, env: env('dry-run') }),
});
