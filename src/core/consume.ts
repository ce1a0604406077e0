/**
 * The worker side of one request (DESIGN.md §3 Consume): take the job; if the cache holds
 * a fresh entry use it; otherwise compute under the lock for (op, uri); store the entry
 * (under the URI and every redirect alias); take *all* pending cbArgs atomically; fire
 * `onResult` once with them; release. Every failure becomes a retry or a quarantine item.
 */
import { toMs } from './duration.js';
import { isFresh, isServable, makeEntry, toJsonValue } from './entry.js';
import { NotSerializableError, QuarantineSignal, RetrySignal, serializeError, TimeoutError } from './errors.js';
import { newId } from './hash.js';
import type { Logger, Operation, OperationContext } from './operations.js';
import type { Backend, ClaimedJob, ConsumeSteps, JobOutcome, Key, Locker, QuarantineItem, StoredEntry } from './ports.js';
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
}

export interface JobProgress {
  op: string;
  uri: string;
  jobId: string;
  attempt: number;
  progress: number;
}

export async function consumeJob(deps: ConsumeDeps, job: ClaimedJob, signal: AbortSignal): Promise<JobOutcome> {
  const { backend, ops, counters } = deps;
  const { op: name, uri } = job.data;
  const op = ops.get(name);
  if (!op) {
    const known = [...ops.keys()].join(', ') || '(none)';
    return quarantine(deps, job, undefined, new Error(`unknown operation "${name}": this worker knows ${known}`));
  }
  const key: Key = { ns: name, id: uri };
  const started = Date.now();
  const steps = stepsOf(backend);
  let token: string | null = null;
  try {
    // A fresh entry means someone already computed it: deliver, do not recompute.
    let entry: StoredEntry | undefined;
    if (steps) {
      const got = job.begun ?? (await beginOrWait(deps, steps, key, job.data.refresh, signal));
      if ('entry' in got) entry = got.entry;
      else token = got.token;
    } else {
      entry = await freshEntry(deps, key, job.data.refresh);
      if (!entry) {
        const got = await acquireOrWait(deps, key, job.data.refresh, signal);
        if ('entry' in got) entry = got.entry;
        else {
          token = got.token;
          entry = await freshEntry(deps, key, job.data.refresh); // computed while we waited?
        }
      }
    }
    let computed = false;
    let aliases: string[] = [];
    let store: { key: Key; entry: StoredEntry }[] = [];
    if (!entry) {
      const lockKeeper = keepLock(deps, key, token!);
      try {
        const r = await runOperation(deps, op, job, signal);
        aliases = r.aliases;
        const now = Date.now();
        const made = makeEntry(r.value, now, op.ttlMs(r.value), op.graceMs, uri);
        entry = made;
        store = [uri, ...aliases].map((id) => ({ key: { ns: name, id }, entry: made }));
        if (!steps) await backend.cache.setMany(store);
        computed = true;
      } finally {
        lockKeeper.stop();
      }
    }
    let cbArgs: unknown[];
    if (steps) {
      // Store, take the pending cbArgs and release the lock in one atomic step.
      cbArgs = await steps.finish(key, store, token);
      token = null;
    } else cbArgs = await backend.pending.takeAll(key);
    if (cbArgs.length > 0 && op.onResult) {
      try {
        await op.onResult(entry.value, cbArgs, { op: name, uri, jobId: job.id, aliases, computed, attempt: job.attempt });
      } catch (e) {
        // The entry is stored; the callback arguments must not be lost: quarantine them,
        // so a replay delivers them again (without recomputing).
        return quarantine(deps, job, undefined, wrapError(`onResult of ${name} failed`, e), cbArgs);
      }
    }
    if (computed) counters.duration(name, Date.now() - started);
    counters.add(name, 'completed');
    return { type: 'completed', result: { value: entry.value, cbArgs } };
  } catch (e) {
    if (e instanceof RetrySignal) {
      counters.add(name, 'retried');
      return { type: 'retry', delayMs: e.delayMs, kwargs: e.kwargs };
    }
    if (e instanceof QuarantineSignal) return quarantine(deps, job, e.details, e);
    if (e instanceof NotSerializableError || (e instanceof TimeoutError && op.retries === 0)) return quarantine(deps, job, undefined, e);
    if (job.attempt <= op.retries && !signal.aborted) {
      counters.add(name, 'retried');
      deps.log.warn(`${name} failed, retrying`, { uri, attempt: job.attempt, error: (e as Error)?.message });
      return { type: 'retry', delayMs: op.backoffMs(job.attempt) };
    }
    return quarantine(deps, job, undefined, e);
  } finally {
    if (token) await backend.locker.release(key, token).catch(() => {});
  }
}

/** The backend's combined steps, if it offers them for exactly the ports it holds now. */
export function stepsOf(b: Backend): ConsumeSteps | undefined {
  const s = b.steps;
  return s && s.cache === b.cache && s.locker === b.locker && s.pending === b.pending ? s : undefined;
}

/** ConsumeSteps.begin until we hold the lock or a fresh entry appears (as acquireOrWait). */
async function beginOrWait(deps: ConsumeDeps, steps: ConsumeSteps, key: Key, force: boolean | undefined, signal: AbortSignal): Promise<{ token: string } | { entry: StoredEntry }> {
  let wait = 10;
  for (;;) {
    const got = await steps.begin(key, deps.lockMs, !!force);
    if (!('busy' in got)) return got;
    if (signal.aborted) throw signal.reason ?? new Error('aborted');
    await sleep(wait, signal);
    wait = Math.min(wait * 2, 200);
  }
}

async function freshEntry(deps: ConsumeDeps, key: Key, force?: boolean): Promise<StoredEntry | undefined> {
  if (force) return undefined;
  const [e] = await deps.backend.cache.getMany([key]);
  return e && isFresh(e, Date.now()) ? e : undefined;
}

/**
 * Take the lock for (op, uri), or wait while someone else computes: if a fresh entry
 * appears meanwhile, return it instead (no recomputation).
 */
async function acquireOrWait(deps: ConsumeDeps, key: Key, force: boolean | undefined, signal: AbortSignal): Promise<{ token: string } | { entry: StoredEntry }> {
  let wait = 10;
  for (;;) {
    const token = await deps.backend.locker.acquire(key, deps.lockMs);
    if (token) return { token };
    if (signal.aborted) throw signal.reason ?? new Error('aborted');
    await sleep(wait, signal);
    wait = Math.min(wait * 2, 200);
    if (!force) {
      const entry = await freshEntry(deps, key);
      if (entry) return { entry };
    }
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
      this.timer = setInterval(() => this.tick(), Math.max(100, this.lockMs / 3));
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
      const [e] = await deps.backend.cache.getMany([{ ns: op.name, id: other }]);
      if (isServable(e, Date.now())) return e.value;
      aliases.push(other);
      return undefined;
    },
  };
  try {
    const running = callRun(op, uri, ctx);
    const raced =
      op.timeoutMs === null
        ? running
        : Promise.race([
            running,
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => {
                const err = new TimeoutError(`${op.name} timed out after ${op.timeoutMs} ms for ${uri}`);
                ctl!.abort(err);
                reject(err);
              }, op.timeoutMs!);
            }),
          ]);
    const raw = await raced;
    let value: unknown;
    try {
      value = toJsonValue(raw);
    } catch (e) {
      throw new NotSerializableError(`the result of ${op.name} is not JSON-serialisable: ${(e as Error).message}`);
    }
    return { value, aliases };
  } finally {
    clearTimeout(timer);
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

async function quarantine(deps: ConsumeDeps, job: ClaimedJob, details: unknown, e: unknown, taken?: unknown[]): Promise<JobOutcome> {
  const { backend } = deps;
  const { op, uri, kwargs, replayOf } = job.data;
  const now = Date.now();
  // Take the pending cbArgs with the item, so the next request starts a new job and a
  // replay delivers them.
  const cbArgs = taken ?? (await backend.pending.takeAll({ ns: op, id: uri }));
  const error = serializeError(e);
  const item: QuarantineItem = {
    id: replayOf?.id ?? newId(),
    op,
    uri,
    cbArgs,
    kwargs: kwargs ?? {},
    error,
    details: details === undefined ? undefined : safeJson(details),
    attempts: (replayOf?.attempts ?? 0) + job.attempt,
    firstFailedAt: replayOf?.firstFailedAt ?? now,
    lastFailedAt: now,
    worker: deps.workerId,
  };
  await backend.quarantine.put(item);
  deps.counters.add(op, 'failed');
  const spec = deps.ops.get(op);
  if (spec?.onQuarantine) {
    try {
      await spec.onQuarantine(item);
    } catch (err) {
      deps.log.error(`onQuarantine of ${op} failed`, { error: (err as Error)?.message });
    }
  }
  return { type: 'quarantined', quarantineId: item.id, error };
}

function safeJson(v: unknown) {
  try {
    return toJsonValue(v);
  } catch {
    return String(v);
  }
}
