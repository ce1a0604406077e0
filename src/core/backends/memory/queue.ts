import type { ClaimedJob, ConsumerOptions, JobInfo, JobListState, JobOutcome, JobQueue, JobState, NewJob } from '../../ports.js';
import { pollingConsumer, type ClaimSource } from '../polling-consumer.js';
import { newId } from '../../hash.js';

interface Job extends ClaimedJob {
  priority: number;
  seq: number;
  runAt: number;
  state: 'waiting' | 'active' | 'delayed' | 'completed' | 'quarantined';
  owner?: string;
  /** The owner of its last take (kept after it finishes). */
  worker?: string;
  startedAt?: number;
  leaseUntil?: number;
  outcome?: JobState;
  finishedAt?: number;
}

/** Finished jobs kept for `getState`/`waitFor` (like BullMQ's removeOnComplete). */
const KEEP_FINISHED = 10_000;

export class MemoryJobQueue implements JobQueue, ClaimSource {
  readonly kind = 'memory';
  private jobs = new Map<string, Job>();
  private finished: string[] = [];
  private paused = new Set<string>();
  private waiters = new Map<string, Set<() => void>>();
  private seq = 0;

  async addMany(jobs: NewJob[]) {
    const now = Date.now();
    const touched = new Set<string>();
    for (const j of jobs) {
      if (this.jobs.has(j.id)) continue;
      const delayed = (j.delayMs ?? 0) > 0;
      this.jobs.set(j.id, {
        id: j.id,
        data: structuredClone(j.data),
        attempt: 1,
        stalls: 0,
        createdAt: now,
        priority: j.priority ?? 0,
        seq: this.seq++,
        runAt: now + (j.delayMs ?? 0),
        state: delayed ? 'delayed' : 'waiting',
      });
      touched.add(j.data.op);
    }
    for (const op of touched) this.wake(op);
  }

  private wake(op: string) {
    const ws = this.waiters.get(op);
    if (!ws) return;
    this.waiters.delete(op);
    for (const w of ws) w();
  }

  async claim(op: string, max: number, leaseMs: number, owner: string) {
    if (this.paused.has(op)) return [];
    const now = Date.now();
    const due: Job[] = [];
    for (const j of this.jobs.values()) {
      if (j.data.op !== op) continue;
      const expired = j.state === 'active' && (j.leaseUntil ?? 0) <= now;
      if (j.state === 'waiting' || (j.state === 'delayed' && j.runAt <= now) || expired) due.push(j);
    }
    due.sort((a, b) => a.priority - b.priority || a.runAt - b.runAt || a.seq - b.seq);
    return due.slice(0, max).map((j) => {
      if (j.state === 'active') {
        // Its previous holder died mid-job (or stalled past its lease).
        j.attempt++;
        j.stalls++;
      }
      j.state = 'active';
      j.owner = owner;
      j.worker = owner;
      j.startedAt = now;
      j.leaseUntil = now + leaseMs;
      return { id: j.id, data: structuredClone(j.data), attempt: j.attempt, stalls: j.stalls, createdAt: j.createdAt };
    });
  }

  async renew(ids: string[], leaseMs: number, owner: string) {
    const lost: string[] = [];
    for (const id of ids) {
      const j = this.jobs.get(id);
      if (j?.state === 'active' && j.owner === owner) j.leaseUntil = Date.now() + leaseMs;
      else lost.push(id);
    }
    return lost;
  }

  async finish(job: ClaimedJob, outcome: JobOutcome, owner: string) {
    const j = this.jobs.get(job.id);
    if (!j || j.state !== 'active' || j.owner !== owner) return;
    j.owner = undefined;
    if (outcome.type === 'handback') {
      j.state = 'waiting';
      j.leaseUntil = undefined;
      this.wake(j.data.op);
      return;
    }
    if (outcome.type === 'retry') {
      j.attempt++;
      if (outcome.kwargs) j.data.kwargs = structuredClone(outcome.kwargs);
      j.runAt = Date.now() + outcome.delayMs;
      j.state = outcome.delayMs > 0 ? 'delayed' : 'waiting';
      if (outcome.delayMs > 0) setTimeout(() => this.wake(j.data.op), outcome.delayMs).unref();
      else this.wake(j.data.op);
      return;
    }
    if (outcome.type === 'completed') {
      j.state = 'completed';
      j.outcome = { state: 'completed', result: structuredClone(outcome.result), op: j.data.op, uri: j.data.uri };
    } else if (outcome.type === 'quarantined') {
      j.state = 'quarantined';
      j.outcome = { state: 'quarantined', quarantineId: outcome.quarantineId, error: outcome.error };
    }
    j.finishedAt = Date.now();
    this.finished.push(j.id);
    while (this.finished.length > KEEP_FINISHED) this.jobs.delete(this.finished.shift()!);
  }

  waitForWork(op: string, ms: number) {
    return new Promise<void>((resolve) => {
      let ws = this.waiters.get(op);
      if (!ws) this.waiters.set(op, (ws = new Set()));
      const done = () => {
        clearTimeout(t);
        ws!.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      ws.add(done);
    });
  }

  consume(opts: ConsumerOptions) {
    return pollingConsumer(this, opts, opts.workerId ?? `mem-${newId()}`, opts.leaseMs ? Math.min(200, opts.leaseMs) : 200);
  }

  async getState(id: string): Promise<JobState> {
    const j = this.jobs.get(id);
    if (!j) return { state: 'unknown' };
    if (j.outcome) return structuredClone(j.outcome);
    if (j.state === 'delayed' && j.runAt <= Date.now()) return { state: 'waiting' };
    return { state: j.state as 'waiting' | 'active' | 'delayed' };
  }

  async counts(op: string) {
    const c = { waiting: 0, active: 0, delayed: 0, paused: this.paused.has(op) };
    const now = Date.now();
    for (const j of this.jobs.values()) {
      if (j.data.op !== op) continue;
      if (j.state === 'waiting' || (j.state === 'delayed' && j.runAt <= now)) c.waiting++;
      else if (j.state === 'delayed') c.delayed++;
      else if (j.state === 'active') c.active++;
    }
    return c;
  }

  async pause(op: string) {
    this.paused.add(op);
  }

  async resume(op: string) {
    this.paused.delete(op);
    this.wake(op);
  }

  async recent(op: string, limit: number) {
    return [...this.jobs.values()]
      .filter((j) => j.data.op === op)
      .sort((a, b) => b.seq - a.seq)
      .slice(0, limit)
      .map((j) => ({ id: j.id, uri: j.data.uri, state: j.state, at: j.finishedAt ?? j.createdAt }));
  }

  /** The state a job is listed under: a delayed job whose time has come is waiting. */
  private listState(j: Job, now: number): JobListState {
    if (j.state === 'quarantined') return 'failed';
    if (j.state === 'delayed' && j.runAt <= now) return 'waiting';
    return j.state;
  }

  private info(j: Job, now: number): JobInfo {
    const state = this.listState(j, now);
    const o = j.outcome;
    return {
      id: j.id,
      op: j.data.op,
      uri: j.data.uri,
      state,
      data: structuredClone(j.data),
      priority: j.priority,
      // `attempt` is the run a job is on, or will be on next while it waits.
      attempts: state === 'waiting' || state === 'delayed' ? j.attempt - 1 : j.attempt,
      stalls: j.stalls,
      createdAt: j.createdAt,
      ...(j.startedAt !== undefined ? { startedAt: j.startedAt } : {}),
      ...(j.finishedAt !== undefined ? { finishedAt: j.finishedAt } : {}),
      ...(state === 'delayed' ? { runAt: j.runAt } : {}),
      ...(j.worker !== undefined ? { worker: j.worker } : {}),
      ...(o?.state === 'completed' ? { result: structuredClone(o.result) } : {}),
      ...(o?.state === 'quarantined' ? { quarantineId: o.quarantineId, error: o.error } : {}),
    };
  }

  async list(op: string, o: { state?: JobListState; limit?: number } = {}) {
    const limit = o.limit ?? 100;
    const now = Date.now();
    const states: JobListState[] = o.state ? [o.state] : ['active', 'waiting', 'delayed'];
    const order: Record<JobListState, (a: Job, b: Job) => number> = {
      waiting: (a, b) => a.priority - b.priority || a.runAt - b.runAt || a.seq - b.seq,
      delayed: (a, b) => a.runAt - b.runAt || a.seq - b.seq,
      active: (a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0) || a.seq - b.seq,
      completed: (a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0) || b.seq - a.seq,
      failed: (a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0) || b.seq - a.seq,
    };
    const out: JobInfo[] = [];
    for (const st of states) {
      const jobs = [...this.jobs.values()].filter((j) => j.data.op === op && this.listState(j, now) === st).sort(order[st]);
      for (const j of jobs.slice(0, limit - out.length)) out.push(this.info(j, now));
    }
    return out;
  }

  async job(id: string) {
    const j = this.jobs.get(id);
    return j ? this.info(j, Date.now()) : undefined;
  }

  async remove(op: string, ids: string[]) {
    const removed: string[] = [];
    for (const id of ids) {
      const j = this.jobs.get(id);
      if (j && j.data.op === op && (j.state === 'waiting' || j.state === 'delayed')) {
        this.jobs.delete(id);
        removed.push(id);
      }
    }
    return removed;
  }

  async clear() {
    this.jobs.clear();
    this.finished = [];
    this.paused.clear();
  }

  async close() {}
}
