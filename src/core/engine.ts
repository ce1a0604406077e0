/**
 * `createBackache`: the engine of DESIGN.md §3. Client side (getOrDelegate, bulk, waitFor,
 * call, get, invalidate, warm), worker side (startWorker → consume.ts), quarantine,
 * autodiscovery and stats. Core never prints or exits: it returns values and throws.
 */
import { hostname } from 'node:os';
import { openBackend, type BackendOptions } from './backends/index.js';
import { sleep } from './backends/polling-consumer.js';
import { consumeJob, pairOf, type ConsumeDeps, type JobProgress } from './consume.js';
import { CounterBuffer } from './counters.js';
import { delegateBatch, validateRequest, type BulkResult, type CacheLookup, type DelegateDeps, type Delegated, type Hit, type Request } from './delegate.js';
import { toMs, type Duration } from './duration.js';
import { isFresh, isServable } from './entry.js';
import { BackacheError, checkWellFormed, ConfigError, QuarantinedError, TimeoutError, UnknownOperationError } from './errors.js';
import { newId } from './hash.js';
import { normalizeOperations, type Logger, type Operation, type OperationsDef } from './operations.js';
import { MAX_WORKER_JOBS, type Backend, type CacheStore, type ClaimedJob, type JobInfo, type JobListState, type JobOutcome, type Key, type WorkerInfo } from './ports.js';
import { drainQueue, type DrainOptions, type DrainResult } from './drain.js';
import { L1Cache, resolveL1Options, type L1Options, type L1Stats } from './l1.js';
import { QuarantineApi } from './quarantine-api.js';
import { checkSelection, chunks, selectIds, type Selection } from './select.js';
import { collectStats, type Stats } from './stats.js';

export interface BackacheOptions extends BackendOptions {
  operations: OperationsDef;
  /** Use an already open backend instead of URLs (tests, embedding). */
  backend?: Backend;
  logger?: Logger;
  /** Requests per cache/pending/queue round trip in bulk calls (default 1000). */
  batchSize?: number;
  /** Told of every `ctx.progress(n)` an operation reports in this process's workers. */
  onProgress?: (p: JobProgress) => void;
  /** Default lease of this app's workers (default 30s); `startWorker({ lease })` overrides it. */
  lease?: Duration;
  /** @deprecated use `lease`. */
  leaseMs?: number;
  /**
   * An in-process LRU in front of the cache (DESIGN.md §3 `l1`), kept coherent with every
   * other process by the cache store's change feed; off by default. Values it serves are
   * shared by the process's readers, and frozen.
   */
  l1?: L1Options;
}

export interface GetOrDelegateOptions {
  cbArgs?: unknown;
  kwargs?: Record<string, unknown>;
  priority?: number;
}

export type GetOrDelegateResult = { status: 'hit'; value: unknown; stale: boolean } | { status: 'delegated'; jobId: string; coalesced: boolean };

export interface BulkOptions {
  onHits?: (hits: Hit[]) => void | Promise<void>;
  /** Compute misses in this process (still under the lock, still coalescing). */
  inline?: boolean | ((batchSize: number) => boolean);
}

export interface InvalidateOptions extends Selection {
  op?: string;
  soft?: boolean;
  dryRun?: boolean;
  /** Called after each batch with the running count of matched entries (progress). */
  onProgress?: (matched: number) => void;
}

export interface InvalidateResult {
  matched: number;
  invalidated: number;
  /** With dryRun: what would be invalidated (op and uri). */
  items?: { op: string; uri: string }[];
}

export interface WarmRequest {
  op: string;
  uri: string;
  kwargs?: Record<string, unknown>;
}

export interface WorkerHandle {
  id: string;
  stop(timeout?: Duration): Promise<void>;
  readonly processed: number;
}

export interface StartWorkerOptions {
  concurrency?: number;
  /**
   * How long a taken job stays this worker's without renewal (default 30s; renewed while it
   * runs). A worker that dies is noticed after about this long, and its jobs are taken again.
   */
  lease?: Duration;
  ops?: string[];
  /**
   * Also consume these operations although they are not defined here: their jobs are
   * quarantined as unknown (for draining a queue after an operation was removed).
   */
  extraOps?: string[];
  /** Heartbeat period (default 2s); a worker is listed until 3 periods pass without one. */
  heartbeatMs?: number;
  /** Told of every job this worker finishes (completed, retry or quarantined), e.g. for `work --debug`. */
  onOutcome?: (job: ClaimedJob, outcome: JobOutcome) => void;
  /** Told the run time of every result this worker computed (not of one served from the cache), e.g. for metrics. */
  onRunTime?: (op: string, ms: number) => void;
}

/** How long waitFor tolerates a job id the queue does not know (added by another process). */
const UNKNOWN_JOB_GRACE_MS = 5000;

/** Refuse a URI that is not well-formed Unicode (two such URIs would share one key). */
function wellFormed(uri: string) {
  const bad = typeof uri === 'string' ? checkWellFormed(uri) : 'uri must be a string';
  if (bad) throw new ConfigError(bad);
}

const silent: Logger = { info() {}, warn() {}, error() {} };

const OP_NAME = /^[A-Za-z0-9_.-]+$/;

export class Backache {
  readonly quarantine: QuarantineApi;
  private counters: CounterBuffer;
  private workersRunning = new Set<WorkerHandle>();
  /** Operations live workers serve (or served) that this app does not define: see discoverOperations. */
  private discovered = new Set<string>();
  private closed = false;
  /** This app's L1 tier, when `l1` is on: its own, even over a shared backend. */
  private readonly l1?: L1Cache;
  /**
   * The cache as the client side reads and writes it: through the L1 tier when on, so this
   * process's invalidations drop its entries at once. The worker's path uses backend.steps.
   */
  private readonly cache: CacheStore;
  /** The delegate path's read (with which entries the tier served), and the worker's news of what it stored. */
  private readonly lookup?: CacheLookup;
  private readonly forget?: (keys: Key[]) => void;

  constructor(
    readonly backend: Backend,
    readonly ops: Map<string, Operation>,
    private opts: Omit<BackacheOptions, 'operations' | 'backend'>,
    private ownsBackend: boolean,
  ) {
    const l1 = opts.l1 !== undefined ? new L1Cache(backend.cache, opts.l1) : undefined;
    this.l1 = l1;
    this.cache = l1 ?? backend.cache;
    this.lookup = l1 && ((keys) => l1.lookup(keys));
    this.forget = l1 && ((keys) => l1.forget(keys));
    this.counters = new CounterBuffer(backend.registry, (e) => this.log.error('counter flush failed', { error: String(e) }));
    this.quarantine = new QuarantineApi(backend, () => this.knownOps());
  }

  get log(): Logger {
    return this.opts.logger ?? silent;
  }

  private get batchSize() {
    return this.opts.batchSize ?? 1000;
  }

  private get leaseMs() {
    return this.opts.lease !== undefined ? toMs(this.opts.lease, 'lease') : (this.opts.leaseMs ?? 30_000);
  }

  /** Names of the operations this app defines. */
  operationNames() {
    return [...this.ops.keys()];
  }

  private knownOps() {
    return this.operationNames();
  }

  /** This app's operations and those discovered in the registry: what a request may name. */
  knownOperations(): string[] {
    return [...new Set([...this.ops.keys(), ...this.discovered])].sort();
  }

  /**
   * Autodiscovery for producers: accept requests for the operations the registry knows
   * besides this app's own, so a producer needs no operations module. An operation is
   * known when a live worker serves it, or when workers of this deployment have run its
   * jobs before (its completed, retried or failed counters), so producers keep queueing
   * while every worker restarts; with `cached`, also when the cache holds its entries (for
   * reading and invalidating). Such operations can be asked for (getOrDelegate, bulk,
   * call, warm, get, invalidate) but not computed here (inline, startWorker). Returns
   * every operation now known.
   */
  async discoverOperations(o: { cached?: boolean } = {}): Promise<string[]> {
    const [workers, counters, cached] = await Promise.all([
      this.backend.registry.workers(),
      this.backend.registry.counters(),
      o.cached ? this.cache.namespaces() : Promise.resolve([] as string[]),
    ]);
    const found = [
      ...workers.flatMap((w) => w.ops),
      ...Object.entries(counters)
        .filter(([, c]) => c.completed + c.retried + c.failed > 0)
        .map(([op]) => op),
      ...cached.filter((ns) => !ns.startsWith('region.')),
    ];
    for (const op of found) if (typeof op === 'string' && OP_NAME.test(op) && !this.ops.has(op)) this.discovered.add(op);
    return this.knownOperations();
  }

  private requireOp(op: string) {
    if (!this.ops.has(op)) throw new UnknownOperationError(op, this.operationNames());
  }

  /** A request's operation: defined here, or discovered. */
  private requireKnownOp(op: string) {
    if (!this.ops.has(op) && !this.discovered.has(op)) throw new UnknownOperationError(op, this.knownOperations());
  }

  private acceptedOps(): ReadonlySet<string> | ReadonlyMap<string, Operation> {
    return this.discovered.size === 0 ? this.ops : new Set(this.knownOperations());
  }

  async getOrDelegate(op: string, uri: string, o: GetOrDelegateOptions = {}): Promise<GetOrDelegateResult> {
    this.requireKnownOp(op);
    const r = await this.bulkGetOrDelegate([{ op, uri, cbArgs: o.cbArgs, kwargs: o.kwargs, priority: o.priority }]);
    if (r.errors.length) throw new ConfigError(r.errors[0]!.error);
    const hit = r.hits[0];
    if (hit) return { status: 'hit', value: hit.value, stale: hit.stale };
    const d = r.delegated[0]!;
    return { status: 'delegated', jobId: d.jobId, coalesced: d.coalesced };
  }

  async bulkGetOrDelegate(requests: Iterable<Request> | AsyncIterable<Request>, o: BulkOptions = {}): Promise<BulkResult> {
    const out: BulkResult = { hits: [], delegated: [], errors: [] };
    for await (const batch of chunks(requests, this.batchSize)) {
      const inline = typeof o.inline === 'function' ? o.inline(batch.length) : !!o.inline;
      const r = inline ? await this.inlineBatch(batch) : await delegateBatch(this.deps(), batch);
      out.hits.push(...r.hits);
      out.delegated.push(...r.delegated);
      out.errors.push(...r.errors);
    }
    // Counters are flushed by the CounterBuffer's timer, by stats() and by close(): not here,
    // which would cost a round trip per call.
    if (o.onHits && out.hits.length) await o.onHits(out.hits);
    return out;
  }

  /**
   * Backache's "mitigation": the batch goes through the same delegate path as any request
   * (pending set, coalescing), but the jobs it is first for are computed here, through the
   * worker's own path (lock, store, delivery record, onResult), instead of being queued.
   * They come back as hits (their onResult fires too, with every coalesced cbArgs); requests
   * that joined another client's pending job stay delegated to it. If this process dies
   * mid-way, the pending pair is healed by the next request for it (it re-adds the job).
   */
  private async inlineBatch(requests: Request[]): Promise<BulkResult> {
    // An operation only discovered (defined by the workers) cannot be computed here.
    const notHere: BulkResult['errors'] = [];
    const batch = requests.filter((q) => {
      const remote = q && typeof q === 'object' && this.discovered.has(q.op) && !this.ops.has(q.op);
      if (remote) notHere.push({ op: q.op, uri: String(q.uri), error: `operation "${q.op}" is defined by the workers, not here: computing it inline needs its operations module` });
      return !remote;
    });
    const r = await delegateBatch(this.deps(), batch, { inline: true });
    r.errors.push(...notHere);
    if (r.firsts.length === 0) return r;
    const consumeDeps = this.consumeDeps(`inline-${process.pid}`, this.leaseMs);
    const never = new AbortController().signal;
    const values = new Map<string, { value: unknown } | { error: string }>();
    await Promise.all(
      r.firsts.map(async ({ id, request }) => {
        const job: ClaimedJob = { id, data: { op: request.op, uri: request.uri, kwargs: request.kwargs ?? {} }, attempt: 1, stalls: 0, createdAt: Date.now() };
        for (;;) {
          const outcome = await consumeJob(consumeDeps, job, never);
          if (outcome.type === 'completed') {
            await this.backend.steps.settle({ ns: request.op, id: request.uri }, id).catch(() => {});
            // The tier may hold the miss that delegated the request (the entry may also have been
            // found stored by someone else, with nothing stored here): drop it, read the store.
            const key = { ns: request.op, id: request.uri };
            this.l1?.forget([key]);
            const [e] = await this.cache.getMany([key]);
            values.set(id, e ? { value: e.value } : { error: `${request.op} computed ${request.uri} but the entry expired at once (ttl/grace)` });
            return;
          }
          if (outcome.type === 'quarantined') {
            await this.backend.steps.settle({ ns: request.op, id: request.uri }, id).catch(() => {});
            values.set(id, { error: outcome.error.message });
            return;
          }
          if (outcome.type === 'handback') return;
          await sleep(outcome.delayMs);
          job.attempt++;
          if (outcome.kwargs) job.data.kwargs = outcome.kwargs;
        }
      }),
    );
    // Requests of this batch delegated to a job it computed itself (duplicates of a pair
    // included) get what that job produced.
    const delegated = r.delegated;
    r.delegated = [];
    delegated.forEach((d, i) => {
      const v = values.get(d.jobId);
      if (!v) r.delegated.push(d);
      else if ('value' in v) r.hits.push({ op: d.op, uri: d.uri, cbArgs: r.delegatedRequests[i]!.cbArgs, value: v.value, stale: false });
      else r.errors.push({ op: d.op, uri: d.uri, error: v.error });
    });
    return { hits: r.hits, delegated: r.delegated, errors: r.errors };
  }

  private deps(): DelegateDeps {
    return { backend: this.backend, ops: this.acceptedOps(), counters: this.counters, lookup: this.lookup };
  }

  private consumeDeps(workerId: string, lockMs: number): ConsumeDeps {
    return { backend: this.backend, ops: this.ops, counters: this.counters, log: this.log, workerId, lockMs, onProgress: this.opts.onProgress, onStored: this.forget };
  }

  /** Resolves with the value and all cbArgs once the request completes (following retries). */
  async waitFor(jobId: string, o: { timeout?: Duration } = {}): Promise<{ value: unknown; cbArgs: unknown[] }> {
    const deadline = o.timeout === undefined ? Infinity : Date.now() + toMs(o.timeout, 'timeout');
    let wait = 5;
    let unknownSince: number | undefined;
    for (;;) {
      const s = await this.backend.queue.getState(jobId);
      if (s.state === 'completed') {
        // The job keeps who was told; the value is the cache's (stored once). Another process
        // may have stored it just now, before the feed told this one: the L1 tier (which may
        // hold the miss that delegated the request) drops the pair and reads the store.
        const key = { ns: s.op, id: s.uri };
        this.l1?.forget([key]);
        const [e] = await this.cache.getMany([key]);
        if (!e) throw new BackacheError(`job ${jobId} completed, but the entry of ${s.op} ${s.uri} is no longer cached (its ttl and grace passed, or it was invalidated); ask for it again`);
        return { value: e.value, cbArgs: s.result.cbArgs };
      }
      if (s.state === 'quarantined') throw new QuarantinedError(s.error.message, s.quarantineId);
      // A job that is nowhere (never added, or finished so long ago it was dropped) will
      // never complete: say so instead of polling until the timeout.
      if (s.state === 'unknown') {
        // A job removed from the queue with its requests in quarantine (queue drain).
        const item = await this.backend.quarantine.get(jobId);
        if (item) throw new QuarantinedError(item.error.message, item.id);
        unknownSince ??= Date.now();
        if (Date.now() - unknownSince > UNKNOWN_JOB_GRACE_MS) {
          throw new BackacheError(`job ${jobId} is unknown: never queued here, or finished and no longer kept; read the result with get()`);
        }
      } else unknownSince = undefined;
      if (Date.now() >= deadline) throw new TimeoutError(`job ${jobId} did not complete within ${o.timeout}`);
      await sleep(Math.min(wait, Math.max(1, deadline - Date.now())));
      wait = Math.min(wait * 2, 100);
    }
  }

  /** The bus-style remote call: a hit, or delegate and wait. */
  async call(op: string, uri: string, o: GetOrDelegateOptions & { timeout?: Duration } = {}): Promise<unknown> {
    const r = await this.getOrDelegate(op, uri, o);
    if (r.status === 'hit') return r.value;
    return (await this.waitFor(r.jobId, { timeout: o.timeout })).value;
  }

  async get(op: string, uri: string) {
    wellFormed(uri);
    const [e] = await this.cache.getMany([{ ns: op, id: uri }]);
    const now = Date.now();
    if (!isServable(e, now)) return undefined;
    return { value: e.value, stale: !isFresh(e, now), createdAt: e.createdAt, expiresAt: e.expiresAt, uri: e.uri ?? uri };
  }

  async getMany(op: string, uris: string[]) {
    uris.forEach((u) => wellFormed(u));
    const entries = await this.cache.getMany(uris.map((id) => ({ ns: op, id })));
    const now = Date.now();
    return entries.map((e, i) =>
      isServable(e, now) ? { value: e.value, stale: !isFresh(e, now), createdAt: e.createdAt, expiresAt: e.expiresAt, uri: e.uri ?? uris[i]! } : undefined,
    );
  }

  async invalidate(o: InvalidateOptions): Promise<InvalidateResult> {
    if (o.op !== undefined) this.requireOpOrSeen(o.op);
    checkSelection(o);
    // Every operation's entries, but never a region's that shares the store.
    const ops = o.op !== undefined ? [o.op] : (await this.cache.namespaces()).filter((ns) => !ns.startsWith('region.'));
    const res: InvalidateResult = { matched: 0, invalidated: 0 };
    if (o.dryRun) res.items = [];
    for (const op of ops) {
      for await (const ids of chunks(selectIds(this.cache, op, o), this.batchSize)) {
        const keys: Key[] = ids.map((id) => ({ ns: op, id }));
        if (o.dryRun) {
          const present = await this.cache.getMany(keys);
          const now = Date.now();
          ids.forEach((id, i) => {
            if (isServable(present[i], now)) res.items!.push({ op, uri: id });
          });
          res.matched = res.items!.length;
          o.onProgress?.(res.matched);
          continue;
        }
        const n = o.soft ? await this.cache.markStale(keys, Date.now()) : await this.cache.deleteMany(keys);
        res.matched += n;
        res.invalidated += n;
        o.onProgress?.(res.matched);
      }
    }
    return res;
  }

  private requireOpOrSeen(op: string) {
    if (!OP_NAME.test(op)) throw new ConfigError(`operation name "${op}" is not valid`);
  }

  /**
   * Enqueue what is missing or stale (everything with `force`), through the same delegate
   * path as any request but without callbacks: a warm joins a job already pending for the
   * pair (repeated warms queue nothing more), and a later request joins the warm's job.
   * Returns what was queued; with `dryRun` nothing is, and `items` lists what would be.
   */
  async warm(requests: Iterable<WarmRequest> | AsyncIterable<WarmRequest>, o: { force?: boolean; dryRun?: boolean } = {}) {
    const out = {
      queued: 0,
      fresh: 0,
      /** Pairs that already had a job pending (joined, nothing new queued). */
      pending: 0,
      errors: [] as { op: string; uri: string; error: string }[],
      jobIds: [] as string[],
      items: [] as { op: string; uri: string }[],
    };
    const known = this.acceptedOps();
    for await (const batch of chunks(requests, this.batchSize)) {
      const valid = batch.filter((r) => {
        const err = validateRequest(known, r);
        if (err) out.errors.push({ op: String(r?.op), uri: String(r?.uri), error: err });
        return !err;
      });
      const seen = new Set<string>();
      const unique = valid.filter((r) => {
        const k = `${r.op}\u0000${r.uri}`;
        return seen.has(k) ? false : (seen.add(k), true);
      });
      if (o.dryRun) {
        const entries = o.force ? [] : await this.cache.getMany(unique.map((r) => ({ ns: r.op, id: r.uri })));
        const now = Date.now();
        unique.forEach((r, i) => {
          const e = entries[i];
          if (!o.force && isServable(e, now) && isFresh(e, now)) out.fresh++;
          else {
            out.queued++;
            out.items.push({ op: r.op, uri: r.uri });
          }
        });
        continue;
      }
      const r = await delegateBatch(this.deps(), unique, { silent: true, force: o.force });
      for (const h of r.hits) {
        if (!h.stale) out.fresh++;
      }
      // A stale entry's refresh job was enqueued by the delegate path (one per entry).
      out.queued += r.hits.filter((h) => h.stale).length;
      for (const d of r.delegated) {
        if (d.coalesced) out.pending++;
        else {
          out.queued++;
          out.jobIds.push(d.jobId);
        }
      }
      for (const e of r.errors) out.errors.push(e);
    }
    return out;
  }

  startWorker(o: StartWorkerOptions = {}): WorkerHandle {
    const ops = [...(o.ops ?? this.operationNames())];
    for (const op of ops) this.requireOp(op);
    if (o.extraOps) ops.push(...o.extraOps.filter((x) => !ops.includes(x)));
    const id = `${hostname()}:${process.pid}:${newId().slice(-6)}`;
    const concurrency = o.concurrency ?? 8;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new ConfigError(`concurrency must be a positive integer, got ${o.concurrency}`);
    const leaseMs = o.lease !== undefined ? toMs(o.lease, 'lease') : this.leaseMs;
    if (leaseMs < 100) throw new ConfigError(`lease must be at least 100ms, got ${leaseMs}ms`);
    const deps = { ...this.consumeDeps(id, leaseMs), onRunTime: o.onRunTime };
    const steps = this.backend.steps;
    const concurrencyOf = (op: string) => this.ops.get(op)?.concurrency ?? concurrency;
    const opOptions = Object.fromEntries(ops.map((op) => [op, { concurrency: concurrencyOf(op) }]));
    let running = 0;
    const consumer = this.backend.queue.consume({
      ops,
      workerId: id,
      concurrency: concurrencyOf,
      rateLimit: (op) => this.ops.get(op)?.rateLimit,
      maxStalls: (op) => this.ops.get(op)?.maxStalls ?? 1,
      leaseMs,
      // The job is recorded complete (or failed): its delivery record may go.
      recorded: (job, outcome) => {
        if ((outcome.type === 'completed' || outcome.type === 'quarantined') && job.data && typeof job.data.op === 'string' && typeof job.data.uri === 'string') {
          steps.settle(pairOf(job), job.id).catch((e) => this.log.warn('settling a delivery record failed', { error: String(e) }));
        }
      },
      handler: async (job, signal) => {
        running++;
        let outcome: JobOutcome;
        try {
          outcome = await consumeJob(deps, job, signal);
        } finally {
          running--;
        }
        if (o.onOutcome) {
          try {
            o.onOutcome(job, outcome);
          } catch (e) {
            this.log.error('onOutcome failed', { error: String(e) });
          }
        }
        return outcome;
      },
    });
    const heartbeatMs = o.heartbeatMs ?? 2000;
    const info = (): WorkerInfo => ({ id, host: hostname(), pid: process.pid, ops, concurrency, opOptions, startedAt, lastSeen: Date.now(), processed: consumer.processed, running, jobs: consumer.runningJobs().slice(0, MAX_WORKER_JOBS) });
    const startedAt = Date.now();
    const beat = () => this.backend.registry.heartbeat(info(), heartbeatMs * 3).catch((e) => this.log.warn('heartbeat failed', { error: String(e) }));
    void beat();
    const timer = setInterval(beat, heartbeatMs);
    timer.unref();
    const handle: WorkerHandle = {
      id,
      get processed() {
        return consumer.processed;
      },
      stop: async (timeout: Duration = '10s') => {
        clearInterval(timer);
        await consumer.stop(toMs(timeout, 'stop timeout'));
        await this.counters.flush();
        await this.backend.registry.remove(id).catch(() => {});
        this.workersRunning.delete(handle);
      },
    };
    this.workersRunning.add(handle);
    return handle;
  }

  /** Workers alive now (from their heartbeats). */
  workers() {
    return this.backend.registry.workers();
  }

  /**
   * Operations that live workers serve (autodiscovery), with the number of workers and
   * their total concurrency for each (what each worker applies to that operation).
   */
  async operations() {
    const byOp = new Map<string, { op: string; workers: number; concurrency: number }>();
    for (const w of await this.workers()) {
      for (const op of w.ops) {
        const e = byOp.get(op) ?? { op, workers: 0, concurrency: 0 };
        e.workers++;
        e.concurrency += w.opOptions?.[op]?.concurrency ?? w.concurrency;
        byOp.set(op, e);
      }
    }
    return [...byOp.values()].sort((a, b) => a.op.localeCompare(b.op));
  }

  /** This process's L1 tier: hits, misses, entries, bytes, evictions; undefined without `l1`. */
  l1Stats(): L1Stats | undefined {
    return this.l1?.l1Stats();
  }

  async stats(): Promise<Stats> {
    await this.counters.flush();
    return collectStats(this.backend, this.operationNames());
  }

  /**
   * Recent jobs of an operation, newest first (the dashboard's detail view); `[]` when the
   * queue backend cannot list them.
   */
  async recentJobs(op: string, limit = 20): Promise<{ id: string; uri: string; state: string; at: number }[]> {
    return (await this.backend.queue.recent?.(op, limit)) ?? [];
  }

  async pause(op: string) {
    await this.backend.queue.pause(op);
  }

  async resume(op: string) {
    await this.backend.queue.resume(op);
  }

  /**
   * Operations this deployment knows: defined here, counted, quarantined or served by a live
   * worker (the names `stats` shows), sorted.
   */
  async seenOperations(): Promise<string[]> {
    const [counters, quarantined, workers] = await Promise.all([this.backend.registry.counters(), this.backend.quarantine.countByOp(), this.backend.registry.workers()]);
    return [...new Set([...this.operationNames(), ...Object.keys(counters), ...Object.keys(quarantined), ...workers.flatMap((w) => w.ops)])].sort();
  }

  /** Jobs of an operation (JobQueue.list): by default what is queued and running. */
  jobs(op: string, o: { state?: JobListState; limit?: number } = {}): Promise<JobInfo[]> {
    return this.backend.queue.list(op, o);
  }

  /** One job in full; an active one the queue cannot name a worker for gets it from the workers' heartbeats. */
  async job(id: string): Promise<JobInfo | undefined> {
    const j = await this.backend.queue.job(id);
    if (j && j.state === 'active' && !j.worker) {
      const w = (await this.backend.registry.workers()).find((x) => x.jobs?.includes(id));
      if (w) j.worker = w.id;
    }
    return j;
  }

  /** Drop an operation's waiting and delayed jobs; their requests go to quarantine (DrainedError). See drain.ts. */
  drain(op: string, o: DrainOptions = {}): Promise<DrainResult> {
    this.requireOpOrSeen(op);
    return drainQueue(this.backend, op, o);
  }

  /** Remove everything of this deployment (cache, jobs, pending, quarantine, registry). */
  async cleanup() {
    const b = this.backend;
    await Promise.all([this.cache.clear(), b.queue.clear(), b.pending.clear(), b.quarantine.clear(), b.registry.clear()]);
    await b.declareShards?.(this.shardCounts()); // the layouts this process uses stay recorded
  }

  /** Every operation's `shards` (what the backend records for processes without definitions). */
  shardCounts(): Record<string, number> {
    return Object.fromEntries([...this.ops.values()].map((op) => [op.name, op.shards]));
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.workersRunning].map((w) => w.stop()));
    await this.counters.close();
    // The tier is this app's; the backend (and its cache) only when this app opened it.
    this.l1?.stop();
    if (this.ownsBackend) await this.backend.close();
  }
}

const inlineQueue = { addMany: async () => {} } as unknown as Backend['queue'];

export async function createBackache(o: BackacheOptions): Promise<Backache> {
  if (!o || !o.operations) throw new ConfigError('createBackache needs { operations }');
  const ops = normalizeOperations(o.operations);
  if (o.l1 !== undefined) resolveL1Options(o.l1); // a bad option fails before any connection
  const backend = o.backend ?? (await openBackend(o));
  let app: Backache;
  try {
    // Every operation, so a layout changed back to one shard is recorded too.
    await backend.declareShards?.(Object.fromEntries([...ops.values()].map((op) => [op.name, op.shards])));
    app = new Backache(backend, ops, o, !o.backend);
  } catch (e) {
    if (!o.backend) await backend.close().catch(() => {});
    throw e;
  }
  for (const w of backend.warnings ?? []) app.log.warn(w);
  return app;
}

export type { Request, Hit, Delegated, BulkResult };
export { BackacheError };
