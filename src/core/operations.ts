import { toMs, type Duration } from './duration.js';
import { ConfigError } from './errors.js';
import type { QuarantineItem } from './ports.js';

/** What `ctx.log` writes to; the engine's `logger` option, console-free by default. */
export interface Logger {
  info(msg: string, data?: Record<string, unknown>): void;
  warn(msg: string, data?: Record<string, unknown>): void;
  error(msg: string, data?: Record<string, unknown>): void;
}

export interface OperationContext {
  op: string;
  uri: string;
  kwargs: Record<string, unknown>;
  /** 1 on the first run, then 2, 3… across retries of the same request. */
  attempt: number;
  jobId: string;
  /** Aborted on timeout or shutdown. */
  signal: AbortSignal;
  log: Logger;
  /** Report progress (0..100 or any number the operation likes). */
  progress(n: number): void;
  /** Throws: run again later with new kwargs. `throw ctx.retry(…)` reads well. */
  retry(opts?: { delay?: Duration; kwargs?: Record<string, unknown> }): never;
  /** Throws: send the request to quarantine with `details`, without further retries. */
  quarantine(details?: unknown): never;
  /** The cached value of `otherUri` if any; otherwise records it as an alias of this request. */
  getOrAddRedirect(otherUri: string): Promise<unknown | undefined>;
}

export interface ResultInfo {
  op: string;
  uri: string;
  jobId: string;
  /** URIs the value was stored under besides `uri` (redirects). */
  aliases: string[];
  /** False when the value came from the cache (another job computed it first). */
  computed: boolean;
  attempt: number;
  /**
   * The same on every delivery of these cbArgs: a worker that died inside `onResult` (or
   * before the job was recorded complete) has them delivered again by the next one, under
   * this id. Make the callback idempotent by it.
   */
  deliveryId: string;
  /** True when these cbArgs were delivered before (the job was taken again after a crash). */
  redelivery: boolean;
}

export type RunFn = (uri: string, ctx: OperationContext) => Promise<unknown> | unknown;

export interface OperationSpec {
  run: RunFn;
  onResult?: (value: any, cbArgs: any[], info: ResultInfo) => Promise<void> | void;
  onQuarantine?: (item: QuarantineItem) => Promise<void> | void;
  /** Fresh lifetime; absent = forever. */
  ttl?: Duration | ((value: any) => Duration | undefined);
  /** How long after ttl a stale entry is served while one refresh runs; absent = until replaced; 0 = a miss. */
  grace?: Duration;
  /** Retries for unexpected errors (default 0). */
  retries?: number;
  backoff?: { type: 'fixed' | 'exponential'; delay: Duration };
  timeout?: Duration;
  concurrency?: number;
  rateLimit?: { max: number; per: Duration };
  /**
   * How often a worker may die while running one job (default 1, as BullMQ's
   * maxStalledCount): past that, the request is quarantined with a `StalledError`.
   */
  maxStalls?: number;
  /**
   * Redis: spread the operation's queue, pending requests, locks and entries over this many
   * hash tags by a hash of the URI (default 1), so one busy operation uses several masters
   * of a Redis Cluster. Other brokers ignore it. Up to 64.
   */
  shards?: number;
}

export type OperationDef = RunFn | OperationSpec;
export type OperationsDef = Record<string, OperationDef>;

/** Identity with types: `export default defineOperations({ … })`. */
export function defineOperations<T extends OperationsDef>(ops: T): T {
  return ops;
}

export interface Operation {
  name: string;
  run: RunFn;
  onResult?: OperationSpec['onResult'];
  onQuarantine?: OperationSpec['onQuarantine'];
  ttlMs: (value: unknown) => number | null;
  graceMs: number | null;
  retries: number;
  backoffMs: (attempt: number) => number;
  timeoutMs: number | null;
  concurrency?: number;
  rateLimit?: { max: number; perMs: number };
  maxStalls: number;
  shards: number;
}

/** Most shards an operation may have (each is a queue, and a BullMQ Worker per worker process). */
export const MAX_SHARDS = 64;

const NAME = /^[A-Za-z0-9_.-]+$/;

export function normalizeOperations(def: OperationsDef): Map<string, Operation> {
  if (!def || typeof def !== 'object') throw new ConfigError('operations must be an object of name → function or { run }');
  const out = new Map<string, Operation>();
  for (const [name, d] of Object.entries(def)) {
    if (!NAME.test(name)) throw new ConfigError(`operation name "${name}" may only contain letters, digits and _ . -`);
    const spec: OperationSpec = typeof d === 'function' ? { run: d } : d;
    if (!spec || typeof spec.run !== 'function') throw new ConfigError(`operation "${name}" must be a function or an object with a run function`);
    const what = (k: string) => `operation "${name}" ${k}`;
    const ttl = spec.ttl;
    const fixedTtl = typeof ttl === 'function' || ttl === undefined ? undefined : toMs(ttl, what('ttl'));
    const backoffDelay = spec.backoff ? toMs(spec.backoff.delay, what('backoff.delay')) : 1000;
    const exponential = spec.backoff?.type === 'exponential';
    const retries = spec.retries ?? 0;
    if (!Number.isInteger(retries) || retries < 0) throw new ConfigError(`${what('retries')} must be a non-negative integer`);
    if (spec.concurrency !== undefined && (!Number.isInteger(spec.concurrency) || spec.concurrency < 1)) throw new ConfigError(`${what('concurrency')} must be a positive integer`);
    const maxStalls = spec.maxStalls ?? 1;
    if (!Number.isInteger(maxStalls) || maxStalls < 0) throw new ConfigError(`${what('maxStalls')} must be a non-negative integer`);
    const shards = spec.shards ?? 1;
    if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS) throw new ConfigError(`${what('shards')} must be an integer from 1 to ${MAX_SHARDS}, got ${String(spec.shards)}`);
    out.set(name, {
      name,
      run: spec.run,
      onResult: spec.onResult,
      onQuarantine: spec.onQuarantine,
      ttlMs:
        typeof ttl === 'function'
          ? (v) => {
              const r = (ttl as (v: unknown) => Duration | undefined)(v);
              return r === undefined ? null : toMs(r, what('ttl'));
            }
          : () => fixedTtl ?? null,
      graceMs: spec.grace === undefined ? null : toMs(spec.grace, what('grace')),
      retries,
      backoffMs: (attempt) => (exponential ? backoffDelay * 2 ** Math.max(0, attempt - 1) : backoffDelay),
      timeoutMs: spec.timeout === undefined ? null : toMs(spec.timeout, what('timeout')),
      concurrency: spec.concurrency,
      rateLimit: spec.rateLimit ? { max: spec.rateLimit.max, perMs: toMs(spec.rateLimit.per, what('rateLimit.per')) } : undefined,
      maxStalls,
      shards,
    });
  }
  return out;
}
