import type { Job, JobsOptions, KeepJobs, Queue } from 'bullmq';
import { bullmq } from './bullmq.js';
import type { RedisClient } from './connection.js';
import type { Consumer, ConsumerOptions, JobData, JobInfo, JobListState, JobQueue, JobState, NewJob } from '../../ports.js';
import { fromBullId, isMarker, startBullConsumer, toBullId, type StoredData } from './bull-consumer.js';
import { idHash, type RedisKeys } from './keys.js';
import { clearArea } from './scan.js';
import { refreshLayouts } from './layouts.js';

/**
 * The job queue on BullMQ's public API: one BullMQ queue per operation, named `jobs` with
 * the prefix `{P:N}`, so every key of an operation's queue carries the operation's hash tag
 * (one queue per shard, prefix `{P:N~j}`, for an operation with `shards`: a job goes to the
 * queue of its pair's shard, where its pending requests are).
 *
 * - `Queue.addBulk` adds (one call per operation and batch) under backache's job ids, so
 *   adding an id that exists is a no-op and a pair never has two jobs;
 * - one BullMQ `Worker` per operation consumes (bull-consumer.ts), with the operation's
 *   concurrency, rate limit, the lease as lock duration, and BullMQ's stalled-job checks;
 * - a completed job keeps a small marker `{ backache: 1, cbArgs, deliveryId }` as its
 *   return value (the value itself is in the cache); a quarantined one is a BullMQ
 *   *failed* job with the error as `failedReason`; so BullMQ's tools read the truth;
 * - finished jobs are kept by count and age (the Worker's `removeOnComplete`/`removeOnFail`,
 *   which BullMQ applies to jobs without their own), for `getState`/`waitFor`.
 */

export interface RedisQueueSettings {
  /** Finished jobs kept for `getState`/`waitFor`: count (default 10,000) and age (default 1 h). */
  keepFinished?: { count?: number; ageMs?: number };
  /** BullMQ's stalled-job check period; default lease / 4 (bounded to 50 ms … 15 s). */
  stalledIntervalMs?: number;
  /** Approximate bound of each operation's BullMQ events stream (default 1,000). */
  eventsMaxLen?: number;
  /** A new connection for one BullMQ Worker (maxRetriesPerRequest: null). */
  workerConnection: () => RedisClient;
}

const MAX_PRIORITY = 2_097_152;

/** BullMQ's KeepJobs (age in seconds) from backache's settings. */
export function keepJobs(k: RedisQueueSettings['keepFinished'] = {}): KeepJobs {
  return { count: k.count ?? 10_000, age: Math.max(1, Math.ceil((k.ageMs ?? 3600_000) / 1000)) };
}

/** The name BullMQ keeps in `stacktrace`'s first line (`Name: message`), or Error. */
function errorName(job: Job) {
  const first = job.stacktrace?.at(-1)?.split('\n', 1)[0] ?? '';
  return /^([A-Za-z_$][\w$]*): /.exec(first)?.[1] ?? 'Error';
}

/** A BullMQ job's state as a JobState (see `getState`). */
function stateOf(job: Job, state: string, id: string): JobState {
  const data = (job.data ?? {}) as Partial<StoredData>;
  switch (state) {
    case 'active':
      return { state: 'active' };
    case 'delayed':
      return { state: 'delayed' };
    case 'waiting':
    case 'prioritized':
    case 'waiting-children':
      return { state: 'waiting' };
    case 'completed': {
      const m = job.returnvalue;
      const result = isMarker(m) ? { cbArgs: m.cbArgs, deliveryId: m.deliveryId } : { cbArgs: [], deliveryId: '' };
      return { state: 'completed', result, op: String(data.op ?? ''), uri: String(data.uri ?? '') };
    }
    case 'failed':
      return { state: 'quarantined', quarantineId: data.quarantineId ?? data.replayOf?.id ?? id, error: { name: errorName(job), message: job.failedReason ?? '' } };
    default:
      return { state: 'unknown' };
  }
}

/** The BullMQ job types of each state `list` selects by, in the order BullMQ takes them. */
const BULL_TYPES: Record<JobListState, ('wait' | 'prioritized' | 'active' | 'delayed' | 'completed' | 'failed')[]> = {
  waiting: ['wait', 'prioritized'],
  active: ['active'],
  delayed: ['delayed'],
  completed: ['completed'],
  failed: ['failed'],
};

/** BullMQ's state of a job (`Queue.getJobState`) as a listed state. */
const LISTED: Record<string, JobListState> = { waiting: 'waiting', prioritized: 'waiting', 'waiting-children': 'waiting', active: 'active', delayed: 'delayed', completed: 'completed', failed: 'failed' };

/** A BullMQ job as JobInfo (`jobs list|show`); the bookkeeping fields of StoredData are left out of `data`. */
function infoOf(job: Job, state: JobListState): JobInfo {
  const raw = (job.data ?? {}) as StoredData;
  const { handbacks, quarantineId: _q, ...data } = raw && typeof raw === 'object' && !Array.isArray(raw) ? raw : ({} as StoredData);
  const id = fromBullId(job.id!);
  const ended = state === 'completed' || state === 'failed' ? stateOf(job, state, id) : undefined;
  return {
    id,
    op: String(data.op ?? ''),
    uri: String(data.uri ?? ''),
    state,
    data: data as JobData,
    priority: job.priority ?? 0,
    attempts: Math.max(0, (job.attemptsStarted ?? 0) - (Number(handbacks) || 0)),
    stalls: job.stalledCounter ?? 0,
    createdAt: job.timestamp,
    ...(job.processedOn ? { startedAt: job.processedOn } : {}),
    ...(job.finishedOn ? { finishedAt: job.finishedOn } : {}),
    // BullMQ keeps a retry's delay from when it was moved, which it does not record: only a job
    // added delayed (never run) says when it is due.
    ...(state === 'delayed' && !job.processedOn ? { runAt: job.timestamp + (job.delay ?? 0) } : {}),
    ...(job.processedBy ? { worker: job.processedBy } : {}),
    ...(job.progress !== undefined && job.progress !== 0 ? { progress: job.progress } : {}),
    ...(ended?.state === 'completed' ? { result: ended.result } : {}),
    ...(ended?.state === 'quarantined' ? { quarantineId: ended.quarantineId, error: ended.error } : {}),
    // The queue's prefix: the tag of the operation or of its shard, where the pair's keys are.
    place: job.prefix,
  };
}

export class RedisJobQueue implements JobQueue {
  readonly kind = 'bullmq';
  private queues = new Map<string, Promise<Queue>>();
  /** Where recently seen ids live (so getState needs no probe); bounded. */
  private opOf = new Map<string, string>();
  private consumers = new Set<Consumer>();
  private readonly keep: KeepJobs;

  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    private readonly settings: RedisQueueSettings,
  ) {
    this.keep = keepJobs(settings.keepFinished);
  }

  /** The BullMQ queue under one tag (an operation's, or a shard's; created once, sharing our connection). */
  queue(tag: string): Promise<Queue> {
    let q = this.queues.get(tag);
    if (!q) {
      q = bullmq().then(({ Queue }) => {
        const queue = new Queue('jobs', {
          connection: this.client,
          prefix: tag,
          streams: { events: { maxLen: this.settings.eventsMaxLen ?? 1000 } },
        });
        queue.on('error', () => {}); // connection errors: ioredis reconnects; callers see failed commands
        return queue;
      });
      this.queues.set(tag, q);
    }
    return q;
  }

  /** Every BullMQ queue of an operation: one, or one per shard of every layout it has had. */
  private async queuesOf(op: string): Promise<Queue[]> {
    await this.keys.layouts.fresh();
    return Promise.all(this.keys.layouts.tagsOf(op).map((t) => this.queue(t)));
  }

  private remember(id: string, op: string) {
    this.opOf.set(id, op);
    if (this.opOf.size > 100_000) this.opOf.delete(this.opOf.keys().next().value!);
  }

  private jobOpts(j: NewJob): JobsOptions {
    // Only the id: retention is the Worker's option (BullMQ applies it to jobs without their
    // own), and BullMQ never retries a job without `attempts`; small opts are cheaper to add.
    const opts: JobsOptions = { jobId: toBullId(j.id) };
    const p = Math.floor(j.priority ?? 0);
    if (p > 0) opts.priority = Math.min(p, MAX_PRIORITY);
    if ((j.delayMs ?? 0) > 0) opts.delay = Math.ceil(j.delayMs!);
    return opts;
  }

  async addMany(jobs: NewJob[]) {
    if (jobs.length === 0) return;
    // By tag: the operation's, or the shard of the job's pair (where its pending requests are).
    const byTag = new Map<string, NewJob[]>();
    const ops = new Set<string>();
    for (const j of jobs) {
      const op = j.data.op;
      ops.add(op);
      const uri = j.data.uri;
      // Job data that is not backache's (no uri) goes to the first shard, where the worker quarantines it.
      const tag = this.keys.layouts.count(op) > 1 && typeof uri === 'string' ? this.keys.placeOf({ ns: op, id: uri }, idHash(uri)) : this.keys.tag(op);
      let g = byTag.get(tag);
      if (!g) byTag.set(tag, (g = []));
      g.push(j);
      this.remember(j.id, op);
    }
    const sends: Promise<unknown>[] = [this.client.sadd(this.keys.namespaces('queue'), ...ops)];
    for (const [tag, list] of byTag) {
      sends.push(this.queue(tag).then((q) => q.addBulk(list.map((j) => ({ name: j.data.op, data: j.data, opts: this.jobOpts(j) })))));
    }
    await Promise.all(sends);
  }

  consume(opts: ConsumerOptions): Consumer {
    const leaseMs = Math.max(100, Math.round(opts.leaseMs ?? 30_000));
    const consumer = startBullConsumer(
      {
        keys: this.keys,
        connect: this.settings.workerConnection,
        leaseMs,
        stalledIntervalMs: this.settings.stalledIntervalMs ?? Math.min(15_000, Math.max(50, Math.floor(leaseMs / 4))),
        keep: this.keep,
        refreshLayouts: () => refreshLayouts(this.client, this.keys),
        holdsJobs: async (tag) => {
          const c = await (await this.queue(tag)).getJobCounts('wait', 'prioritized', 'waiting-children', 'active', 'delayed');
          return Object.values(c).some((n) => n > 0);
        },
        pausedOps: () => this.client.smembers(this.keys.pausedOps()),
        pauseQueue: async (tag) => (await this.queue(tag)).pause(),
      },
      opts,
      () => this.consumers.delete(consumer),
    );
    this.consumers.add(consumer);
    return consumer;
  }

  /**
   * The job and its BullMQ state, from the operation that holds it: the remembered one,
   * else every known operation at once.
   */
  private async find(bullId: string, id: string): Promise<{ job: Job; state: string } | undefined> {
    const cached = this.opOf.get(id);
    const ops = cached ? [cached] : await this.client.smembers(this.keys.namespaces('queue'));
    await this.keys.layouts.fresh();
    const found = await Promise.all(
      ops.flatMap((op) =>
        this.keys.layouts.tagsOf(op).map(async (tag) => {
          const q = await this.queue(tag);
          const [job, state] = await Promise.all([q.getJob(bullId), q.getJobState(bullId)]);
          return job ? { job, state, op } : undefined;
        }),
      ),
    );
    const hit = found.find((f) => f !== undefined);
    if (hit) {
      this.remember(id, hit.op);
      return hit;
    }
    if (cached) {
      this.opOf.delete(id);
      return this.find(bullId, id);
    }
    return undefined;
  }

  /**
   * waiting/prioritized/waiting-children → waiting; active; delayed; completed → its marker
   * with the job's op and uri (the value is in the cache); failed → quarantined.
   */
  async getState(id: string): Promise<JobState> {
    const found = await this.find(toBullId(id), id);
    return found ? stateOf(found.job, found.state, id) : { state: 'unknown' };
  }

  /** Summed over the operation's queues; paused when any of them is (pause pauses them all). */
  async counts(op: string) {
    const all = await Promise.all(
      (await this.queuesOf(op)).map(async (q) => {
        // BullMQ 6 has no paused list: a paused queue keeps its jobs in wait (meta says paused).
        const [c, paused] = await Promise.all([q.getJobCounts('wait', 'prioritized', 'waiting-children', 'active', 'delayed'), q.isPaused()]);
        return { waiting: (c.wait ?? 0) + (c.prioritized ?? 0) + (c['waiting-children'] ?? 0), active: c.active ?? 0, delayed: c.delayed ?? 0, paused };
      }),
    );
    return all.reduce((a, c) => ({ waiting: a.waiting + c.waiting, active: a.active + c.active, delayed: a.delayed + c.delayed, paused: a.paused || c.paused }));
  }

  /** Every queue of the operation; recorded too, so a worker pauses queues of a layout introduced later. */
  async pause(op: string) {
    await Promise.all([this.client.sadd(this.keys.namespaces('queue'), op), this.client.sadd(this.keys.pausedOps(), op)]);
    await Promise.all((await this.queuesOf(op)).map((q) => q.pause()));
  }

  async resume(op: string) {
    await this.client.srem(this.keys.pausedOps(), op);
    await Promise.all((await this.queuesOf(op)).map((q) => q.resume()));
  }

  async recent(op: string, limit: number) {
    const types = ['active', 'waiting', 'prioritized', 'delayed', 'completed', 'failed'] as const;
    const named: Record<string, string> = { prioritized: 'waiting', failed: 'quarantined' };
    const perQueue = await Promise.all((await this.queuesOf(op)).map((q) => Promise.all(types.map((t) => q.getJobs([t], 0, Math.max(0, limit - 1), false)))));
    const lists = types.map((_, i) => perQueue.flatMap((l) => l[i]!));
    const out: { id: string; uri: string; state: string; at: number }[] = [];
    lists.forEach((jobs, i) => {
      for (const j of jobs) {
        if (!j?.id) continue;
        out.push({ id: fromBullId(j.id), uri: String((j.data as JobData | undefined)?.uri ?? ''), state: named[types[i]!] ?? types[i]!, at: j.finishedOn ?? j.processedOn ?? j.timestamp });
      }
    });
    return out.sort((a, b) => b.at - a.at).slice(0, limit);
  }

  async list(op: string, o: { state?: JobListState; limit?: number } = {}) {
    const limit = o.limit ?? 100;
    const queues = await this.queuesOf(op);
    const out: JobInfo[] = [];
    for (const st of o.state ? [o.state] : (['active', 'waiting', 'delayed'] as const)) {
      const want = limit - out.length;
      if (want <= 0) break;
      // Finished jobs newest first; the others in the order they run (or were taken).
      const asc = st !== 'completed' && st !== 'failed';
      const found: JobInfo[] = [];
      for (const q of queues) {
        for (const t of BULL_TYPES[st]) {
          for (const j of await q.getJobs([t], 0, want - 1, asc)) if (j?.id) found.push(infoOf(j, st));
        }
      }
      // Stable sorts: BullMQ's own order within a list, merged across types and (by age) shards.
      const several = queues.length > 1;
      if (st === 'waiting') found.sort((a, b) => Number(a.priority > 0) - Number(b.priority > 0) || (a.priority > 0 ? a.priority - b.priority : 0) || (several ? a.createdAt - b.createdAt : 0));
      else if (st === 'delayed' && several) found.sort((a, b) => (a.runAt ?? a.createdAt) - (b.runAt ?? b.createdAt));
      else if (st === 'active') found.sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0));
      else if (!asc) found.sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0));
      out.push(...found.slice(0, want));
    }
    return out;
  }

  async job(id: string) {
    const found = await this.find(toBullId(id), id);
    const listed = found && LISTED[found.state];
    return listed ? infoOf(found.job, listed) : undefined;
  }

  /** Waiting (or prioritized) and delayed jobs only; `Queue.remove` refuses a locked (active) one. */
  async remove(op: string, ids: string[]) {
    const removed: string[] = [];
    for (const q of await this.queuesOf(op)) {
      for (const id of ids) {
        const bullId = toBullId(id);
        const state = await q.getJobState(bullId);
        if (state !== 'waiting' && state !== 'prioritized' && state !== 'delayed') continue;
        if ((await q.remove(bullId)) === 1) removed.push(id);
      }
    }
    return removed;
  }

  async clear() {
    await clearArea(this.client, this.keys, 'jobs');
    // The shard layouts stay: a process that defines an operation recorded its layout once, at
    // start, and queues it writes to later must still be found by every worker.
    await this.client.del(this.keys.namespaces('queue'), this.keys.pausedOps());
    this.opOf.clear();
  }

  async close() {
    await Promise.all([...this.consumers].map((c) => c.stop(0)));
    await Promise.all([...this.queues.values()].map((q) => q.then((x) => x.close()).catch(() => {})));
    this.queues.clear();
  }
}
