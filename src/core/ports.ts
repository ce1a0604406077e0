/**
 * The storage ports (DESIGN.md §2). Every piece of state sits behind one of these
 * interfaces; backends under `src/core/backends/<name>/` implement them and pass the
 * shared conformance suites in `test/conformance/`.
 *
 * Keys are always `{ ns, id }`: `ns` is an operation name (or a region namespace) and
 * `id` is the raw URI or region key. Backends never paste `id` into a Redis key or a
 * MongoDB query unescaped: they hash it, and keep the raw id as data for prefix scans.
 * All times are epoch milliseconds.
 */

export interface Key {
  ns: string;
  id: string;
}

/** A cached entry as stored. `value` is JSON data, never code. */
export interface StoredEntry {
  value: unknown;
  /** When the value was computed. */
  createdAt: number;
  /** End of the fresh lifetime; `null` = fresh forever. */
  expiresAt: number | null;
  /**
   * End of the grace period: after it the entry is gone (a miss). `null` = kept until
   * replaced. Backends may delete an entry once `staleUntil` has passed.
   */
  staleUntil: number | null;
  /** The final URI this value was computed for (differs from the key for aliases). */
  uri?: string;
}

export interface CacheStore {
  readonly kind: string;
  /** One round trip for the whole batch; entries past `staleUntil` come back undefined. */
  getMany(keys: Key[]): Promise<(StoredEntry | undefined)[]>;
  setMany(items: { key: Key; entry: StoredEntry }[]): Promise<void>;
  /** Returns how many existed. */
  deleteMany(keys: Key[]): Promise<number>;
  /**
   * Soft invalidation: mark entries stale at `now` (expiresAt = min(expiresAt, now)),
   * keeping their values so they are still served while one refresh runs. Returns how
   * many existed.
   */
  markStale(keys: Key[], now: number): Promise<number>;
  /**
   * Ids in `ns` starting with `prefix` (all of them with ''), in ascending order, through
   * an index (never a scan of every key of every namespace).
   */
  scan(ns: string, prefix: string, opts?: { batchSize?: number }): AsyncIterable<string>;
  /** Namespaces that hold at least one entry (for stats and cleanup). */
  namespaces(): Promise<string[]>;
  /** Entry count for one namespace (O(1) or one indexed count). */
  count(ns: string): Promise<number>;
  /** Remove every entry of this deployment (everything under the prefix). */
  clear(): Promise<void>;
  close(): Promise<void>;
}

export interface Locker {
  /** Try once; returns a token when acquired, `null` when someone else holds it. */
  acquire(key: Key, ttlMs: number): Promise<string | null>;
  /** Extend a held lock; false when it is no longer ours (expired and taken). */
  extend(key: Key, token: string, ttlMs: number): Promise<boolean>;
  /** Release a held lock; false when it was no longer ours. */
  release(key: Key, token: string): Promise<boolean>;
  /** Whether anyone holds the lock now. */
  isLocked(key: Key): Promise<boolean>;
  close(): Promise<void>;
}

export interface PendingAdd {
  key: Key;
  /** Callback arguments of this request (any JSON, may be undefined). */
  cbArgs: unknown;
  /** The job id to record when this request is the first for the pair. */
  jobId: string;
}

export interface PendingAddResult {
  /** True when no request was pending for the pair: the caller must enqueue `jobId`. */
  first: boolean;
  /** The job id the pending requests belong to (the proposed one when `first`). */
  jobId: string;
}

export interface PendingSet {
  /**
   * Atomically add each request's cbArgs to its pair's pending set. Duplicates of one
   * pair inside the batch coalesce: only the first of them can be `first`. One round trip.
   */
  addMany(items: PendingAdd[]): Promise<PendingAddResult[]>;
  /** Atomically take (remove and return) every pending cbArgs of the pair, in order. */
  takeAll(key: Key): Promise<unknown[]>;
  /** The pending job id of a pair, if any. */
  jobIdOf(key: Key): Promise<string | undefined>;
  /** Number of pairs with pending requests in `ns`. */
  count(ns: string): Promise<number>;
  clear(): Promise<void>;
  close(): Promise<void>;
}

/** What a job carries. */
export interface JobData {
  op: string;
  uri: string;
  kwargs: Record<string, unknown>;
  /** A refresh of a stale entry (recompute even though an entry exists). */
  refresh?: boolean;
  /** Set when the job replays a quarantine item, so a new failure updates that item. */
  replayOf?: { id: string; attempts: number; firstFailedAt: number };
}

export interface NewJob {
  id: string;
  data: JobData;
  priority?: number;
  delayMs?: number;
}

export interface ClaimedJob {
  id: string;
  data: JobData;
  /** 1 on the first run, incremented on every retry (ctx.retry or policy retry). */
  attempt: number;
  /** When the job was first added. */
  createdAt: number;
  /**
   * ConsumeSteps.begin, already done by the queue in the call that took the job (asked
   * for with ConsumerOptions.begin): the fresh entry, or the pair's lock. Absent when the
   * queue could not, or when someone else holds the lock (the engine then begins itself).
   */
  begun?: { entry: StoredEntry } | { token: string };
}

/** What the engine tells the queue once a job's handler has finished. */
export type JobOutcome =
  | { type: 'completed'; result: JobResult }
  | { type: 'retry'; delayMs: number; kwargs?: Record<string, unknown> }
  | { type: 'quarantined'; quarantineId: string; error: SerializedError };

export interface JobResult {
  value: unknown;
  cbArgs: unknown[];
}

export type JobState =
  | { state: 'waiting' | 'active' | 'delayed' }
  | { state: 'completed'; result: JobResult }
  | { state: 'quarantined'; quarantineId: string; error: SerializedError }
  | { state: 'unknown' };

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  paused: boolean;
}

export interface ConsumerOptions {
  ops: string[];
  /** Parallel jobs per operation. */
  concurrency: (op: string) => number;
  /** Optional rate limit per operation. */
  rateLimit?: (op: string) => { max: number; perMs: number } | undefined;
  /** How long a claimed job stays ours without renewal (the lease). */
  leaseMs?: number;
  /**
   * Also do ConsumeSteps.begin (lock ttl `lockMs`) for each job in the call that takes it,
   * where the queue can (Redis: one round trip less per job). Only asked for when the
   * backend's steps serve exactly its cache, locks and pending set.
   */
  begin?: { lockMs: number };
  /**
   * Runs one job. Never throws: every failure is turned into an outcome by the engine.
   * `signal` is aborted when the consumer stops hard or the lease is lost.
   */
  handler: (job: ClaimedJob, signal: AbortSignal) => Promise<JobOutcome>;
}

export interface Consumer {
  /** Stop claiming; wait for running jobs up to `timeoutMs`, then abort them. */
  stop(timeoutMs?: number): Promise<void>;
  /** Jobs finished by this consumer. */
  readonly processed: number;
}

export interface JobQueue {
  readonly kind: string;
  /** Enqueue a batch (one round trip). Adding an id that exists is a no-op. */
  addMany(jobs: NewJob[]): Promise<void>;
  consume(opts: ConsumerOptions): Consumer;
  getState(id: string): Promise<JobState>;
  /** Cheap per operation: O(1) (Redis) or one indexed count (SQLite); never a scan of every job. */
  counts(op: string): Promise<QueueCounts>;
  pause(op: string): Promise<void>;
  resume(op: string): Promise<void>;
  /** Recent jobs of an operation for the dashboard's detail view, newest first. */
  recent?(op: string, limit: number): Promise<{ id: string; uri: string; state: string; at: number }[]>;
  clear(): Promise<void>;
  close(): Promise<void>;
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

export interface QuarantineItem {
  id: string;
  op: string;
  uri: string;
  cbArgs: unknown[];
  kwargs: Record<string, unknown>;
  error: SerializedError;
  details?: unknown;
  attempts: number;
  firstFailedAt: number;
  lastFailedAt: number;
  worker?: string;
}

export interface QuarantineQuery {
  op?: string;
  /** Only items whose uri starts with this (indexed where the backend can). */
  uriPrefix?: string;
  /** lastFailedAt >= since. */
  since?: number;
  limit?: number;
  /** Opaque cursor returned by a previous page. */
  cursor?: string;
}

export interface QuarantineStore {
  /** Insert or replace by id. */
  put(item: QuarantineItem): Promise<void>;
  get(id: string): Promise<QuarantineItem | undefined>;
  /** Newest first (by lastFailedAt, then id). */
  list(q: QuarantineQuery): Promise<{ items: QuarantineItem[]; cursor?: string }>;
  deleteMany(ids: string[]): Promise<number>;
  /** Items per operation, O(operations). */
  countByOp(): Promise<Record<string, number>>;
  clear(): Promise<void>;
  close(): Promise<void>;
}

export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  ops: string[];
  concurrency: number;
  startedAt: number;
  lastSeen: number;
  processed: number;
}

/** Cumulative counters per operation. */
export interface OpCounters {
  hits: number;
  misses: number;
  stale: number;
  coalesced: number;
  completed: number;
  failed: number;
  retried: number;
}

export type CounterName = keyof OpCounters;

export interface Registry {
  /** Register or refresh a worker; it is alive until `lastSeen + ttlMs`. */
  heartbeat(worker: WorkerInfo, ttlMs: number): Promise<void>;
  remove(workerId: string): Promise<void>;
  /** Workers alive now. */
  workers(): Promise<WorkerInfo[]>;
  /** Add to counters (one round trip for the whole map). */
  incr(deltas: Record<string, Partial<OpCounters>>): Promise<void>;
  counters(): Promise<Record<string, OpCounters>>;
  /** Record run times (ms) of completed jobs; keeps a bounded recent window per op. */
  recordDurations(op: string, ms: number[]): Promise<void>;
  /** Recent run times per op (bounded, e.g. the last 500). */
  durations(): Promise<Record<string, number[]>>;
  clear(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Optional fast path for the worker side (consume.ts), offered by a backend whose cache,
 * locks and pending sets live in one store: the steps of one job in two round trips
 * instead of five. The engine uses it only while the backend still holds exactly the
 * `cache`, `locker` and `pending` it was made for; otherwise it calls the ports one by one.
 */
export interface ConsumeSteps {
  readonly cache: CacheStore;
  readonly locker: Locker;
  readonly pending: PendingSet;
  /**
   * Atomically: the entry of `key` if it is fresh (never with `force`); otherwise try the
   * lock once. `entry` may also be returned for an entry the caller must check itself
   * (freshness at its own clock).
   */
  begin(key: Key, lockMs: number, force: boolean): Promise<{ entry: StoredEntry } | { token: string } | { busy: true }>;
  /**
   * Atomically: store `items` (as CacheStore.setMany), take every pending cbArgs of `key`
   * (as PendingSet.takeAll) and release the lock `token` if it is still ours.
   */
  finish(key: Key, items: { key: Key; entry: StoredEntry }[], token: string | null): Promise<unknown[]>;
}

/** The state of one deployment: what `createBackache` and `createRegion` work with. */
export interface Backend {
  cache: CacheStore;
  locker: Locker;
  pending: PendingSet;
  queue: JobQueue;
  quarantine: QuarantineStore;
  registry: Registry;
  /** Optional: the worker's steps combined (see ConsumeSteps). */
  steps?: ConsumeSteps;
  /** Human-readable URLs, passwords masked. */
  describe(): { broker: string; cache: string };
  close(): Promise<void>;
}

export const emptyCounters = (): OpCounters => ({
  hits: 0,
  misses: 0,
  stale: 0,
  coalesced: 0,
  completed: 0,
  failed: 0,
  retried: 0,
});
