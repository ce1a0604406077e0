/**
 * `queue drain`: drop an operation's waiting and delayed jobs without losing a request.
 * For each job, in this order (a crash between any two steps loses nothing):
 *
 *   WorkerSteps.quarantine ─► the pair's pending cbArgs move into the job's delivery record
 *                             (kind quarantine), in one atomic step, as a worker's quarantine
 *   QuarantineStore.put    ─► the item (DrainedError), so `quarantine replay` brings it back
 *   JobQueue.remove        ─► the job leaves the queue (only if still waiting or delayed)
 *   WorkerSteps.settle     ─► the record goes
 *
 * A worker that takes the job meanwhile finds its record at `begin` and writes the same item
 * (idempotent: same id); the job is then left to it. Active jobs are never touched.
 */
import { DrainedError } from './errors.js';
import type { Backend, JobInfo, QuarantineItem } from './ports.js';

export interface DrainOptions {
  /** Count what would be drained; change nothing. */
  dryRun?: boolean;
  /** Jobs looked at per round (default 500). */
  batchSize?: number;
  /** Told after each round: jobs drained so far. */
  onProgress?: (drained: number) => void;
}

export interface DrainResult {
  op: string;
  dryRun: boolean;
  /** Waiting and delayed jobs found (added before the drain started). */
  waiting: number;
  delayed: number;
  /** Jobs removed from the queue (with dryRun: 0). */
  drained: number;
  /** Requests (callback arguments) now in quarantine. */
  requests: number;
  /** The quarantine items written, one per drained job. */
  items: string[];
  /** Jobs a worker took while the drain ran: their items are written, the jobs left to the worker. */
  taken: number;
  /** Active jobs, left running. */
  active: number;
}

/** How many jobs of a round go through their steps at once. */
const PARALLEL = 16;

/** The quarantine item of a drained job (exported for the crash tests). */
export function drainedItem(job: JobInfo, now: number): QuarantineItem {
  const replayOf = job.data && typeof job.data === 'object' ? job.data.replayOf : undefined;
  return {
    id: replayOf?.id ?? job.id,
    op: job.op,
    uri: job.uri,
    cbArgs: [],
    kwargs: (job.data && typeof job.data === 'object' && job.data.kwargs) || {},
    error: { name: DrainedError.name, message: `drained by backache queue drain while ${job.state}: the job was removed from the ${job.op} queue; replay to queue it again` },
    details: { reason: 'drained', state: job.state, jobId: job.id },
    attempts: (replayOf?.attempts ?? 0) + job.attempts,
    firstFailedAt: replayOf?.firstFailedAt ?? now,
    lastFailedAt: now,
  };
}

export async function drainQueue(backend: Backend, op: string, o: DrainOptions = {}): Promise<DrainResult> {
  const started = Date.now();
  const batchSize = o.batchSize ?? 500;
  const res: DrainResult = { op, dryRun: !!o.dryRun, waiting: 0, delayed: 0, drained: 0, requests: 0, items: [], taken: 0, active: 0 };
  if (o.dryRun) {
    const c = await backend.queue.counts(op);
    return { ...res, waiting: c.waiting, delayed: c.delayed, active: c.active };
  }
  const seen = new Set<string>();
  for (;;) {
    // Jobs added after the drain started are left (a busy producer would keep it going forever).
    const round = [...(await backend.queue.list(op, { state: 'waiting', limit: batchSize })), ...(await backend.queue.list(op, { state: 'delayed', limit: batchSize }))].filter(
      (j) => !seen.has(j.id) && j.createdAt <= started,
    );
    if (round.length === 0) break;
    for (const j of round) {
      seen.add(j.id);
      if (j.state === 'delayed') res.delayed++;
      else res.waiting++;
    }
    let failed = 0;
    for (let i = 0; i < round.length; i += PARALLEL) {
      await Promise.all(
        round.slice(i, i + PARALLEL).map(async (job) => {
          // At the place the job sits (a shard of an older layout keeps its own), as a worker's steps.
          const key = { ns: op, id: job.uri, ...(job.place !== undefined ? { place: job.place } : {}) };
          const item = drainedItem(job, Date.now());
          // Job data another program wrote (no uri) has no pair: its item is the job as it is.
          const record = job.uri ? await backend.steps.quarantine(key, job.id, item, null) : { item };
          await backend.quarantine.put(record.item!);
          res.items.push(record.item!.id);
          res.requests += record.item!.cbArgs.length;
          const [removed] = await backend.queue.remove(op, [job.id]);
          if (removed === undefined) {
            res.taken++;
            return;
          }
          res.drained++;
          failed++; // as a worker's quarantine counts (one that took the job counts it itself)
          if (job.uri) await backend.steps.settle(key, job.id);
        }),
      );
    }
    if (failed) await backend.registry.incr({ [op]: { failed } });
    o.onProgress?.(res.drained);
  }
  res.active = (await backend.queue.counts(op)).active;
  return res;
}
