/**
 * Errors with codes and one-line hints. The CLI maps `exitCode` to the process exit
 * status in one place; core never exits or prints.
 */
export class BackacheError extends Error {
  static code = 'E_BACKACHE';
  readonly code: string;
  /** 1 items failed, 2 usage/configuration, 3 backend unreachable. */
  readonly exitCode: number = 1;
  readonly hint?: string;
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = (new.target as typeof BackacheError).code;
    this.hint = opts.hint;
  }
}

/** Bad flags, bad config, bad input values: exit 2. */
export class ConfigError extends BackacheError {
  static override code = 'E_CONFIG';
  override readonly exitCode = 2;
}

export class UnknownOperationError extends BackacheError {
  static override code = 'E_UNKNOWN_OPERATION';
  override readonly exitCode = 2;
  constructor(op: string, known: string[], opts: { hint?: string } = {}) {
    super(`unknown operation "${op}"; known operations: ${known.length ? known.join(', ') : '(none)'}`, opts);
  }
}

export class OperationsModuleError extends BackacheError {
  static override code = 'E_OPERATIONS_MODULE';
  override readonly exitCode = 2;
}

/** A read-only open (`create: false`) of a store that does not exist, e.g. a mistyped SQLite path: exit 2. */
export class NoStoreError extends BackacheError {
  static override code = 'E_NO_STORE';
  override readonly exitCode = 2;
}

/** A backend cannot be reached: exit 3. The message names the (masked) URL. */
export class BackendUnavailableError extends BackacheError {
  static override code = 'E_BACKEND_UNAVAILABLE';
  override readonly exitCode = 3;
}

export class TimeoutError extends BackacheError {
  static override code = 'E_TIMEOUT';
}

/** `waitFor` of a request that ended in quarantine. */
export class QuarantinedError extends BackacheError {
  static override code = 'E_QUARANTINED';
  constructor(
    message: string,
    readonly quarantineId: string,
  ) {
    super(message);
  }
}

export class NotSerializableError extends BackacheError {
  static override code = 'E_NOT_SERIALIZABLE';
}

/** A job whose worker died while running it more often than the operation's `maxStalls`. */
export class StalledError extends BackacheError {
  static override code = 'E_STALLED';
}

/**
 * A waiting or delayed job removed by `backache queue drain` (Backache.drain): its requests
 * are in quarantine under this error, so `quarantine replay` brings them back.
 */
export class DrainedError extends BackacheError {
  static override code = 'E_DRAINED';
}

/** Job data that is not a backache request (another program wrote to the queue). */
export class UnreadableJobError extends BackacheError {
  static override code = 'E_UNREADABLE_JOB';
}

/** A URI (or key) that is not well-formed UTF-16: two such strings could share one stored key. */
export function checkWellFormed(s: string, what = 'uri'): string | undefined {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed()
    ? undefined
    : `${what} is not well-formed Unicode (it holds a lone surrogate, e.g. from slicing an emoji); fix the string or escape it (encodeURIComponent)`;
}

/** The string with lone surrogates replaced by U+FFFD (for showing, never for keys). */
export const toWellFormed = (s: string): string => (s as unknown as { toWellFormed(): string }).toWellFormed();

/** Thrown by `ctx.retry()`: the job runs again later. */
export class RetrySignal extends Error {
  constructor(
    readonly delayMs: number,
    readonly kwargs?: Record<string, unknown>,
  ) {
    super('retry requested');
    this.name = 'RetrySignal';
  }
}

/** Thrown by `ctx.quarantine()`: the request goes to quarantine without further retries. */
export class QuarantineSignal extends Error {
  constructor(readonly details?: unknown) {
    super('quarantined by the operation');
    this.name = 'QuarantineSignal';
  }
}

export const serializeError = (e: unknown) => {
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
  return { name: 'Error', message: String(e) };
};
