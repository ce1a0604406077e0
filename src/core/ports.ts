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
  /**
   * Where the pair's keys live, when a backend spreads a namespace over several places
   * (Redis `shards`): set from `ClaimedJob.place` on the worker's path, so a job keeps the
   * place it was queued at; absent everywhere else (the backend's current layout).
   */
  place?: string;
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
  /**
   * The store's change feed, where it has one (memory, sqlite, redis): what keeps an L1
   * tier coherent across processes and wakes region waiters. Absent: no `l1` over this store.
   */
  readonly changes?: ChangeFeed;
}

/**
 * Entries of one namespace that changed, or (`all`) every entry: a `clear`, or anything a
 * listener may have missed (a feed that fell behind its log); an `all` may stand for the
 * changes before it that were not told one by one.
 */
export type CacheChange = { ns: string; ids: string[] } | { all: true };

export interface ChangeListener {
  /** Entries written, deleted or marked stale by any process of the deployment (this one too). */
  change(c: CacheChange): void;
  /**
   * `false`: the feed lost its connection and changes may be missed until it is `true`
   * again (a listener starts down, and is told `true` once the feed is live for it).
   */
  up(isUp: boolean): void;
}

/**
 * Every change of a store's entries, told to every process that listens: set, delete,
 * markStale, clear, a worker's finish (entry and aliases), RegionSteps.storeAndRelease
 * (also when it stores nothing: a released lock wakes waiters). Each change is told after
 * it is visible to readers, and at most about 100 ms after (DESIGN.md §3 `l1`), in the order
 * made (on Redis Cluster: per namespace, that is per master; an `all` in any order).
 * Conformance: test/conformance/suites.ts describeChangeFeed.
 */
export interface ChangeFeed {
  /** Start listening; returns the function that stops. The first listener opens the feed. */
  listen(l: ChangeListener): () => void;
}

/**
 * A region's get-or-create in few round trips (region.ts): each call one atomic step.
 * Conformance: test/conformance/suites.ts describeRegionSteps.
 */
export interface RegionSteps {
  /**
   * Atomically: the entry of `key` when it is fresh now and created after `freshAfter`
   * (a region's invalidation; -Infinity for none), returned with no token and no lock taken;
   * otherwise try the lock once (a token when we got it, `null` when someone else holds it)
   * and return the entry as it is (stale, or undefined: a miss or past `staleUntil`).
   */
  lockOrRead(key: Key, ttlMs: number, freshAfter: number): Promise<{ token: string | null; entry: StoredEntry | undefined }>;
  /**
   * Atomically: store `entry` under `key` when given (as CacheStore.setMany), release the
   * lock if `token` still holds it, and tell the change feed about `key` (also without an
   * entry: waiters wake and one of them takes the lock). Returns whether the lock was ours.
   */
  storeAndRelease(key: Key, token: string, entry: StoredEntry | undefined): Promise<boolean>;
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
  /**
   * The job id to record when this request is the first for the pair. Unique per request,
   * it is also the request's id: adding the same request twice (a client library that
   * resends a command whose reply was lost) adds its cbArgs once and answers the same.
   */
  jobId: string;
  /**
   * A request without a callback (`warm`): it joins or creates the pair's pending job but
   * adds no cbArgs, so `onResult` is not called for it.
   */
  silent?: boolean;
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
  /** Lower runs first, among the operation's jobs (among one shard's, where it is spread). */
  priority?: number;
  delayMs?: number;
}

export interface ClaimedJob {
  id: string;
  /** What the queue holds; the engine checks it (job data of another program is quarantined). */
  data: JobData;
  /**
   * 1 on the first run, incremented on every retry (ctx.retry or policy retry) and every
   * re-take after a stall (a dead worker, or one that lost its lease: its lease ran out);
   * not by a hand-back (a stop past its timeout).
   */
  attempt: number;
  /**
   * How often the queue saw this job's lease run out (BullMQ's stalledCounter): for
   * operators. The engine counts deaths itself (WorkerSteps.begin `runs`), since a lease
   * also runs out under a live worker (a blocked event loop, a lost reply).
   */
  stalls: number;
  /** When the job was first added. */
  createdAt: number;
  /** Record the job's progress where the queue keeps it (BullMQ's `job.updateProgress`), if it can. */
  progress?: (n: number) => Promise<void>;
  /** Where the job was queued, when the backend spreads an operation (see Key.place). */
  place?: string;
}

/** The states `JobQueue.list` selects by (BullMQ's names; a quarantined job is `failed`). */
export type JobListState = 'waiting' | 'active' | 'delayed' | 'completed' | 'failed';

/** One job as the queue holds it, for operators (`backache jobs list|show`). */
export interface JobInfo {
  id: string;
  op: string;
  uri: string;
  state: JobListState;
  /** The job's data (op, uri, kwargs, refresh, replayOf), as the worker will get it. */
  data: JobData;
  priority: number;
  /** Runs started so far (0 for a job never taken): retries and re-takes after a stall count, hand-backs not. */
  attempts: number;
  /** How often its lease ran out (ClaimedJob.stalls). */
  stalls: number;
  createdAt: number;
  /** When it was last taken, when the queue knows. */
  startedAt?: number;
  /** When it completed or failed. */
  finishedAt?: number;
  /** A delayed job: when it becomes due, when the queue knows. */
  runAt?: number;
  /** Who holds (or last held) it: the worker id given to `consume` (`workerId`), when known. */
  worker?: string;
  /** The last `ctx.progress(n)`, when the queue keeps it. */
  progress?: unknown;
  /** A completed job's marker (the value is in the cache). */
  result?: JobResult;
  /** A failed (quarantined) job: its quarantine item and error. */
  quarantineId?: string;
  error?: SerializedError;
  /** Where the job sits, when the backend spreads an operation (ClaimedJob.place, Key.place). */
  place?: string;
}

/**
 * What the engine tells the queue once a job's handler has finished.
 * - completed: record it complete with its small marker (never the value: that is in the cache);
 * - retry: the same job id runs again after `delayMs`, with new kwargs when given;
 * - quarantined: record it failed (BullMQ's failed set) with the item's id and error;
 * - handback: the run was aborted (stop past its timeout, lease lost): put the job back as
 *   it was, neither failed nor retried, without counting an attempt.
 */
export type JobOutcome =
  | { type: 'completed'; result: JobResult }
  | { type: 'retry'; delayMs: number; kwargs?: Record<string, unknown> }
  | { type: 'quarantined'; quarantineId: string; error: SerializedError }
  | { type: 'handback' };

/** A completed job's marker: who was told, and under which delivery. The value is in the cache. */
export interface JobResult {
  cbArgs: unknown[];
  deliveryId: string;
}

export type JobState =
  | { state: 'waiting' | 'active' | 'delayed' }
  /** `op` and `uri` say where the value is: in the cache, not in the job. */
  | { state: 'completed'; result: JobResult; op: string; uri: string }
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
  /**
   * Stalls tolerated per operation (default 1). The queue never fails a job for stalling
   * (its requests must reach quarantine): the engine decides, from the runs it counts.
   */
  maxStalls?: (op: string) => number;
  /** How long a claimed job stays ours without renewal (the lease). */
  leaseMs?: number;
  /** The worker's id, recorded on the jobs it takes (JobInfo.worker). Default: one of the consumer's own. */
  workerId?: string;
  /**
   * Runs one job. Never throws: every failure is turned into an outcome by the engine.
   * `signal` is aborted when the consumer stops past its timeout or the lease is lost;
   * the handler then answers `handback` (after a lost lease the queue drops it: the job is
   * someone else's, or comes back as a stall).
   */
  handler: (job: ClaimedJob, signal: AbortSignal) => Promise<JobOutcome>;
  /**
   * Told once the queue has recorded a job's outcome (not for a job whose lease was lost,
   * nor when recording failed): the engine then drops the job's delivery record.
   */
  recorded?: (job: ClaimedJob, outcome: JobOutcome) => void;
}

export interface Consumer {
  /** Stop claiming; wait for running jobs up to `timeoutMs`, then abort them. */
  stop(timeoutMs?: number): Promise<void>;
  /** Jobs finished by this consumer. */
  readonly processed: number;
  /** Ids of the jobs this consumer runs now. */
  runningJobs(): string[];
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
  /**
   * Jobs of an operation in one state, at most `limit` (default 100): waiting and delayed in
   * the order they will run, active oldest taken first, completed and failed newest first.
   * Without a state: active, then waiting, then delayed (what is queued and running).
   */
  list(op: string, o?: { state?: JobListState; limit?: number }): Promise<JobInfo[]>;
  /** One job in full, from whichever operation holds it. */
  job(id: string): Promise<JobInfo | undefined>;
  /**
   * Remove jobs of `op` that are waiting or delayed; never an active or finished one (a job
   * a worker took meanwhile stays). Returns the ids removed. Each removal is one atomic step
   * (on BullMQ: `Queue.remove`, which refuses a locked job).
   */
  remove(op: string, ids: string[]): Promise<string[]>;
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
  /**
   * Returns how many existed. With `unchanged`, the item `ids[i]` goes only if its
   * `lastFailedAt` is still `unchanged[i]`: one that failed again meanwhile (a replay that
   * ran and failed before its old item was removed) stays.
   */
  deleteMany(ids: string[], unchanged?: number[]): Promise<number>;
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
  /** The worker's default concurrency (`--concurrency`, else 8); see `opOptions` for what applies. */
  concurrency: number;
  startedAt: number;
  lastSeen: number;
  processed: number;
  /**
   * What the worker applies per operation it serves (an operation's own `concurrency`
   * wins over the worker's default), as it published it; absent from older workers.
   */
  opOptions?: Record<string, { concurrency: number }>;
  /** Jobs this worker is running now (as of its last heartbeat). */
  running?: number;
  /** The ids of the jobs it runs (at its last heartbeat), the first MAX_WORKER_JOBS of them. */
  jobs?: string[];
}

/** How many running job ids a worker's heartbeat carries (WorkerInfo.jobs). */
export const MAX_WORKER_JOBS = 50;

/** Cumulative counters per operation. */
export interface OpCounters {
  hits: number;
  misses: number;
  stale: number;
  coalesced: number;
  completed: number;
  failed: number;
  retried: number;
  /** Of `hits`, those served from a process's L1 tier (no store read). */
  l1Hits: number;
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
 * A job's delivery record: the pending cbArgs of its pair, moved out of the pending set in
 * the same atomic step that stored the entry (or decided on quarantine). It lives until the
 * job is recorded complete, so a job taken again after a crash delivers it again, with the
 * same `deliveryId`, instead of finding nothing to deliver.
 */
export interface Delivery {
  /** Stays the same on every redelivery of this record. */
  deliveryId: string;
  /** `result`: for onResult; `quarantine`: for the quarantine item `item`. */
  kind: 'result' | 'quarantine';
  cbArgs: unknown[];
  /** With kind `quarantine`: the item, its `cbArgs` being the record's. */
  item?: QuarantineItem;
}

export type BeginResult =
  /** The job delivered before (a crash, a lost lease): deliver again; `entry` if still cached. */
  | { delivery: Delivery; entry?: StoredEntry; runs: number }
  /** A fresh entry (someone computed it): deliver it, do not compute. */
  | { entry: StoredEntry; runs: number }
  /** The pair's lock, ours until `lockMs` passes (extend it with Locker.extend). */
  | { token: string; runs: number }
  /** Someone else holds the lock: wait and begin again (the run is not counted). */
  | { busy: true };

/**
 * The worker's steps of one job (consume.ts), each one atomic call, safe to run twice
 * (a resend of a command whose reply was lost answers as the first did). Every backend
 * implements them for whatever cache the deployment uses (its own in one call; another
 * store's around it). Conformance: test/conformance/suites.ts describeWorkerSteps.
 */
export interface WorkerSteps {
  /**
   * Atomically: the job's delivery record if it has one (with the pair's entry if servable);
   * else the pair's entry if fresh at `now` (never with `force`); else try the lock once.
   * Unless busy, `runId` (one per take of the job) joins the job's open runs, and `runs`
   * says how many are open: this one, plus every earlier run that began and never ended,
   * because its worker died. That is how deaths are counted (maxStalls): a queue cannot tell
   * a dead worker from a live one that lost its lease, nor a take whose reply was lost.
   */
  begin(key: Key, jobId: string, runId: string, lockMs: number, force: boolean): Promise<BeginResult>;
  /**
   * A run that ends without the job being recorded complete (a retry, a hand-back, a lost
   * lease) leaves the open runs: it did not die. Idempotent.
   */
  end(key: Key, jobId: string, runId: string): Promise<void>;
  /**
   * Atomically: store `items` (the entry under the URI and every alias, as CacheStore.setMany);
   * unless the job has a delivery record already, move every pending cbArgs of `key` into
   * a new one of kind `result`; release the lock `token` if it is still ours. Returns the
   * job's record (the existing one when there was one).
   */
  finish(key: Key, jobId: string, items: { key: Key; entry: StoredEntry }[], token: string | null): Promise<Delivery>;
  /**
   * Atomically: the request goes to quarantine. Unless the job has a record, move every
   * pending cbArgs of `key` into a new one of kind `quarantine` holding `item` (its cbArgs
   * set to them); a record of kind `result` becomes one of kind `quarantine` holding `item`
   * with the record's cbArgs; one of kind `quarantine` is returned as it is. Releases the
   * lock `token` if still ours. The caller then writes `record.item` to the QuarantineStore.
   */
  quarantine(key: Key, jobId: string, item: QuarantineItem, token: string | null): Promise<Delivery>;
  /** Drop the job's record and open runs, once the queue has recorded its outcome. Idempotent. */
  settle(key: Key, jobId: string): Promise<void>;
  /** Records of `ns` not settled (for stats and tests). */
  records(ns: string): Promise<number>;
}

/** The state of one deployment: what `createBackache` and `createRegion` work with. */
export interface Backend {
  cache: CacheStore;
  locker: Locker;
  pending: PendingSet;
  queue: JobQueue;
  quarantine: QuarantineStore;
  registry: Registry;
  /** The worker's steps over this deployment's cache (see WorkerSteps). */
  steps: WorkerSteps;
  /** A region's get-or-create steps over this deployment's cache and locks (see RegionSteps). */
  regionSteps: RegionSteps;
  /**
   * Told the operations' `shards` (when above 1, or when they changed) before first use, by
   * a process that has the operations' definitions. Backends that spread an operation's
   * keys (Redis) record it for every process of the deployment; others need not have it.
   */
  declareShards?(shards: Record<string, number>): Promise<void>;
  /** Human-readable URLs, passwords masked. */
  describe(): { broker: string; cache: string };
  /**
   * What the user should hear once about how the stores are set up (e.g. a Redis that may
   * evict jobs); the engine logs each as a warning when it opens.
   */
  warnings?: string[];
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
  l1Hits: 0,
});
