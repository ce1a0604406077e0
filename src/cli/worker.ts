/**
 * Worker-side helpers of `work` and `run`: override operations' concurrency, the
 * `--debug` wrapper (one job at a time across every operation, each failure reported in
 * full), and waiting for SIGINT/SIGTERM.
 */
import { QuarantineSignal, RetrySignal } from '../core/errors.js';
import type { OperationSpec, OperationsDef } from '../core/operations.js';
import { safe, stackLines } from './output.js';

const specOf = (d: OperationsDef[string]): OperationSpec => (typeof d === 'function' ? { run: d } : d);

/** The same operations with `concurrency` forced to `n` (unchanged when `n` is undefined). */
export function withConcurrency(ops: OperationsDef, n: number | undefined): OperationsDef {
  if (n === undefined) return ops;
  return Object.fromEntries(Object.entries(ops).map(([name, d]) => [name, { ...specOf(d), concurrency: n }]));
}

export interface Failure {
  op: string;
  uri: string;
  jobId: string;
  attempt: number;
  kwargs: Record<string, unknown>;
  error: unknown;
}

/**
 * `work --debug`: every operation runs one job at a time (one mutex across all of them)
 * and reports any exception it throws, except a `ctx.retry()`, before the engine handles it.
 */
export function debugOperations(ops: OperationsDef, onFailure: (f: Failure) => void): OperationsDef {
  let chain: Promise<void> = Promise.resolve();
  const exclusive = async <T>(fn: () => Promise<T>): Promise<T> => {
    const prev = chain;
    let release!: () => void;
    chain = new Promise<void>((r) => (release = r));
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  };
  return Object.fromEntries(
    Object.entries(ops).map(([name, d]) => {
      const spec = specOf(d);
      const run: OperationSpec['run'] = (uri, ctx) =>
        exclusive(async () => {
          try {
            return await spec.run(uri, ctx);
          } catch (e) {
            if (!(e instanceof RetrySignal)) onFailure({ op: name, uri, jobId: ctx.jobId, attempt: ctx.attempt, kwargs: ctx.kwargs, error: e });
            throw e;
          }
        });
      return [name, { ...spec, run, concurrency: 1 }];
    }),
  );
}

/**
 * A failure in full, for `work --debug`: what, where, the kwargs, and the stack. Lines
 * joined by newlines, each escaped (safe to print line by line).
 */
export function formatFailure(f: Failure): string {
  const e = f.error;
  const head = `✗ ${f.op} failed for ${f.uri} (job ${f.jobId}, attempt ${f.attempt})`;
  const lines = [head, `  kwargs: ${JSON.stringify(f.kwargs)}`];
  if (e instanceof QuarantineSignal) lines.push(`  quarantined by the operation${e.details === undefined ? '' : `: ${JSON.stringify(e.details)}`}`);
  else if (!(e instanceof Error)) lines.push(`  thrown: ${JSON.stringify(e) ?? String(e)}`);
  return [...lines.map(safe), ...(e instanceof Error && !(e instanceof QuarantineSignal) ? stackLines(e) : [])].join('\n');
}

/**
 * Resolves with the signal name on the first SIGINT or SIGTERM (or when `stop` is called).
 * A second signal while stopping exits at once with 130.
 */
export function untilStopped(onSecond: () => void = () => process.exit(130)) {
  let resolve!: (why: string) => void;
  const done = new Promise<string>((r) => (resolve = r));
  let stopping = false;
  const handler = (sig: NodeJS.Signals) => {
    if (stopping) return onSecond();
    stopping = true;
    resolve(sig);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    done,
    stop: (why: string) => {
      stopping = true;
      resolve(why);
    },
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
