/**
 * The one place where errors become exit codes and stderr text (DESIGN.md §4):
 * 0 success, 1 some items failed, 2 usage or configuration, 3 a backend cannot be reached.
 * One line `backache: <message>` (plus a hint line), passwords in URLs masked, the stack
 * only with --verbose.
 */
import { maskText } from '../core/url.js';
import { usageMessage } from './usage-errors.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, unavailable: 3 } as const;

interface OclifLike {
  oclif?: { exit?: number };
  code?: string;
  exitCode?: number;
  hint?: string;
  parse?: unknown;
}

export interface Described {
  exitCode: number;
  /** The error line(s) for stderr, ending with a newline; '' for a silent exit. */
  text: string;
  /** For --json: `{ error: { code, message, exitCode, hint? } }`. */
  json: { error: { code: string; message: string; exitCode: number; hint?: string } };
}

const isBackacheError = (e: unknown): e is Error & { exitCode: number; code: string; hint?: string } =>
  e instanceof Error && typeof (e as OclifLike).exitCode === 'number' && typeof (e as OclifLike).code === 'string' && (e as OclifLike).code!.startsWith('E_');

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN']);

/** Errors of a driver whose server is gone (ioredis, mongodb, net). */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  return /^(Connection is closed|Stream isn't writeable|Reached the max retries per request limit)|MongoNetworkError|MongoServerSelectionError/.test(`${err.message} ${err.name}`);
}

export function describeError(err: unknown, o: { verbose?: boolean; bin?: string; command?: string } = {}): Described {
  const bin = o.bin ?? 'backache';
  const e = err as Error & OclifLike;
  // oclif's this.exit(n): a silent exit with that code.
  if (e?.code === 'EEXIT') {
    const exitCode = e.oclif?.exit ?? 0;
    return { exitCode, text: '', json: { error: { code: 'EEXIT', message: 'exit', exitCode } } };
  }
  let exitCode: number = EXIT.failed;
  let code = 'E_UNEXPECTED';
  let hint: string | undefined;
  let usage: string | undefined;
  if (isBackacheError(err)) {
    exitCode = err.exitCode;
    code = err.code;
    hint = err.hint;
  } else if (isConnectionError(err)) {
    // A driver error that escaped the backend's own wrapping: the backend went away mid-command.
    exitCode = EXIT.unavailable;
    code = 'E_BACKEND_UNAVAILABLE';
    hint = 'check that the broker and cache are up (backache doctor)';
  } else if (e && typeof e === 'object' && e.oclif && typeof e.oclif.exit === 'number') {
    // Flag and argument parse errors, this.error(...): usage errors.
    exitCode = e.oclif.exit === 1 || e.oclif.exit === 0 ? EXIT.usage : e.oclif.exit;
    code = 'E_USAGE';
    hint = `see ${bin}${o.command ? ` ${o.command}` : ''} --help`;
    usage = usageMessage(err);
  }
  const raw = err instanceof Error ? err.message : String(err);
  // oclif messages can span lines ("…\nSee more help with --help"): keep the first real one.
  const message = maskText(
    usage ??
      (raw
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !/^See more help with/i.test(l))
        .join('; ') ||
        (err instanceof Error ? err.name : 'error')),
  );
  let text = `${bin}: ${message}\n`;
  if (hint) text += `  hint: ${maskText(hint)}\n`;
  if (o.verbose && err instanceof Error && err.stack) {
    text += `${maskText(err.stack)}\n`;
    let cause = (err as { cause?: unknown }).cause;
    while (cause instanceof Error) {
      text += `caused by: ${maskText(cause.stack ?? cause.message)}\n`;
      cause = (cause as { cause?: unknown }).cause;
    }
  }
  return { exitCode, text, json: { error: { code, message, exitCode, ...(hint ? { hint: maskText(hint) } : {}) } } };
}
