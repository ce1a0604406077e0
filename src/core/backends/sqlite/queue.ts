import { hostname } from 'node:os';
import { newId } from '../../hash.js';
import type { ClaimedJob, ConsumerOptions, JobData, JobInfo, JobListState, JobOutcome, JobQueue, JobState, NewJob, QueueCounts } from '../../ports.js';
import { pollingConsumer, type ClaimSource } from '../polling-consumer.js';
import { SqliteStore, type SqliteHandle } from './db.js';

/** The `jobs.state` column. Delayed jobs whose time has come count as waiting. */
const WAITING = 0;
const DELAYED = 1;
const ACTIVE = 2;
const COMPLETED = 3;
const QUARANTINED = 4;
const STATE_NAMES = ['waiting', 'delayed', 'active', 'completed', 'quarantined'] as const;

export interface SqliteQueueOptions {
  /** Finished jobs kept for `getState`/`waitFor`, per deployment (newest first). */
  keepFinished?: number;
  /** Finished jobs older than this are deleted. */
  keepFinishedMs?: number;
  /** Trim finished jobs every this many finishes. */
  trimEvery?: number;
  /**
   * How often an idle consumer looks for jobs added by other processes. Jobs added in
   * this process wake it at once.
   */
  pollMs?: number;
}

interface ClaimRow {
  seq: number;
  priority: number;
  run_at: number;
  id: string;
  data: string;
  attempt: number;
  stalls: number;
  created_at: number;
}

/**
 * Job data as stored; a row another program wrote that is not JSON comes back as its text,
 * which the engine quarantines as unreadable (a throw here would stall the whole claim).
 */
function readData(text: string): JobData {
  try {
    return JSON.parse(text) as JobData;
  } catch {
    return text as unknown as JobData;
  }
}

interface InfoRow {
  id: string;
  op: string;
  state: number;
  priority: number;
  run_at: number;
  attempt: number;
  stalls: number;
  created_at: number;
  data: string;
  owner: string | null;
  outcome: string | null;
  finished_at: number | null;
}

const INFO_COLS = 'id, op, state, priority, run_at, attempt, stalls, created_at, data, owner, outcome, finished_at';

/** A row as JobInfo; a delayed job whose time has come is waiting (as in counts). */
function infoOf(r: InfoRow, now: number): JobInfo {
  const state: JobListState =
    r.state === WAITING || (r.state === DELAYED && r.run_at <= now) ? 'waiting' : r.state === DELAYED ? 'delayed' : r.state === ACTIVE ? 'active' : r.state === COMPLETED ? 'completed' : 'failed';
  const data = readData(r.data);
  const outcome = r.outcome === null ? undefined : (JSON.parse(r.outcome) as JobState);
  return {
    id: r.id,
    op: r.op,
    uri: typeof data?.uri === 'string' ? data.uri : '',
    state,
    data,
    priority: r.priority,
    // `attempt` is the run a job is on, or will be on next while it waits.
    attempts: state === 'waiting' || state === 'delayed' ? r.attempt - 1 : r.attempt,
    stalls: r.stalls,
    createdAt: r.created_at,
    ...(r.finished_at !== null ? { finishedAt: r.finished_at } : {}),
    ...(state === 'delayed' ? { runAt: r.run_at } : {}),
    ...(r.owner !== null ? { worker: r.owner } : {}),
    ...(outcome?.state === 'completed' ? { result: outcome.result } : {}),
    ...(outcome?.state === 'quarantined' ? { quarantineId: outcome.quarantineId, error: outcome.error } : {}),
  };
}

/** Per listed state: the rows (by op) and their order. */
const LIST_SQL: Record<JobListState, string> = {
  waiting: '(state = 0 OR (state = 1 AND run_at <= @now)) ORDER BY priority, run_at, seq',
  delayed: 'state = 1 AND run_at > @now ORDER BY run_at, seq',
  active: 'state = 2 ORDER BY lease_until, seq',
  completed: 'state = 3 ORDER BY finished_at DESC, seq DESC',
  failed: 'state = 4 ORDER BY finished_at DESC, seq DESC',
};

/** How often a busy consumer also looks for expired leases and due delayed jobs. */
const LOOK_EVERY_MS = 250;

/**
 * Jobs in one table, claimed with leases so several processes can share the file: a
 * claim sets `owner` and `lease_until` in one IMMEDIATE transaction; a job whose lease
 * ran out (its process died or stalled) is claimed again with attempt + 1 and stalls + 1.
 * Claims and finishes of one turn of the event loop commit together (`writeSoon`).
 */
export class SqliteJobQueue extends SqliteStore implements JobQueue, ClaimSource {
  readonly kind = 'sqlite';
  private readonly keepFinished: number;
  private readonly keepFinishedMs: number;
  private readonly trimEvery: number;
  private readonly pollMs: number;
  private sinceTrim = 0;
  private lastTrim = Date.now();
  private timers = new Set<NodeJS.Timeout>();
  /** Per op: when this process last looked beyond the waiting jobs, and whether its last claim found any. */
  private lastLook = new Map<string, { at: number; found: boolean }>();

  constructor(h: SqliteHandle, prefix: string, opts: SqliteQueueOptions = {}) {
    super(h, prefix);
    this.keepFinished = opts.keepFinished ?? 10_000;
    this.keepFinishedMs = opts.keepFinishedMs ?? 3_600_000;
    // A small retention is trimmed often enough to stay near its count.
    this.trimEvery = opts.trimEvery ?? Math.min(1000, Math.max(10, Math.ceil(this.keepFinished / 10)));
    this.pollMs = opts.pollMs ?? 50;
  }

  private key(op: string) {
    return `${this.prefix}\u0000${op}`;
  }

  /** Wake this process's consumers of `op` now, or after `delayMs`. */
  private wake(op: string, delayMs = 0) {
    if (delayMs <= 0) return this.h.wake(this.key(op));
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.h.wake(this.key(op));
    }, delayMs);
    t.unref();
    this.timers.add(t);
  }

  async addMany(jobs: NewJob[]) {
    if (jobs.length === 0) return;
    const now = Date.now();
    const params: unknown[] = [];
    for (const j of jobs) {
      const delay = Math.max(0, j.delayMs ?? 0);
      params.push(this.prefix, j.id, j.data.op, delay > 0 ? DELAYED : WAITING, j.priority ?? 0, now + delay, now, JSON.stringify(j.data));
    }
    await this.h.writeSoon(() =>
      this.h.many(
        'INSERT INTO jobs (prefix, id, op, state, priority, run_at, attempt, created_at, data)',
        '(?, ?, ?, ?, ?, ?, 1, ?, ?)',
        'ON CONFLICT (prefix, id) DO NOTHING',
        params,
        8,
      ),
    );
    const soonest = new Map<string, number>();
    for (const j of jobs) soonest.set(j.data.op, Math.min(soonest.get(j.data.op) ?? Infinity, Math.max(0, j.delayMs ?? 0)));
    for (const [op, delay] of soonest) this.wake(op, delay);
  }

  /** A read-only look before taking the write lock, so idle pollers never contend for it. */
  private hasWork(op: string, now: number) {
    return (
      this.h
        .pluck(
          `SELECT NOT EXISTS (SELECT 1 FROM paused WHERE prefix = @p AND op = @op) AND (
             EXISTS (SELECT 1 FROM jobs WHERE prefix = @p AND op = @op AND state = 0)
             OR EXISTS (SELECT 1 FROM jobs WHERE prefix = @p AND op = @op AND state = 1 AND run_at <= @now)
             OR EXISTS (SELECT 1 FROM jobs WHERE prefix = @p AND op = @op AND state = 2 AND lease_until <= @now))`,
        )
        .get({ p: this.prefix, op, now }) === 1
    );
  }

  async claim(op: string, max: number, leaseMs: number, owner: string): Promise<ClaimedJob[]> {
    if (max <= 0) return [];
    const now = Date.now();
    const seen = this.lastLook.get(op);
    // While jobs flow, skip the read-only look: the claim itself will find them.
    if (!(seen && seen.found) && !this.hasWork(op, now)) return [];
    // Expired leases and due delayed jobs are looked for when the waiting jobs do not fill
    // the batch, and at least every LOOK_EVERY_MS, so they never starve behind a backlog.
    const lookAround = !seen || now - seen.at >= LOOK_EVERY_MS;
    const h = this.h;
    const p = this.prefix;
    const rows = await h.writeSoon(() => {
      if (h.stmt('SELECT 1 FROM paused WHERE prefix = ? AND op = ?').get(p, op)) return [];
      const now = Date.now();
      const until = now + leaseMs;
      const out: ClaimRow[] = [];
      // One UPDATE … RETURNING per kind of claim (not a SELECT and an UPDATE per job); the
      // rows come back in no particular order, so they are put back in claim order.
      const takeWaiting = () => {
        const rows = h
          .stmt(
            `UPDATE jobs SET state = 2, owner = ?, lease_until = ? WHERE seq IN (
               SELECT seq FROM jobs WHERE prefix = ? AND op = ? AND state = 0 ORDER BY priority, run_at, seq LIMIT ?)
             RETURNING seq, id, data, attempt, stalls, created_at, priority, run_at`,
          )
          .all(owner, until, p, op, max - out.length) as ClaimRow[];
        rows.sort((a, b) => a.priority - b.priority || a.run_at - b.run_at || a.seq - b.seq);
        for (const r of rows) out.push(r);
      };
      if (!lookAround) takeWaiting();
      if (out.length < max) {
        // Jobs whose holder died (their lease ran out) go first: they have waited longest.
        const expired = h
          .stmt(
            `UPDATE jobs SET state = 2, owner = ?, lease_until = ?, attempt = attempt + 1, stalls = stalls + 1 WHERE seq IN (
               SELECT seq FROM jobs WHERE prefix = ? AND op = ? AND state = 2 AND lease_until <= ? ORDER BY lease_until LIMIT ?)
             RETURNING seq, id, data, attempt, stalls, created_at, priority, run_at`,
          )
          .all(owner, until, p, op, now, max - out.length) as ClaimRow[];
        expired.sort((a, b) => a.seq - b.seq);
        for (const r of expired) out.push(r);
        h.stmt('UPDATE jobs SET state = 0 WHERE prefix = ? AND op = ? AND state = 1 AND run_at <= ?').run(p, op, now);
        this.lastLook.set(op, { at: now, found: true });
        if (out.length < max) takeWaiting();
      }
      return out;
    });
    const look = this.lastLook.get(op);
    if (look) look.found = rows.length > 0;
    return rows.map((r) => ({ id: r.id, data: readData(r.data), attempt: r.attempt, stalls: r.stalls, createdAt: r.created_at }));
  }

  async renew(ids: string[], leaseMs: number, owner: string) {
    const ext = this.h.stmt('UPDATE jobs SET lease_until = ? WHERE prefix = ? AND id = ? AND state = 2 AND owner = ?');
    return this.h.writeSoon(() => {
      const until = Date.now() + leaseMs;
      return ids.filter((id) => ext.run(until, this.prefix, id, owner).changes === 0);
    });
  }

  /** A job that is no longer ours (lease lost and taken) is left to its new holder. */
  async finish(job: ClaimedJob, outcome: JobOutcome, owner: string): Promise<void> {
    if (outcome.type === 'retry') return this.retry(job, outcome, owner);
    if (outcome.type === 'handback') return this.handBack(job, owner);
    // Stored without op and uri: getState adds them from the row.
    const final = outcome.type === 'completed' ? { state: 'completed', result: outcome.result } : { state: 'quarantined', quarantineId: outcome.quarantineId, error: outcome.error };
    const json = JSON.stringify(final);
    const h = this.h;
    await h.writeSoon(() => {
      const now = Date.now();
      const ended = h
        .stmt('UPDATE jobs SET state = ?, outcome = ?, finished_at = ?, lease_until = NULL WHERE prefix = ? AND id = ? AND state = 2 AND owner = ?')
        .run(outcome.type === 'completed' ? COMPLETED : QUARANTINED, json, now, this.prefix, job.id, owner).changes;
      // Trimmed every trimEvery finishes, and at least once a minute while jobs finish.
      if ((this.sinceTrim += ended) >= this.trimEvery || (ended > 0 && now - this.lastTrim >= 60_000)) {
        this.sinceTrim = 0;
        this.lastTrim = now;
        this.trim(now);
      }
    });
  }

  private async retry(job: ClaimedJob, outcome: Extract<JobOutcome, { type: 'retry' }>, owner: string) {
    const kwargs = outcome.kwargs ? JSON.stringify(outcome.kwargs) : null;
    const state = outcome.delayMs > 0 ? DELAYED : WAITING;
    await this.h.writeSoon(() =>
      this.h
        .stmt(
          `UPDATE jobs SET state = ?, run_at = ?, attempt = attempt + 1, lease_until = NULL,
             data = CASE WHEN ? IS NULL THEN data ELSE json_set(data, '$.kwargs', json(?)) END
           WHERE prefix = ? AND id = ? AND state = 2 AND owner = ?`,
        )
        .run(state, Date.now() + outcome.delayMs, kwargs, kwargs, this.prefix, job.id, owner),
    );
    this.wake(job.data.op, outcome.delayMs);
  }

  /** Back to waiting as it was: same attempt, same place in line (its run_at is kept). */
  private async handBack(job: ClaimedJob, owner: string) {
    await this.h.writeSoon(() =>
      this.h.stmt('UPDATE jobs SET state = 0, lease_until = NULL WHERE prefix = ? AND id = ? AND state = 2 AND owner = ?').run(this.prefix, job.id, owner),
    );
    this.wake(job.data.op);
  }

  /**
   * Delete finished jobs beyond the newest `keepFinished`, or older than `keepFinishedMs`,
   * and delivery records as old: a record goes once its job is recorded (WorkerSteps.settle),
   * so one that old was left behind (a settle that failed). Then give freed space back.
   */
  private trim(now: number) {
    this.h.stmt('DELETE FROM jobs WHERE prefix = ? AND state >= 3 AND finished_at < ?').run(this.prefix, now - this.keepFinishedMs);
    this.h
      .stmt(
        `DELETE FROM jobs WHERE prefix = @p AND state >= 3 AND finished_at < (
           SELECT finished_at FROM jobs WHERE prefix = @p AND state >= 3 ORDER BY finished_at DESC LIMIT 1 OFFSET @keep)`,
      )
      .run({ p: this.prefix, keep: this.keepFinished });
    this.h.stmt('DELETE FROM deliveries WHERE prefix = ? AND created_at < ?').run(this.prefix, now - this.keepFinishedMs);
    this.h.stmt('DELETE FROM runs WHERE prefix = ? AND started_at < ?').run(this.prefix, now - this.keepFinishedMs);
    this.h.releaseFreePages();
  }

  waitForWork(op: string, ms: number) {
    return this.h.waitFor(this.key(op), Math.min(ms, this.pollMs));
  }

  consume(opts: ConsumerOptions) {
    const owner = opts.workerId ?? `${hostname()}:${process.pid}:${newId()}`;
    return pollingConsumer(this, opts, owner, opts.leaseMs ? Math.min(this.pollMs, opts.leaseMs) : this.pollMs);
  }

  async getState(id: string): Promise<JobState> {
    const r = this.h.stmt("SELECT state, run_at, outcome, op, json_extract(data, '$.uri') AS uri FROM jobs WHERE prefix = ? AND id = ?").get(this.prefix, id) as
      | { state: number; run_at: number; outcome: string | null; op: string; uri: string }
      | undefined;
    if (!r) return { state: 'unknown' };
    if (r.outcome !== null) {
      const s = JSON.parse(r.outcome) as JobState;
      return s.state === 'completed' ? { ...s, op: r.op, uri: r.uri } : s;
    }
    if (r.state === DELAYED) return { state: r.run_at <= Date.now() ? 'waiting' : 'delayed' };
    return { state: r.state === ACTIVE ? 'active' : 'waiting' };
  }

  async counts(op: string): Promise<QueueCounts> {
    const r = this.h
      .stmt(
        `SELECT
           (SELECT count(*) FROM jobs WHERE prefix = @p AND op = @op AND state = 0) AS waiting,
           (SELECT count(*) FROM jobs WHERE prefix = @p AND op = @op AND state = 1 AND run_at <= @now) AS due,
           (SELECT count(*) FROM jobs WHERE prefix = @p AND op = @op AND state = 1 AND run_at > @now) AS delayed,
           (SELECT count(*) FROM jobs WHERE prefix = @p AND op = @op AND state = 2) AS active,
           EXISTS (SELECT 1 FROM paused WHERE prefix = @p AND op = @op) AS paused`,
      )
      .get({ p: this.prefix, op, now: Date.now() }) as { waiting: number; due: number; delayed: number; active: number; paused: number };
    return { waiting: r.waiting + r.due, active: r.active, delayed: r.delayed, paused: r.paused === 1 };
  }

  async pause(op: string) {
    await this.h.writeSoon(() => this.h.stmt('INSERT INTO paused (prefix, op) VALUES (?, ?) ON CONFLICT DO NOTHING').run(this.prefix, op));
  }

  async resume(op: string) {
    await this.h.writeSoon(() => this.h.stmt('DELETE FROM paused WHERE prefix = ? AND op = ?').run(this.prefix, op));
    this.wake(op);
  }

  async recent(op: string, limit: number) {
    const rows = this.h
      .stmt(
        `SELECT id, json_extract(data, '$.uri') AS uri, state, run_at, coalesce(finished_at, created_at) AS at
         FROM jobs WHERE prefix = ? AND op = ? ORDER BY seq DESC LIMIT ?`,
      )
      .all(this.prefix, op, limit) as { id: string; uri: string; state: number; run_at: number; at: number }[];
    const now = Date.now();
    return rows.map((r) => ({
      id: r.id,
      uri: r.uri,
      state: r.state === DELAYED && r.run_at <= now ? 'waiting' : STATE_NAMES[r.state] ?? 'unknown',
      at: r.at,
    }));
  }

  async list(op: string, o: { state?: JobListState; limit?: number } = {}) {
    const limit = o.limit ?? 100;
    const now = Date.now();
    const out: JobInfo[] = [];
    for (const st of o.state ? [o.state] : (['active', 'waiting', 'delayed'] as const)) {
      if (out.length >= limit) break;
      const rows = this.h.stmt(`SELECT ${INFO_COLS} FROM jobs WHERE prefix = @p AND op = @op AND ${LIST_SQL[st]} LIMIT @limit`).all({ p: this.prefix, op, now, limit: limit - out.length }) as InfoRow[];
      for (const r of rows) out.push(infoOf(r, now));
    }
    return out;
  }

  async job(id: string) {
    const r = this.h.stmt(`SELECT ${INFO_COLS} FROM jobs WHERE prefix = ? AND id = ?`).get(this.prefix, id) as InfoRow | undefined;
    return r ? infoOf(r, Date.now()) : undefined;
  }

  async remove(op: string, ids: string[]) {
    if (ids.length === 0) return [];
    const del = this.h.stmt('DELETE FROM jobs WHERE prefix = ? AND op = ? AND id = ? AND state IN (0, 1)');
    return this.h.writeSoon(() => ids.filter((id) => del.run(this.prefix, op, id).changes > 0));
  }

  async clear() {
    await this.clearPrefix('jobs', 'paused');
  }

  override async close() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await super.close();
  }
}
