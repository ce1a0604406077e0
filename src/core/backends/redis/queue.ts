import { Queue, type JobsOptions, type KeepJobs } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Consumer, ConsumerOptions, JobData, JobQueue, JobState, NewJob } from '../../ports.js';
import { fromBullId, startRedisConsumer, type Marker } from './consumer.js';
import type { RedisKeys } from './keys.js';
import { hashId } from '../../hash.js';
import { clearArea } from './scan.js';
import { results, runScript } from './scripts.js';

/**
 * The job queue in BullMQ's layout: one BullMQ queue per operation, named `jobs` with the
 * prefix `{P:N}`, so every key of an operation's queue carries the operation's hash tag.
 * BullMQ's Queue reads it (counts, states, pause/resume, recent jobs) and adds delayed or
 * prioritized jobs; backache's own scripts add standard jobs (queue-add-8.lua, one call per
 * operation) and run the consumer loop (consumer.ts: one call per batch instead of BullMQ's
 * Worker with one per job).
 *
 * - Job ids are ours (BullMQ custom job ids): adding an id that exists is a no-op.
 * - `attempt` is BullMQ's `attemptsStarted`: it grows by one every time the job becomes
 *   active, so a retry (moved to delayed with the same id) and a re-take after a stall (a
 *   worker that died or stopped renewing its lock) both come back with attempt + 1.
 * - The lease is the job's BullMQ lock (renewed every leaseMs/2); a job whose lock expired
 *   is moved back to wait by the stalled-job check of any consumer of the operation, every
 *   `stalledInterval` (default leaseMs/4). A job marked at one check and still without a
 *   lock at the next is moved, so a dead worker's job is taken again within about
 *   leaseMs + 2 × stalledInterval.
 * - Outcomes: completed → the BullMQ job completes with `{ backache: 'completed', result }`;
 *   quarantined → it completes with `{ backache: 'quarantined', quarantineId, error }`
 *   (the marker `getState` reads); retry → the job moves to delayed with the same id and,
 *   when given, new kwargs.
 * - Retention: consumers trim finished jobs to keepFinished (count and age) in batches
 *   (queue-trim-2.lua), so the count may be exceeded by up to `trimEvery` per consumer.
 */

export interface RedisQueueOptions {
  /** Stalled-job check period; default leaseMs / 4 (bounded to 50 ms … 15 s). */
  stalledIntervalMs?: number;
  /** Finished jobs kept for `getState`/`waitFor` (count and age, trimmed in batches). */
  keepFinished?: KeepJobs;
  /** Trim finished jobs to keepFinished every this many completions of an operation (default 500; at least once a minute). */
  trimEvery?: number;
  /** Approximate bound of each operation's BullMQ events stream. */
  eventsMaxLen?: number;
  /** A new connection for a consumer (maxRetriesPerRequest: null: commands wait through reconnects). */
  workerConnection: () => Redis;
}

const DEFAULT_KEEP: KeepJobs = { count: 10_000, age: 3600 };
/** Completions of an operation between two trims of its finished jobs. */
const TRIM_EVERY = 500;
const MAX_PRIORITY = 2_097_152;

/**
 * BullMQ refuses custom ids that are integers or contain `:`; such ids (and ids that look
 * encoded) are stored as `~` + base64url, reversibly.
 */
export const toBullId = (id: string) => (`${parseInt(id, 10)}` === id || id.includes(':') || id.startsWith('~') ? `~${Buffer.from(id).toString('base64url')}` : id);
export { fromBullId };

function stateOfMarker(m: unknown): JobState | undefined {
  if (!m || typeof m !== 'object') return undefined;
  const v = m as Marker;
  if (v.backache === 'completed') return { state: 'completed', result: v.result };
  if (v.backache === 'quarantined') return { state: 'quarantined', quarantineId: v.quarantineId, error: v.error };
  return undefined;
}

function bullOpts(j: NewJob): JobsOptions {
  const opts: JobsOptions = { jobId: toBullId(j.id) };
  const p = Math.floor(j.priority ?? 0);
  if (p > 0) opts.priority = Math.min(p, MAX_PRIORITY);
  if ((j.delayMs ?? 0) > 0) opts.delay = Math.ceil(j.delayMs!);
  return opts;
}

export class RedisJobQueue implements JobQueue {
  readonly kind = 'bullmq';
  private queues = new Map<string, Queue>();
  /** Where recently seen ids live (so getState needs no probe); bounded. */
  private opOf = new Map<string, string>();
  private consumers = new Set<Consumer>();
  private readonly keep: KeepJobs;

  constructor(
    private readonly client: Redis,
    private readonly keys: RedisKeys,
    private readonly opts: RedisQueueOptions,
  ) {
    this.keep = opts.keepFinished ?? DEFAULT_KEEP;
  }

  /** The BullMQ queue of an operation (created once, sharing our connection). */
  queue(op: string): Queue {
    let q = this.queues.get(op);
    if (!q) {
      q = new Queue('jobs', {
        connection: this.client,
        prefix: this.keys.tag(op),
        streams: { events: { maxLen: this.opts.eventsMaxLen ?? 1000 } },
        // No defaultJobOptions: how many finished jobs to keep is the Worker's option (BullMQ
        // uses it for jobs without their own), so each job's opts stay small (msgpack, HSET).
      });
      q.on('error', () => {}); // connection errors: ioredis reconnects; callers see failed commands
      this.queues.set(op, q);
    }
    return q;
  }

  private remember(id: string, op: string) {
    this.opOf.set(id, op);
    if (this.opOf.size > 100_000) this.opOf.delete(this.opOf.keys().next().value!);
  }

  async addMany(jobs: NewJob[]) {
    if (jobs.length === 0) return;
    const byOp = new Map<string, NewJob[]>();
    for (const j of jobs) {
      let g = byOp.get(j.data.op);
      if (!g) byOp.set(j.data.op, (g = []));
      g.push(j);
    }
    const sends: Promise<unknown>[] = [this.client.sadd(this.keys.namespaces('queue'), ...byOp.keys())];
    for (const [op, list] of byOp) {
      const q = this.queue(op); // created once: it writes the queue's meta (events bound, version)
      // Standard jobs: one queue-add-8.lua call per operation. Delayed and prioritized
      // jobs (rare: retries are not added here) go through BullMQ's addBulk.
      const plain: string[] = [String(Date.now())];
      const special: NewJob[] = [];
      for (const j of list) {
        this.remember(j.id, op);
        if (Math.floor(j.priority ?? 0) > 0 || (j.delayMs ?? 0) > 0) special.push(j);
        else plain.push(toBullId(j.id), op, JSON.stringify(j.data), (j.data.refresh ? '!' : '') + hashId(j.data.uri));
      }
      if (plain.length > 1) sends.push(runScript(this.client, 'queue-add-8', this.queueKeys(op), plain));
      if (special.length > 0) sends.push(q.addBulk(special.map((j) => ({ name: op, data: j.data, opts: bullOpts(j) }))));
    }
    await Promise.all(sends);
  }

  /** KEYS of queue-add-8.lua for an operation. */
  private queueKeys(op: string) {
    const k = (type: string) => this.keys.queueKey(op, type);
    return [k('wait'), k('paused'), k('meta'), k('id'), k('active'), k('events'), k('marker'), k('')];
  }

  consume(opts: ConsumerOptions): Consumer {
    const leaseMs = Math.max(100, Math.round(opts.leaseMs ?? 30_000));
    const consumer = startRedisConsumer(
      {
        keys: this.keys,
        connect: this.opts.workerConnection,
        leaseMs,
        stalledIntervalMs: this.opts.stalledIntervalMs ?? Math.min(15_000, Math.max(50, Math.floor(leaseMs / 4))),
        keep: this.keep,
        trimEvery: this.opts.trimEvery ?? TRIM_EVERY,
      },
      opts,
      () => this.consumers.delete(consumer),
    );
    this.consumers.add(consumer);
    return consumer;
  }

  /** Which operation's queue holds a job id (one pipelined probe over the known operations). */
  private async locate(bullId: string, id: string): Promise<{ op: string; fields: (string | null)[] } | undefined> {
    const cached = this.opOf.get(id);
    const ops = cached ? [cached] : await this.client.smembers(this.keys.namespaces('queue'));
    if (ops.length === 0) return undefined;
    const p = this.client.pipeline();
    for (const op of ops) p.hmget(this.keys.job(op, bullId), 'timestamp', 'finishedOn', 'returnvalue');
    const all = results(await p.exec()) as (string | null)[][];
    const i = all.findIndex((f) => f[0] !== null);
    if (i < 0) {
      if (cached) {
        this.opOf.delete(id);
        return this.locate(bullId, id);
      }
      return undefined;
    }
    return { op: ops[i]!, fields: all[i]! };
  }

  async getState(id: string): Promise<JobState> {
    const bullId = toBullId(id);
    const found = await this.locate(bullId, id);
    if (!found) return { state: 'unknown' };
    const [, finishedOn, returnvalue] = found.fields;
    if (finishedOn && returnvalue) return stateOfMarker(JSON.parse(returnvalue)) ?? { state: 'unknown' };
    const s = await this.queue(found.op).getJobState(bullId);
    switch (s) {
      case 'active':
        return { state: 'active' };
      case 'delayed':
        return { state: 'delayed' };
      case 'waiting':
      case 'prioritized':
      case 'waiting-children':
        return { state: 'waiting' };
      case 'completed': {
        // Finished between our two reads.
        const rv = await this.client.hget(this.keys.job(found.op, bullId), 'returnvalue');
        return (rv && stateOfMarker(JSON.parse(rv))) || { state: 'unknown' };
      }
      default:
        return { state: 'unknown' };
    }
  }

  async counts(op: string) {
    const q = this.queue(op);
    const [c, paused] = await Promise.all([q.getJobCounts('wait', 'paused', 'prioritized', 'waiting-children', 'active', 'delayed'), q.isPaused()]);
    return {
      waiting: (c.wait ?? 0) + (c.paused ?? 0) + (c.prioritized ?? 0) + (c['waiting-children'] ?? 0),
      active: c.active ?? 0,
      delayed: c.delayed ?? 0,
      paused,
    };
  }

  async pause(op: string) {
    await this.client.sadd(this.keys.namespaces('queue'), op);
    await this.queue(op).pause();
  }

  async resume(op: string) {
    await this.queue(op).resume();
  }

  async recent(op: string, limit: number) {
    const q = this.queue(op);
    const types = ['active', 'waiting', 'prioritized', 'delayed', 'completed', 'failed'] as const;
    const lists = await Promise.all(types.map((t) => q.getJobs([t], 0, Math.max(0, limit - 1), false)));
    const out: { id: string; uri: string; state: string; at: number }[] = [];
    lists.forEach((jobs, i) => {
      for (const j of jobs) {
        if (!j?.id) continue;
        let state: string = types[i] === 'prioritized' ? 'waiting' : types[i]!;
        if (state === 'completed') state = stateOfMarker(j.returnvalue)?.state ?? 'completed';
        out.push({ id: fromBullId(j.id), uri: (j.data as JobData).uri, state, at: j.finishedOn ?? j.processedOn ?? j.timestamp });
      }
    });
    return out.sort((a, b) => b.at - a.at).slice(0, limit);
  }

  async clear() {
    await clearArea(this.client, this.keys, 'jobs');
    await this.client.del(this.keys.namespaces('queue'));
    this.opOf.clear();
  }

  async close() {
    await Promise.all([...this.consumers].map((c) => c.stop(0)));
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => {})));
    this.queues.clear();
  }
}
