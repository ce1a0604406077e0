/**
 * The worker side of one request (DESIGN.md §3 Consume), one path on every backend, in the
 * order of the diagram:
 *
 *   WorkerSteps.begin ─► delivery record? deliver it again (no recomputation)
 *                    ─► fresh entry? deliver it (no recomputation)
 *                    ─► the lock ─► operation.run ─► WorkerSteps.finish: store the entry
 *                       (+ aliases), move every pending cbArgs into the job's delivery
 *                       record, release ─► onResult(value, cbArgs) ─► job recorded
 *                       complete ─► WorkerSteps.settle drops the record
 *
 * A failure is a retry (the same job later) or a quarantine (WorkerSteps.quarantine moves
 * the cbArgs into the record, then the item is written). A run aborted by a stop past its
 * timeout or a lost lease hands the job back untouched: neither quarantined nor delivered.
 */
import { toMs } from './duration.js';
import { isServable, makeEntry, toJsonValue } from './entry.js';
import { checkWellFormed, toWellFormed, NotSerializableError, QuarantineSignal, RetrySignal, serializeError, StalledError, TimeoutError, UnreadableJobError } from './errors.js';
import { newId } from './hash.js';
import type { Logger, Operation, OperationContext } from './operations.js';
import type { Backend, ClaimedJob, Delivery, JobData, JobOutcome, Key, Locker, QuarantineItem, StoredEntry } from './ports.js';
import type { CounterBuffer } from './counters.js';
import { sleep } from './backends/polling-consumer.js';

export interface ConsumeDeps {
  backend: Backend;
  ops: Map<string, Operation>;
  counters: CounterBuffer;
  log: Logger;
  workerId: string;
  /** Lock lease; extended while the operation runs. */
  lockMs: number;
  /** Told of `ctx.progress(n)` calls. */
  onProgress?: (p: JobProgress) => void;
  /** Told the run time (ms) of every result computed (StartWorkerOptions.onRunTime). */
  onRunTime?: (op: string, ms: number) => void;
  /**
   * Told the keys a finish stored (the URI and its aliases), so this process's L1 tier
   * drops them at once; other processes learn of them through the store's change feed.
   */
  onStored?: (keys: Key[]) => void;
}

export interface JobProgress {
  op: string;
  uri: string;
  jobId: string;
  attempt: number;
  progress: number;
}

const HANDBACK: JobOutcome = Object.freeze({ type: 'handback' as const });

/** What the operation threw (its error policy applies), apart from failures of the steps. */
class RunFailed {
  constructor(readonly cause: unknown) {}
}

/** The pair of a claimed job, at the place it was queued (Key.place). */
export function pairOf(job: ClaimedJob): Key {
  const key: Key = { ns: job.data.op, id: job.data.uri };
  if (job.place !== undefined) key.place = job.place;
  return key;
}

export async function consumeJob(deps: ConsumeDeps, job: ClaimedJob, signal: AbortSignal): Promise<JobOutcome> {
  const bad = unreadable(job.data);
  if (bad) return quarantineUnreadable(deps, job, bad);
  const { backend, ops, counters } = deps;
  const { op: name, uri } = job.data;
  const key = pairOf(job);
  const op = ops.get(name);
  if (!op) {
    const known = [...ops.keys()].join(', ') || '(none)';
    return quarantine(deps, job, key, null, undefined, new Error(`unknown operation "${name}": this worker knows ${known}`));
  }
  const started = Date.now();
  // One id per take of the job: WorkerSteps counts the runs that began and never ended.
  const runId = newId();
  let token: string | null = null;
  try {
    const got = await beginOrWait(deps, key, job, runId, signal);
    let record: Delivery | undefined;
    let entry: StoredEntry | undefined;
    let computed = false;
    let aliases: string[] = [];
    if ('delivery' in got) {
      record = got.delivery;
      entry = got.entry;
    } else if ('entry' in got) entry = got.entry;
    else token = got.token;

    const deaths = got.runs - 1;
    if (deaths > op.maxStalls) {
      const times = deaths === 1 ? 'once' : `${deaths} times`;
      // Every job running in a worker that dies counts it, so the message does not accuse.
      const err = new StalledError(`its worker died ${times} while running ${name} for this URI (maxStalls ${op.maxStalls}): the job, or one running beside it, crashes its worker`);
      const held = token;
      token = null;
      return await quarantine(deps, job, key, held, undefined, err, true);
    }
    if (record?.kind === 'quarantine') return writeQuarantine(deps, job, record);
    if (!entry) {
      // Compute under the lock. A redelivered record whose entry vanished meanwhile (an
      // invalidation between the crash and now) needs the value again: lock and compute it.
      token ??= await lockOrWait(deps.backend.locker, key, deps.lockMs, signal);
      const lockKeeper = keepLock(deps, key, token);
      try {
        const r = await runOperation(deps, op, job, signal);
        aliases = r.aliases;
        entry = makeEntry(r.value, Date.now(), op.ttlMs(r.value), op.graceMs, uri);
        computed = true;
      } catch (e) {
        throw new RunFailed(e);
      } finally {
        lockKeeper.stop();
      }
    }
    const redelivery = record !== undefined;
    if (!record || computed) {
      const store = computed ? [uri, ...aliases].map((id) => ({ key: { ns: name, id }, entry: entry! })) : [];
      // Store, move the pending cbArgs into the job's delivery record, release: one atomic step.
      record = await backend.steps.finish(key, job.id, store, token);
      token = null;
      if (store.length) deps.onStored?.(store.map((s) => s.key));
    }
    const cbArgs = record.cbArgs;
    if (cbArgs.length > 0 && op.onResult) {
      try {
        await op.onResult(entry.value, cbArgs, { op: name, uri, jobId: job.id, aliases, computed, attempt: job.attempt, deliveryId: record.deliveryId, redelivery });
      } catch (e) {
        // The entry is stored; the cbArgs must not be lost: the record becomes a quarantine
        // item, so a replay delivers them again (without recomputing).
        return quarantine(deps, job, key, null, undefined, wrapError(`onResult of ${name} failed`, e));
      }
    }
    if (computed) {
      const ms = Date.now() - started;
      counters.duration(name, ms);
      deps.onRunTime?.(name, ms);
    }
    counters.add(name, 'completed');
    return { type: 'completed', result: { cbArgs, deliveryId: record.deliveryId } };
  } catch (thrown) {
    // The run ends here without the job being complete: it did not die, so it leaves the
    // open runs (best effort: a backend that is down fails this too, which then counts it).
    const endRun = async () => {
      if (token) await backend.locker.release(key, token).catch(() => {});
      token = null;
      await backend.steps.end(key, job.id, runId).catch(() => {});
    };
    // Stopped past the timeout, or the lease was lost: the job goes back as it was.
    if (signal.aborted) {
      await endRun();
      return HANDBACK;
    }
    // A step of ours failed (the backend is down): not the request's fault, so neither a
    // retry nor a quarantine; the queue leaves the job to be taken again.
    if (!(thrown instanceof RunFailed)) {
      await endRun();
      throw thrown;
    }
    const e = thrown.cause;
    if (e instanceof RetrySignal) {
      await endRun();
      counters.add(name, 'retried');
      return { type: 'retry', delayMs: e.delayMs, kwargs: e.kwargs };
    }
    const held = token;
    token = null;
    if (e instanceof QuarantineSignal) return quarantine(deps, job, key, held, e.details, e);
    if (e instanceof NotSerializableError || (e instanceof TimeoutError && op.retries === 0)) return quarantine(deps, job, key, held, undefined, e);
    if (job.attempt <= op.retries) {
      token = held;
      await endRun();
      counters.add(name, 'retried');
      deps.log.warn(`${name} failed, retrying`, { uri, attempt: job.attempt, error: (e as Error)?.message });
      return { type: 'retry', delayMs: op.backoffMs(job.attempt) };
    }
    return quarantine(deps, job, key, held, undefined, e);
  }
}

/** Why job data is not a backache request, or undefined when it is one. */
function unreadable(d: JobData | undefined): string | undefined {
  if (!d || typeof d !== 'object') return 'job data is not an object';
  if (typeof d.op !== 'string' || d.op === '') return 'job data has no operation name (op)';
  if (typeof d.uri !== 'string' || d.uri === '') return 'job data has no uri';
  const bad = checkWellFormed(d.uri);
  if (bad) return bad;
  if (d.kwargs !== undefined && (typeof d.kwargs !== 'object' || d.kwargs === null || Array.isArray(d.kwargs))) return 'job data kwargs is not an object';
  return undefined;
}

/** WorkerSteps.begin until it answers something other than busy (someone else computes). */
async function beginOrWait(deps: ConsumeDeps, key: Key, job: ClaimedJob, runId: string, signal: AbortSignal) {
  let wait = 10;
  for (;;) {
    const got = await deps.backend.steps.begin(key, job.id, runId, deps.lockMs, !!job.data.refresh);
    if (!('busy' in got)) return got;
    if (signal.aborted) throw signal.reason ?? new Error('aborted');
    await sleep(wait, signal);
    wait = Math.min(wait * 2, 200);
  }
}

/** The pair's lock, waiting while someone else holds it. */
async function lockOrWait(locker: Locker, key: Key, lockMs: number, signal: AbortSignal) {
  let wait = 10;
  for (;;) {
    const token = await locker.acquire(key, lockMs);
    if (token) return token;
    if (signal.aborted) throw signal.reason ?? new Error('aborted');
    await sleep(wait, signal);
    wait = Math.min(wait * 2, 200);
  }
}

function keepLock(deps: ConsumeDeps, key: Key, token: string) {
  const locker = deps.backend.locker;
  let k = keepers.get(locker)?.get(deps.lockMs);
  if (!k) {
    k = new LockKeeper(locker, deps.lockMs);
    if (!keepers.has(locker)) keepers.set(locker, new Map());
    keepers.get(locker)!.set(deps.lockMs, k);
  }
  return k.keep(key, token);
}

/**
 * Extends the locks of running computations on one timer per locker (not a timer per job,
 * which short jobs would pay for without ever using): every lockMs/3, each held lock is
 * extended; the timer stops while nothing is held.
 */
class LockKeeper {
  private held = new Set<{ key: Key; token: string }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly locker: Locker,
    private readonly lockMs: number,
  ) {}

  keep(key: Key, token: string) {
    const h = { key, token };
    this.held.add(h);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), Math.max(20, this.lockMs / 3));
      this.timer.unref();
    }
    return { stop: () => void this.held.delete(h) };
  }

  private tick() {
    if (this.held.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    for (const { key, token } of this.held) void this.locker.extend(key, token, this.lockMs).catch(() => {});
  }
}

const keepers = new WeakMap<Locker, Map<number, LockKeeper>>();

async function runOperation(deps: ConsumeDeps, op: Operation, job: ClaimedJob, jobSignal: AbortSignal) {
  const { uri } = job.data;
  const aliases: string[] = [];
  // Without a timeout the operation's signal is the job's own (no controller per job).
  const ctl = op.timeoutMs === null ? undefined : new AbortController();
  const onAbort = () => ctl!.abort(jobSignal.reason);
  if (ctl) jobSignal.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const ctx: OperationContext = {
    op: op.name,
    uri,
    kwargs: job.data.kwargs ?? {},
    attempt: job.attempt,
    jobId: job.id,
    signal: ctl ? ctl.signal : jobSignal,
    log: deps.log,
    progress: (n) => {
      job.progress?.(n).catch(() => {}); // best effort: progress must not fail the job
      try {
        deps.onProgress?.({ op: op.name, uri, jobId: job.id, attempt: job.attempt, progress: n });
      } catch {
        /* a progress listener must not fail the job */
      }
    },
    retry: (o = {}) => {
      throw new RetrySignal(o.delay === undefined ? 0 : toMs(o.delay, 'retry delay'), o.kwargs);
    },
    quarantine: (details) => {
      throw new QuarantineSignal(details);
    },
    getOrAddRedirect: async (other) => {
      if (other === uri || aliases.includes(other)) return undefined;
      const bad = checkWellFormed(other, 'redirect uri');
      if (bad) throw new TypeError(bad);
      const [e] = await deps.backend.cache.getMany([{ ns: op.name, id: other }]);
      if (isServable(e, Date.now())) return e.value;
      aliases.push(other);
      return undefined;
    },
  };
  let dropAbort = () => {};
  try {
    const running = callRun(op, uri, ctx);
    running.catch(() => {}); // once abandoned (stopped, lease lost), its late failure is nobody's
    const racers: Promise<unknown>[] = [running];
    if (op.timeoutMs !== null) {
      racers.push(
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const err = new TimeoutError(`${op.name} timed out after ${op.timeoutMs} ms for ${uri}`);
            ctl!.abort(err);
            reject(err);
          }, op.timeoutMs!);
        }),
      );
    }
    // A stop past its timeout or a lost lease abandons the run at once, even one that ignores
    // its signal: the job is handed back and the pair's lock released, and a value it returns
    // later is never stored.
    racers.push(
      new Promise<never>((_, reject) => {
        const onJobAbort = () => reject(jobSignal.reason ?? new Error('aborted'));
        if (jobSignal.aborted) return onJobAbort();
        jobSignal.addEventListener('abort', onJobAbort, { once: true });
        dropAbort = () => jobSignal.removeEventListener('abort', onJobAbort);
      }),
    );
    const raced = Promise.race(racers);
    const raw = await raced;
    let value: unknown;
    try {
      value = toJsonValue(raw);
    } catch (e) {
      throw new NotSerializableError(`the result of ${op.name} is not JSON-serialisable: ${(e as Error).message}`);
    }
    if (jobSignal.aborted) throw jobSignal.reason ?? new Error('aborted');
    return { value, aliases };
  } finally {
    clearTimeout(timer);
    dropAbort();
    if (ctl) jobSignal.removeEventListener('abort', onAbort);
  }
}

/** The operation's promise; a synchronous throw becomes a rejection. */
async function callRun(op: Operation, uri: string, ctx: OperationContext) {
  return op.run(uri, ctx);
}

const wrapError = (msg: string, e: unknown) => {
  const s = serializeError(e);
  const err = new Error(`${msg}: ${s.message}`);
  err.name = s.name;
  err.stack = s.stack;
  return err;
};

/**
 * The request goes to quarantine: WorkerSteps.quarantine moves the pending cbArgs (or the
 * job's result record) into a quarantine record in one atomic step; then the item is
 * written. A crash in between leaves the record, which the next run writes (the same id).
 */
async function quarantine(deps: ConsumeDeps, job: ClaimedJob, key: Key, token: string | null, details: unknown, e: unknown, stalled = false): Promise<JobOutcome> {
  const { op, uri, kwargs, replayOf } = job.data;
  const now = Date.now();
  const item: QuarantineItem = {
    id: replayOf?.id ?? job.id,
    op,
    uri,
    cbArgs: [],
    kwargs: kwargs ?? {},
    error: serializeError(e),
    details: details === undefined ? undefined : safeJson(details),
    attempts: (replayOf?.attempts ?? 0) + job.attempt,
    firstFailedAt: replayOf?.firstFailedAt ?? now,
    lastFailedAt: now,
    worker: deps.workerId,
  };
  const record = await deps.backend.steps.quarantine(key, job.id, item, token);
  // A stalled job whose quarantine record was there already: writing it (or its onQuarantine)
  // is what killed the workers. Write the item once more, without the hook.
  const notify = !(stalled && record.item!.lastFailedAt !== item.lastFailedAt);
  if (!notify) deps.log.error(`onQuarantine of ${job.data.op} skipped: its worker died while quarantining this request before`, { uri: job.data.uri });
  return writeQuarantine(deps, job, record, notify);
}

async function writeQuarantine(deps: ConsumeDeps, job: ClaimedJob, record: Delivery, notify = true): Promise<JobOutcome> {
  const item = record.item!;
  await deps.backend.quarantine.put(item);
  deps.counters.add(item.op, 'failed');
  const spec = deps.ops.get(item.op);
  if (notify && spec?.onQuarantine) {
    try {
      await spec.onQuarantine(item);
    } catch (err) {
      deps.log.error(`onQuarantine of ${item.op} failed`, { error: (err as Error)?.message });
    }
  }
  return { type: 'quarantined', quarantineId: item.id, error: item.error };
}

/** Job data that is not ours has no pair to take cbArgs from: the item records it as it is. */
async function quarantineUnreadable(deps: ConsumeDeps, job: ClaimedJob, why: string): Promise<JobOutcome> {
  const d = (job.data ?? {}) as Partial<JobData>;
  const now = Date.now();
  const error = serializeError(new UnreadableJobError(`job ${job.id}: ${why}; it was not written by backache, so it is quarantined as it is`));
  const str = (v: unknown) => (typeof v === 'string' ? toWellFormed(v) : '');
  const item: QuarantineItem = {
    id: job.id,
    op: str(d.op) || '(unknown)',
    uri: str(d.uri),
    cbArgs: [],
    kwargs: {},
    error,
    details: safeJson(job.data),
    attempts: job.attempt,
    firstFailedAt: now,
    lastFailedAt: now,
    worker: deps.workerId,
  };
  await deps.backend.quarantine.put(item);
  deps.counters.add(item.op, 'failed');
  return { type: 'quarantined', quarantineId: item.id, error };
}

function safeJson(v: unknown) {
  try {
    return toJsonValue(v);
  } catch {
    return String(v);
  }
}
