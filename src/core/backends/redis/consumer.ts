import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { ClaimedJob, Consumer, ConsumerOptions, JobData, JobOutcome, JobResult, SerializedError } from '../../ports.js';
import { decodeEntry } from './cache.js';
import type { RedisKeys } from './keys.js';
import { defineScripts, runScript } from './scripts.js';

/**
 * backache's consumer of the BullMQ queues (one per operation): its own loop over BullMQ's
 * job layout instead of BullMQ's Worker, so that a batch of jobs costs one script call
 * rather than one per job (`queue-next-11.lua`: finish the jobs that ended since the last
 * call, then take the next ones). Per operation:
 *
 * - jobs that end in the same event-loop turn are finished by one step call, which also
 *   takes jobs for the free slots; a few calls may be in flight at once (see `pump`);
 * - when asked (ConsumerOptions.begin), the call that takes a job also does the engine's
 *   first step for it (the fresh entry, or the pair's lock), which saves a round trip;
 * - when a step takes fewer jobs than there are free slots, the loop waits on the queue's
 *   marker (BZPOPMIN on its own connection, as BullMQ's Worker does) which adds, retries,
 *   resumes and stalled-job moves set; it wakes at the next delayed job's due time at the
 *   latest, and after a rate limit's window when limited;
 * - leases are BullMQ locks (`<id>:lock` = `<consumer token>:<attemptsStarted>`), renewed
 *   every lease/2 for all running jobs of an operation in one call (`queue-extend-1.lua`);
 *   a job whose renewal fails has lost its lease: it is aborted and its outcome dropped;
 * - stalled jobs (active, no lock at two checks in a row: a worker that died) go back to
 *   wait (`queue-stalled-8.lua`), checked every `stalledIntervalMs` by one consumer;
 * - finished jobs are kept by count and age, trimmed in batches (`queue-trim-2.lua`).
 */
export interface RedisConsumerSettings {
  keys: RedisKeys;
  /** A new connection that waits through reconnects (maxRetriesPerRequest: null). */
  connect: () => Redis;
  leaseMs: number;
  stalledIntervalMs: number;
  keep: { count?: number; age?: number };
  trimEvery: number;
}

/** Outcome marker stored as the BullMQ returnvalue (read by `getState`). */
export type Marker =
  | { backache: 'completed'; result: JobResult }
  | { backache: 'quarantined'; quarantineId: string; error: SerializedError };

/** A finished job waiting for the next step call: id, token, kind, and two values (see the script). */
type Done = [id: string, token: string, kind: 'c' | 'r', a: string | number, b: string];

interface Run {
  token: string;
  ctl: AbortController;
  lost: boolean;
}

/** Finished jobs removed per trim call at most. */
const TRIM_BATCH = 5000;
/** Trim at least this often while an operation completes jobs. */
const TRIM_PERIOD_MS = 60_000;
/** Longest wait on a marker (a missed wake-up costs at most this). */
const BLOCK_MAX_S = 5;
/**
 * Step calls in flight per operation at most; each takes at most 1/TAKE_SHARE of the
 * concurrency. Measured at concurrency 50 (bench:drain): 10 jobs × 6 calls ran 0.92–1.19
 * of raw BullMQ, 25 × 2 0.84–1.13, one call of 50 at a time 0.63–0.72.
 */
const CALLS_MAX = 6;
const TAKE_SHARE = 5;
/** Pause before a step call is tried again after Redis refused it. */
const RETRY_MS = 500;

export const fromBullId = (id: string) => (id.startsWith('~') ? Buffer.from(id.slice(1), 'base64url').toString() : id);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());

function claimedJob(op: string, bullId: string, raw: string, ats: number, timestamp: number): ClaimedJob {
  let data: JobData;
  try {
    data = JSON.parse(raw) as JobData;
  } catch {
    // Not written by backache: the engine quarantines it as a job of an unknown operation.
    data = { op: `${op} (unreadable job data)`, uri: raw.slice(0, 200) } as JobData;
  }
  return { id: fromBullId(bullId), data, attempt: Math.max(1, ats), createdAt: Number(timestamp) };
}

class Shared {
  readonly token = randomBytes(9).toString('base64url');
  readonly conn: Redis;
  processed = 0;
  stopping = false;
  /** Resolved when a stop runs past its timeout: every running job is abandoned at once. */
  abandoned: Promise<'abandoned'>;
  abandonAll!: () => void;
  private idleWaiters: (() => void)[] = [];
  loops: OpLoop[] = [];

  constructor(
    readonly s: RedisConsumerSettings,
    readonly opts: ConsumerOptions,
  ) {
    this.conn = s.connect();
    this.conn.on('error', () => {}); // reconnects by itself; commands wait for it
    defineScripts(this.conn);
    this.abandoned = new Promise((r) => (this.abandonAll = () => r('abandoned')));
  }

  /** Resolves once no job runs and no finished job waits to be recorded. */
  idle() {
    return new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      this.checkIdle();
    });
  }

  checkIdle() {
    if (this.idleWaiters.length === 0 || !this.loops.every((l) => l.settled())) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}

/** The loop of one operation's queue. */
class OpLoop {
  readonly running = new Map<string, Run>();
  private done: Done[] = [];
  /** Step calls in flight, and the slots they may fill. */
  private calls = 0;
  private reserved = 0;
  private scheduled = false;
  /** The last take came back short: wait for the marker before taking again. */
  private hungry = false;
  private limitedUntil = 0;
  private nextDelayed = 0;
  private blocker?: Redis;
  private blocking = false;
  private sinceTrim = 0;
  private lastTrim = Date.now();
  private trimming = false;
  private readonly prefix: string;
  private readonly stepKeys: string[];
  private readonly concurrency: number;
  private readonly takeMax: number;
  private readonly limit: [string, number];
  /** Lock ttl for the first step done with each take (ConsumerOptions.begin), or "". */
  private readonly beginTtl: string;
  private readonly tag: string;

  constructor(
    private readonly sh: Shared,
    readonly op: string,
  ) {
    const k = (type: string) => sh.s.keys.queueKey(op, type);
    this.prefix = k('');
    this.stepKeys = [k('wait'), k('active'), k('prioritized'), k('events'), k('limiter'), k('delayed'), k('paused'), k('meta'), k('pc'), k('marker'), k('completed')];
    this.concurrency = Math.max(1, Math.floor(sh.opts.concurrency(op)));
    this.takeMax = Math.ceil(this.concurrency / TAKE_SHARE);
    this.beginTtl = sh.opts.begin ? String(Math.max(1, Math.ceil(sh.opts.begin.lockMs))) : '';
    this.tag = sh.s.keys.tag(op);
    const rl = sh.opts.rateLimit?.(op);
    this.limit = rl ? [String(Math.max(1, Math.floor(rl.max))), Math.max(1, Math.round(rl.perMs))] : ['', 0];
  }

  settled() {
    return this.running.size === 0 && this.done.length === 0 && this.calls === 0;
  }

  /** Run step calls after this event-loop turn (so the turn's endings go together). */
  kick() {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private want() {
    if (this.sh.stopping || this.hungry || Date.now() < this.limitedUntil) return 0;
    return Math.min(this.takeMax, Math.max(0, this.concurrency - this.running.size - this.reserved));
  }

  /**
   * Send step calls while there are finished jobs to record or free slots, up to CALLS_MAX
   * at once. Taking in several smaller batches keeps them out of step with each other, so
   * this process works on one batch while Redis runs the next (one batch of 50 would
   * alternate: everyone waits for Redis, then Redis waits for everyone).
   */
  private pump() {
    while (this.calls < CALLS_MAX) {
      const want = this.want();
      if (this.done.length === 0 && want === 0) return;
      const done = this.done;
      this.done = [];
      this.calls++;
      this.reserved += want;
      void this.step(done, want).finally(() => {
        this.calls--;
        this.reserved -= want;
        this.pump();
        this.sh.checkIdle();
      });
    }
  }

  private async step(done: Done[], want: number) {
    const args: (string | number)[] = [this.prefix, Date.now(), this.sh.token, this.sh.s.leaseMs, want, this.limit[0], this.limit[1], this.beginTtl, this.tag];
    for (const d of done) args.push(...d);
    let reply: (string | number)[];
    try {
      reply = await runScript<(string | number)[]>(this.sh.conn, 'queue-next-11', this.stepKeys, args);
    } catch {
      // Redis refused the call (or the connection ended on stop): keep the finished jobs
      // for the next try (their leases are still renewed meanwhile).
      if (this.sh.stopping && this.sh.conn.status === 'end') return;
      this.done.push(...done);
      await sleep(RETRY_MS);
      return;
    }
    this.took(reply, want);
  }

  private took(reply: (string | number)[], want: number) {
    const taken = (reply.length - 3) / 5;
    for (let i = 3; i < reply.length; i += 5) {
      this.run(String(reply[i]), String(reply[i + 1]), Number(reply[i + 2]), Number(reply[i + 3]), String(reply[i + 4]));
    }
    if (taken >= want || this.sh.stopping) return;
    const ttl = Number(reply[1]);
    if (ttl > 0) {
      this.limitedUntil = Date.now() + ttl;
      setTimeout(() => this.kick(), ttl).unref?.();
      return;
    }
    this.hungry = true;
    this.nextDelayed = Number(reply[2]);
    this.block();
  }

  /** Wait on the queue's marker (new, resumed, due or moved-back jobs), then take again. */
  private block() {
    if (this.blocking || this.sh.stopping) return;
    this.blocking = true;
    const conn = (this.blocker ??= this.newBlocker());
    const untilDue = this.nextDelayed > 0 ? (this.nextDelayed - Date.now()) / 1000 : BLOCK_MAX_S;
    const timeout = Math.min(BLOCK_MAX_S, Math.max(0.01, untilDue));
    conn.bzpopmin(this.stepKeys[9]!, timeout.toFixed(3)).then(
      () => this.woken(),
      () => sleep(100).then(() => this.woken()),
    );
  }

  private newBlocker() {
    const c = this.sh.s.connect();
    c.on('error', () => {});
    return c;
  }

  private woken() {
    this.blocking = false;
    if (this.sh.stopping) return;
    this.hungry = false;
    this.kick();
  }

  private run(bullId: string, raw: string, ats: number, timestamp: number, begun: string) {
    const job = claimedJob(this.op, bullId, raw, ats, timestamp);
    const r: Run = { token: `${this.sh.token}:${ats}`, ctl: new AbortController(), lost: false };
    if (begun === 'L') job.begun = { token: `${r.token}:${bullId}` };
    else if (begun.startsWith('E')) {
      // Another URI's entry under the same hash (a collision) is not ours: the engine begins itself.
      const entry = decodeEntry(begun.slice(1), job.data.uri, Date.now());
      if (entry) job.begun = { entry };
    }
    this.running.set(bullId, r);
    let outcome: Promise<JobOutcome | 'abandoned'>;
    try {
      outcome = Promise.race([this.sh.opts.handler(job, r.ctl.signal), this.sh.abandoned]);
    } catch (e) {
      outcome = Promise.reject(e);
    }
    outcome.then(
      (o) => this.ended(bullId, r, job, o),
      // The handler must not throw; if it does, the job comes back later, as if its lease ran out.
      () => this.ended(bullId, r, job, { type: 'retry', delayMs: this.sh.s.leaseMs }),
    );
  }

  private ended(bullId: string, r: Run, job: ClaimedJob, o: JobOutcome | 'abandoned') {
    this.running.delete(bullId);
    // Lease lost, or abandoned by a stop past its timeout: the job now belongs to whoever
    // takes it next (its lock runs out); our outcome is dropped.
    if (o !== 'abandoned' && !r.lost) {
      this.sh.processed++;
      if (o.type === 'retry') {
        const data = o.kwargs ? JSON.stringify({ ...job.data, kwargs: o.kwargs }) : '';
        this.done.push([bullId, r.token, 'r', Date.now() + Math.max(0, Math.ceil(o.delayMs)), data]);
      } else {
        const m: Marker =
          o.type === 'completed' ? { backache: 'completed', result: o.result } : { backache: 'quarantined', quarantineId: o.quarantineId, error: o.error };
        this.done.push([bullId, r.token, 'c', JSON.stringify(m), '']);
        this.trimSoon();
      }
    }
    this.kick();
    this.sh.checkIdle();
  }

  /** Renew the leases of every running job (one call); abort those whose lease was lost. */
  async extend() {
    if (this.running.size === 0) return;
    const args: (string | number)[] = [this.prefix, this.sh.s.leaseMs];
    for (const [id, r] of this.running) args.push(id, r.token);
    let lost: string[];
    try {
      lost = await runScript<string[]>(this.sh.conn, 'queue-extend-1', [this.sh.s.keys.queueKey(this.op, 'stalled')], args);
    } catch {
      return; // Redis unreachable: the next renewal tries again (the lease is twice the period)
    }
    for (const id of lost) {
      const r = this.running.get(id);
      if (!r || r.lost) continue;
      r.lost = true;
      r.ctl.abort(new Error('lease lost'));
    }
  }

  async checkStalled() {
    const k = (type: string) => this.sh.s.keys.queueKey(this.op, type);
    const keys = [k('stalled'), k('wait'), k('active'), k('stalled-check'), k('meta'), k('paused'), k('marker'), k('events')];
    await runScript(this.sh.conn, 'queue-stalled-8', keys, [this.prefix, Date.now(), this.sh.s.stalledIntervalMs]).catch(() => {});
  }

  private trimSoon() {
    const { count, age } = this.sh.s.keep;
    if ((count === undefined || count < 0) && age === undefined) return;
    this.sinceTrim++;
    if (this.trimming || (this.sinceTrim < this.sh.s.trimEvery && Date.now() - this.lastTrim < TRIM_PERIOD_MS)) return;
    this.sinceTrim = 0;
    this.lastTrim = Date.now();
    this.trimming = true;
    const cutoff = age !== undefined ? Date.now() - age * 1000 : '';
    const keep = count !== undefined && count >= 0 ? count : '';
    runScript(this.sh.conn, 'queue-trim-2', [this.sh.s.keys.queueKey(this.op, 'completed'), this.prefix], [keep, TRIM_BATCH, cutoff])
      .catch(() => {}) // the next batch tries again
      .finally(() => (this.trimming = false));
  }

  /** Stop waiting on the marker. */
  unblock() {
    this.blocker?.disconnect();
  }
}

export function startRedisConsumer(settings: RedisConsumerSettings, opts: ConsumerOptions, onStopped: () => void): Consumer {
  const sh = new Shared(settings, opts);
  sh.loops = [...new Set(opts.ops)].map((op) => new OpLoop(sh, op));
  const renew = setInterval(() => sh.loops.forEach((l) => void l.extend()), Math.max(50, Math.floor(settings.leaseMs / 2)));
  const stalled = setInterval(() => sh.loops.forEach((l) => void l.checkStalled()), settings.stalledIntervalMs);
  renew.unref?.();
  stalled.unref?.();
  for (const l of sh.loops) {
    void l.checkStalled();
    l.kick();
  }

  let stopping: Promise<void> | undefined;
  return {
    get processed() {
      return sh.processed;
    },
    stop: (timeoutMs = 10_000) =>
      (stopping ??= (async () => {
        // Graceful: stop taking jobs, let running ones finish and be recorded (up to the timeout).
        sh.stopping = true;
        for (const l of sh.loops) l.unblock();
        const finished = await Promise.race([sh.idle().then(() => true), sleep(timeoutMs).then(() => false)]);
        if (!finished) {
          // Past the bound: abort and abandon what still runs; its lock runs out and
          // another worker takes the job again. Our late outcome is dropped.
          for (const l of sh.loops) for (const r of l.running.values()) r.ctl.abort(new Error('worker stopped'));
          sh.abandonAll();
          await Promise.race([sh.idle(), sleep(Math.max(1000, Math.min(5000, timeoutMs)))]);
        }
        clearInterval(renew);
        clearInterval(stalled);
        sh.conn.disconnect();
        onStopped();
      })()),
  };
}
