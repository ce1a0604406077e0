/**
 * oclif's parser errors in backache's words: one line, naming the flag or argument, without
 * oclif's framing ("The following error occurred:", "See more help with --help"). The exit
 * code and the `hint: see backache CMD --help` line come from describeError (errors.ts).
 */
import { nearest } from './suggest.js';

interface ParseErrorLike extends Error {
  /** RequiredArgsError: the argument definitions; UnexpectedArgsError: the extra values. */
  args?: unknown[];
  /** NonExistentFlagsError: the flags as typed (`--bogus`). */
  flags?: string[];
  parse?: { input?: { flags?: Record<string, { char?: string }> } };
}

// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');
const lowerFirst = (s: string) => (/^[A-Z][a-z]/.test(s) ? s[0]!.toLowerCase() + s.slice(1) : s);

/** One validation reason of oclif's, with flags written as the user types them. */
function reason(r: string): string {
  const m = /^Missing required flag (\S+)$/.exec(r);
  if (m) return `missing required flag --${m[1]}`;
  return lowerFirst(r.replace(/(^|\s)--?([a-z][\w-]*)=true\b/g, '$1--$2'));
}

/** The message of a usage error raised by oclif's parser, or undefined for any other error. */
export function usageMessage(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const e = err as ParseErrorLike;
  const lines = stripAnsi(e.message)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^See more help with/i.test(l));
  const first = lines[0] ?? '';
  switch (e.constructor?.name) {
    case 'RequiredArgsError': {
      const args = (e.args ?? []) as { name?: string; description?: string }[];
      const named = args.filter((a) => a.name);
      if (!named.length) break;
      return `missing ${named.map((a) => `${a.name!.toUpperCase()}${a.description ? ` (${a.description.replace(/\.$/, '')})` : ''}`).join(', ')}`;
    }
    case 'UnexpectedArgsError':
      return `unexpected argument${(e.args?.length ?? 0) === 1 ? '' : 's'}: ${(e.args ?? []).join(' ')}`;
    case 'NonExistentFlagsError': {
      const known = Object.keys(e.parse?.input?.flags ?? {}).map((f) => `--${f}`);
      return (e.flags ?? [])
        .map((f) => {
          const name = f.replace(/=.*$/, '');
          const near = name.startsWith('--') ? nearest(name, known) : undefined;
          return `unknown flag ${name}${near ? ` (did you mean ${near}?)` : ''}`;
        })
        .join('; ');
    }
  }
  if (/^The following errors? occurred:$/.test(first)) return lines.slice(1).map(reason).join('; ');
  // A flag's value that did not parse: "Parsing --concurrency \n\tExpected an integer …".
  const parsing = /^Parsing (--\S+)$/.exec(first);
  if (parsing) return `${parsing[1]}: ${lines.slice(1).map(lowerFirst).join('; ')}`;
  const nonexistent = /^Nonexistent flags?: (.+)$/.exec(first);
  if (nonexistent) return nonexistent[1]!.split(', ').map((f) => `unknown flag ${f}`).join('; ');
  const expects = /^Flag (--\S+) expects a value$/.exec(first);
  if (expects) return `${expects[1]} needs a value`;
  if (e.parse !== undefined || /^(Nonexistent|Unexpected|Missing|Expected) /.test(first)) return lines.map(lowerFirst).join('; ');
  return undefined;
}
