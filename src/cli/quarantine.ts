/**
 * Flags → quarantine selector for `quarantine replay|purge|list`, with the CLI's rules:
 * say which items (IDs, --op, --match, --since, or --all), and --all needs --yes.
 */
import { ConfigError } from '../core/errors.js';
import type { QuarantineSelector } from '../core/quarantine-api.js';
import { sinceMs } from '../core/quarantine-api.js';

export interface SelectorFlags {
  op?: string;
  match?: string;
  since?: string;
  all?: boolean;
  yes?: boolean;
  'dry-run'?: boolean;
}

export function quarantineSelector(ids: string[], f: SelectorFlags, verb: string): QuarantineSelector {
  const filters = f.op !== undefined || f.match !== undefined || f.since !== undefined;
  if (ids.length && (filters || f.all)) throw new ConfigError(`give item IDs or filters (--op, --match, --since, --all), not both`);
  if (!ids.length && !filters && !f.all) {
    throw new ConfigError(`say which quarantine items to ${verb}: IDs, --op, --match, --since, or --all`, { hint: `see backache quarantine ${verb} --help` });
  }
  if (f.all && !filters && !f.yes && !f['dry-run']) throw new ConfigError(`--all ${verb}s every quarantine item: add --yes to confirm (or --dry-run to see them first)`);
  const sel: QuarantineSelector = {};
  if (ids.length) sel.ids = ids;
  if (f.op !== undefined) sel.op = f.op;
  if (f.match !== undefined) sel.match = f.match;
  if (f.since !== undefined) sel.since = sinceArg(f.since);
  if (f.all) sel.all = true;
  return sel;
}

/** `--since 1h` (a duration ago) or an ISO date; checked now so a typo is a usage error. */
export function sinceArg(since: string): number {
  try {
    return sinceMs(since)!;
  } catch {
    throw new ConfigError(`--since "${since}" is neither a duration (30m, 1h, 2d) nor a date (2024-05-01T12:00:00Z)`);
  }
}
