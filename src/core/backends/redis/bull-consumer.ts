import type { Job, KeepJobs, Worker } from 'bullmq';
import { bullmq } from './bullmq.js';
import type { ClaimedJob, Consumer, ConsumerOptions, JobData, JobOutcome } from '../../ports.js';
import { closeRedis, type RedisClient } from './connection.js';
import type { RedisKeys } from './keys.js';

/**
 * The consumer of the Redis job queue: one BullMQ `Worker` per operation (per shard of an
 * operation with `shards`, sharing its concurrency and rate limit), each on its own
 * connection (plus the blocking one BullMQ duplicates from it), with the operation's
 * concurrency and rate limit (`limiter`), the lease as `lockDuration`, BullMQ's lock
 * renewal and stalled-job checks. The processor hands each job to the engine's handler
 * and records its outcome the BullMQ way:
 *
 * - completed → the job completes with the marker `{ backache: 1, cbArgs, deliveryId }`;
 * - quarantined → the processor throws the item's error: the job ends in BullMQ's failed
 *   set (jobs have `attempts: 1`, so BullMQ never retries them itself);
 * - retry → new kwargs with `updateData`, then `moveToDelayed` and BullMQ's DelayedError;
 * - handback → `moveToWait` and BullMQ's WaitingError (neither failed nor an attempt).
 *
 * `attempt` is BullMQ's `attemptsStarted` (one more every time the job becomes active:
 * a retry and a re-take after a stall count) minus the hand-backs, which the job data
 * counts (`handbacks`, written just before `moveToWait`). `stalls` is BullMQ's
 * `stalledCounter`, for operators only: the engine counts deaths itself.
 *
 * Each job has an AbortController of ours, aborted when `stop()` passes its timeout, when
 * BullMQ reports that the job's lock could not be renewed (`lockRenewalFailed`: the lease
 * is lost; the job is no longer ours, its outcome is dropped and BullMQ's stalled check
 * gives it to the next worker). The processor takes two parameters, so BullMQ makes no
 * AbortController of its own per job (it does for a processor of three): `Worker.cancelJob`
 * does not reach backache's runs.
 */
export interface BullConsumerSettings {
  keys: RedisKeys;
  /** A new connection that waits through reconnects (maxRetriesPerRequest: null). */
  connect: () => RedisClient;
  leaseMs: number;
  stalledIntervalMs: number;
  keep: KeepJobs;
  /** Re-read the operations' shard layouts (a layout introduced since the consumer started). */
  refreshLayouts?: () => Promise<void>;
  /** Whether the queue under a tag holds jobs (waiting, delayed or active). */
  holdsJobs?: (tag: string) => Promise<boolean>;
  /** Operations paused (JobQueue.pause), and how to pause one queue of theirs. */
  pausedOps?: () => Promise<string[]>;
  pauseQueue?: (tag: string) => Promise<void>;
}

/**
 * Shard `i` of `n`'s part of an operation's rate limit (BullMQ's limiter is per queue), so
 * the shards together allow `max` per `perMs`: `max` split as evenly as integers allow, or,
 * below one job per shard, one job per a longer period each. A queue of an earlier layout
 * (`i === n`) gets a part as small as the smallest.
 */
export function limiterOf(rl: { max: number; perMs: number } | undefined, n: number, i: number) {
  if (!rl) return undefined;
  if (n <= 1) return { max: rl.max, duration: rl.perMs };
  if (rl.max < n) return { max: 1, duration: Math.ceil((rl.perMs * n) / rl.max) };
  return { max: Math.floor(rl.max / n) + (i < rl.max % n ? 1 : 0), duration: rl.perMs };
}

/** How often a consumer looks for shard layouts introduced since it started. */
const LAYOUT_CHECK_MS = 5000;

/** What a completed job returns to BullMQ: who was told, under which delivery (never the value). */
export interface Marker {
  backache: 1;
  cbArgs: unknown[];
  deliveryId: string;
}

export const isMarker = (m: unknown): m is Marker => !!m && typeof m === 'object' && (m as Marker).backache === 1 && Array.isArray((m as Marker).cbArgs);

/**
 * BullMQ refuses custom ids that are integers or contain `:`; such ids (and ids that look
 * encoded) are stored as `~` + base64url, reversibly.
 */
export const toBullId = (id: string) => (`${parseInt(id, 10)}` === id || id.includes(':') || id.startsWith('~') ? `~${Buffer.from(id).toString('base64url')}` : id);
export const fromBullId = (id: string) => (id.startsWith('~') ? Buffer.from(id.slice(1), 'base64url').toString() : id);

/**
 * Job data as stored: backache's, plus how often the job was handed back and, when it is
 * not the one getState derives (`replayOf.id`, else the job id), the quarantine item's id.
 */
export type StoredData = JobData & { handbacks?: number; quarantineId?: string };

interface Run {
  claimed: ClaimedJob;
  ctl: AbortController;
  /** The lease was lost: the job is no longer ours, whatever the handler answers. */
  lost: boolean;
  /** Once aborted: stop waiting for the handler (the grace has passed). */
  giveUp?: () => void;
  outcome?: JobOutcome;
}

/** How long a Worker with no job running may take to close before its connections are dropped. */
const CLOSE_STUCK_MS = 3000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());

function claimedJob(job: Job, place: string): ClaimedJob {
  const raw = job.data as StoredData | undefined;
  let data = raw as JobData;
  let handbacks = 0;
  if (raw && typeof raw === 'object' && !Array.isArray(raw) && ('handbacks' in raw || 'quarantineId' in raw)) {
    const { handbacks: h, quarantineId: _, ...rest } = raw;
    handbacks = Number(h) || 0;
    data = rest;
  }
  return {
    id: fromBullId(job.id!),
    data,
    attempt: Math.max(1, job.attemptsStarted - handbacks),
    stalls: job.stalledCounter ?? 0,
    createdAt: job.timestamp,
    progress: (n) => job.updateProgress(n),
    place,
  };
}

/** The error a quarantined job fails with: BullMQ keeps its message as `failedReason`, its stack in `stacktrace`. */
function failure(outcome: Extract<JobOutcome, { type: 'quarantined' }>) {
  const err = new Error(outcome.error.message);
  err.name = outcome.error.name;
  const frames = (outcome.error.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l));
  err.stack = [`${err.name}: ${err.message.split('\n', 1)[0]}`, ...frames].join('\n');
  return err;
}

class Shared {
  /** BullMQ's module, loaded before the first Worker starts. */
  bull!: typeof import('bullmq');
  processed = 0;
  /** Set when a stop passed its timeout: running jobs are aborted, new ones handed back at once. */
  hard = false;
  /** After an abort, how long a handler may take to answer before the job is handed back for it. */
  graceMs = 1000;
  readonly running = new Map<string, Run>();
  readonly runs = new WeakMap<Job, Run>();
  constructor(readonly opts: ConsumerOptions) {}

  recorded(run: Run) {
    if (run.outcome?.type === 'completed' || run.outcome?.type === 'quarantined') this.processed++;
    try {
      this.opts.recorded?.(run.claimed, run.outcome!);
    } catch {
      /* a listener must not break the worker */
    }
  }

  abortAll(reason: Error) {
    for (const run of this.running.values()) abort(this, run, reason);
  }
}

/** The handler's outcome; once aborted, a handler that does not answer within the grace hands back. */
function outcomeOf(sh: Shared, run: Run): Promise<JobOutcome> {
  if (run.ctl.signal.aborted) return Promise.resolve({ type: 'handback' });
  const handled = sh.opts.handler(run.claimed, run.ctl.signal);
  handled.catch(() => {}); // a late rejection after the grace is nobody's to handle
  // Raced only once aborted (abort() below), so a run that is never aborted costs no listener.
  return Promise.race([handled, new Promise<JobOutcome>((resolve) => (run.giveUp = () => resolve({ type: 'handback' })))]);
}

/** Abort a run; if its handler has not answered after the grace, hand the job back for it. */
function abort(sh: Shared, run: Run, reason: Error) {
  if (run.ctl.signal.aborted) return;
  run.ctl.abort(reason);
  void sleep(sh.graceMs).then(() => run.giveUp?.());
}

/**
 * Runs at most `n` handlers at once across the Workers of one operation's shards (each
 * Worker claims up to its share, rounded up, so a few claimed jobs may wait here).
 */
class Gate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly n: number) {}
  async enter(signal: AbortSignal) {
    if (this.running < this.n || signal.aborted) {
      this.running++;
      return;
    }
    await new Promise<void>((resolve) => {
      const go = () => {
        signal.removeEventListener('abort', go);
        const i = this.waiting.indexOf(go);
        if (i >= 0) this.waiting.splice(i, 1);
        this.running++;
        resolve();
      };
      this.waiting.push(go);
      signal.addEventListener('abort', go, { once: true });
    });
  }
  leave() {
    this.running--;
    this.waiting[0]?.();
  }
}

function processor(sh: Shared, place: string, gate: Gate) {
  return async (job: Job, token: string | undefined) => {
    const run: Run = { claimed: claimedJob(job, place), ctl: new AbortController(), lost: false };
    sh.runs.set(job, run);
    sh.running.set(job.id!, run);
    if (sh.hard) run.ctl.abort(new Error('worker stopped'));
    try {
      let outcome: JobOutcome;
      try {
        await gate.enter(run.ctl.signal);
        try {
          outcome = await outcomeOf(sh, run);
        } finally {
          gate.leave();
        }
      } catch {
        // The handler never throws unless the backend failed under it: leave the job as it
        // is; its lock runs out and BullMQ's stalled check gives it to the next worker.
        throw new sh.bull.WaitingError();
      }
      run.outcome = outcome;
      // A job whose lease was lost belongs to whoever takes it next: drop the outcome.
      if (run.lost) throw new sh.bull.WaitingError();
      switch (outcome.type) {
        case 'completed':
          return { backache: 1, cbArgs: outcome.result.cbArgs, deliveryId: outcome.result.deliveryId } satisfies Marker;
        case 'quarantined': {
          const d = job.data as StoredData;
          const derived = d?.replayOf?.id ?? run.claimed.id;
          if (outcome.quarantineId !== derived && d && typeof d === 'object') await job.updateData({ ...d, quarantineId: outcome.quarantineId }).catch(() => {});
          throw failure(outcome);
        }
        case 'retry':
          await move(async () => {
            if (outcome.kwargs) await job.updateData({ ...(job.data as StoredData), kwargs: outcome.kwargs });
            await job.moveToDelayed(Date.now() + Math.max(0, outcome.delayMs), token);
          }, sh, run);
          throw new sh.bull.DelayedError();
        case 'handback':
          await move(async () => {
            const d = job.data as StoredData;
            if (d && typeof d === 'object' && !Array.isArray(d)) await job.updateData({ ...d, handbacks: (Number(d.handbacks) || 0) + 1 });
            await job.moveToWait(token);
          }, sh, run);
          throw new sh.bull.WaitingError();
      }
    } finally {
      sh.running.delete(job.id!);
    }
  };
}

/**
 * Move a job we still hold (retry, handback), then tell `recorded`. A move that fails
 * (the lock was lost meanwhile) leaves the job to BullMQ's stalled check.
 */
async function move(fn: () => Promise<void>, sh: Shared, run: Run) {
  try {
    await fn();
  } catch {
    throw new sh.bull.WaitingError();
  }
  sh.recorded(run);
}

export function startBullConsumer(s: BullConsumerSettings, opts: ConsumerOptions, onStopped: () => void): Consumer {
  const sh = new Shared(opts);
  const conns: RedisClient[] = [];
  // One Worker per queue of each operation: one per shard of its current layout, and one for
  // each queue of an earlier layout that still holds jobs (looked at again every few seconds).
  // They share the operation's concurrency (a Gate keeps the sum exact) and its rate limit.
  const workers: Worker[] = [];
  const consumed = new Set<string>();
  const gates = new Map<string, Gate>();
  let stopping = false;
  const startMissing = async (bull: typeof import('bullmq')) => {
    const paused = new Set((await s.pausedOps?.()) ?? []);
    for (const op of opts.ops) {
      const current = s.keys.layouts.tagsAt(op, s.keys.layouts.count(op));
      const concurrency = Math.max(1, opts.concurrency(op));
      let gate = gates.get(op);
      if (!gate) gates.set(op, (gate = new Gate(concurrency)));
      for (const tag of s.keys.layouts.tagsOf(op)) {
        if (consumed.has(tag) || stopping) continue;
        if (!current.includes(tag) && !(await s.holdsJobs?.(tag))) continue; // an earlier layout's queue, empty
        if (paused.has(op)) await s.pauseQueue?.(tag); // a queue the operation's pause did not know
        consumed.add(tag);
        const i = current.indexOf(tag);
        workers.push(startWorker(bull, op, tag, Math.ceil(concurrency / current.length), limiterOf(opts.rateLimit?.(op), current.length, i < 0 ? current.length : i), gate));
      }
    }
  };
  const ready: Promise<Worker[]> = bullmq().then(async (bull) => {
    sh.bull = bull;
    await startMissing(bull);
    return workers;
  });
  ready.catch(() => {}); // seen by stop()
  let checking = false;
  const layoutTimer = s.refreshLayouts
    ? setInterval(() => {
        if (checking || stopping || !sh.bull) return;
        checking = true;
        s.refreshLayouts!()
          .then(() => (stopping ? undefined : startMissing(sh.bull)))
          .catch(() => {}) // Redis away: the next check tries again
          .finally(() => (checking = false));
      }, LAYOUT_CHECK_MS)
    : undefined;
  layoutTimer?.unref?.();
  const startWorker = (bull: typeof import('bullmq'), op: string, tag: string, concurrency: number, limiter: { max: number; duration: number } | undefined, gate: Gate) => {
    const conn = s.connect();
    conn.on('error', () => {}); // reconnects by itself; commands wait for it
    conns.push(conn);
    const w = new bull.Worker('jobs', processor(sh, tag, gate), {
      connection: conn,
      prefix: tag,
      ...(opts.workerId ? { name: opts.workerId } : {}), // BullMQ records it on each job it takes (processedBy)
      concurrency,
      ...(limiter ? { limiter } : {}),
      lockDuration: s.leaseMs,
      stalledInterval: s.stalledIntervalMs,
      // The engine counts deaths itself (runs that began and never ended, see WorkerSteps) and
      // quarantines with the cbArgs; BullMQ also counts a lease lost under a live worker or a
      // take whose reply was lost, so its own limit is only a far bound for jobs that kill
      // their worker before the engine ever begins them.
      maxStalledCount: ((opts.maxStalls?.(op) ?? 1) + 1) * 10,
      removeOnComplete: s.keep,
      removeOnFail: s.keep,
    });
    w.on('error', () => {}); // connection errors and lost locks; BullMQ retries by itself
    w.on('lockRenewalFailed', (ids) => {
      for (const id of ids) {
        const run = sh.running.get(id);
        if (!run) continue;
        run.lost = true;
        abort(sh, run, new Error('lease lost: the job lock could not be renewed'));
      }
    });
    const done = (job: Job | undefined) => {
      const run = job && sh.runs.get(job);
      if (run?.outcome) sh.recorded(run);
    };
    w.on('completed', done);
    w.on('failed', done);
    return w;
  };

  /**
   * Close one Worker. A Worker whose blocking connection is stuck (seen on a Redis Cluster
   * after a master died under it: the duplicate connection keeps retrying the old node) may
   * never finish closing; once none of the consumer's jobs runs for `CLOSE_STUCK_MS`, its
   * connections are dropped (`Worker.disconnect`) and it is left.
   */
  const closeWorker = async (w: Worker) => {
    const closed = w.close().then(
      () => true,
      () => true,
    );
    let idleSince: number | undefined;
    for (;;) {
      if (await Promise.race([closed, sleep(250).then(() => false)])) return;
      if (sh.running.size > 0) idleSince = undefined;
      else if ((idleSince ??= Date.now()) + CLOSE_STUCK_MS <= Date.now()) {
        await Promise.race([w.disconnect().catch(() => {}), sleep(1000)]);
        await Promise.race([closed, sleep(1000)]);
        return;
      }
    }
  };
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= ((stopping = true), clearInterval(layoutTimer), ready)
      .then((all) => Promise.all(all.map((w) => closeWorker(w))))
      .catch(() => {})
      .then(async () => {
        await Promise.all(conns.map((c) => closeRedis(c)));
        onStopped();
      }));
  return {
    get processed() {
      return sh.processed;
    },
    runningJobs() {
      return [...sh.running.values()].map((r) => r.claimed.id);
    },
    async stop(timeoutMs = 10_000) {
      const all = close();
      let timer: NodeJS.Timeout | undefined;
      const inTime = await Promise.race([all.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), Math.max(0, timeoutMs))))]);
      clearTimeout(timer);
      if (!inTime) {
        // Past the bound: what still runs is aborted and handed back (handlers answer
        // handback; one that does not within the grace is handed back for it).
        sh.graceMs = Math.min(1000, Math.max(100, timeoutMs));
        sh.hard = true;
        sh.abortAll(new Error('worker stopped'));
      }
      await all;
    },
  };
}
