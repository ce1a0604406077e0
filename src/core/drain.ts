/**
 * `queue drain`: drop an operation's waiting and delayed jobs without losing a request.
 * For each job, in this order (a crash between any two steps loses nothing):
 *
 *   WorkerSteps.begin      ─► as a worker's first step (forced: a fresh entry is no reason to
 *                             skip): a job with a delivery record was run by a worker, and a
 *                             pair whose lock is held is being computed; both are left alone.
 *                             Otherwise the pair's lock is the drain's.
 *   WorkerSteps.quarantine ─► under that lock, the pair's pending cbArgs move into the job's
 *                             delivery record (kind quarantine), in one atomic step
 *   QuarantineStore.put    ─► the item (DrainedError), so `quarantine replay` brings it back
 *   JobQueue.remove        ─► the job leaves the queue (only if still waiting or delayed)
 *   WorkerSteps.end/settle ─► the drain's run ends; the record goes (if the job was removed)
 *
 * A worker that takes the job meanwhile waits for the lock, then finds the record at `begin`
 * and writes the same item (idempotent: same id); the job is then left to it. So a request is
 * delivered or quarantined, not both, and two drains at once count each job once.
 */
import { DrainedError } from './errors.js';
import { newId } from './hash.js';
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
  /** Jobs left alone: a worker had run or was running them, or another drain had them. */
  skipped: number;
  /** Active jobs, left running. */
  active: number;
}

/** How long the drain holds a pair's lock (its steps take a few round trips). */
const LOCK_MS = 30_000;

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
  const res: DrainResult = { op, dryRun: !!o.dryRun, waiting: 0, delayed: 0, drained: 0, requests: 0, items: [], taken: 0, skipped: 0, active: 0 };
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
          if (!job.uri) {
            // Job data another program wrote (no uri) has no pair: its item is the job as it is.
            await backend.quarantine.put(item);
            res.items.push(item.id);
            const [removed] = await backend.queue.remove(op, [job.id]);
            if (removed === undefined) res.taken++;
            else (res.drained++, failed++);
            return;
          }
          const runId = `drain-${newId()}`;
          const got = await backend.steps.begin(key, job.id, runId, LOCK_MS, true);
          // A record of kind quarantine (a drain stopped half-way; or a worker's, whose job is
          // then active and stays its own) is carried on; one of kind result, or a pair being
          // computed, is left alone.
          const resumed = 'delivery' in got && got.delivery.kind === 'quarantine' ? got.delivery : undefined;
          const token = 'token' in got ? got.token : null;
          if (!resumed && !token) {
            if (!('busy' in got)) await backend.steps.end(key, job.id, runId).catch(() => {});
            res.skipped++;
            return;
          }
          try {
            const record = resumed ?? (await backend.steps.quarantine(key, job.id, item, token));
            if (!resumed && record.cbArgs.length === 0) {
              // Nothing pending: the job was handled meanwhile (by a worker or another drain),
              // or it holds only silent requests (warm): an item only if the job is removed here.
              const [gone] = await backend.queue.remove(op, [job.id]);
              if (gone === undefined) {
                await backend.steps.settle(key, job.id);
                res.skipped++;
                return;
              }
              await backend.quarantine.put(record.item!);
              res.items.push(record.item!.id);
              res.drained++;
              failed++;
              await backend.steps.settle(key, job.id);
              return;
            }
            let put = record.item!;
            if (!resumed) {
              // Another drain handled this job already, and requests made since joined the pair
              // (rare): its item keeps its cbArgs, these are added.
              const prev = await backend.quarantine.get(put.id);
              if (prev) put = { ...put, cbArgs: [...prev.cbArgs, ...put.cbArgs] };
            }
            await backend.quarantine.put(put);
            // Counted by the drain that moved them (a record carried on was counted there, or
            // its drain stopped before saying so).
            if (!resumed) {
              res.items.push(record.item!.id);
              res.requests += record.item!.cbArgs.length;
            }
            const [removed] = await backend.queue.remove(op, [job.id]);
            if (removed === undefined) {
              res.taken++; // a worker took it: it finds the record and quarantines it the same way
              return;
            }
            res.drained++;
            failed++; // as a worker's quarantine counts (one that took the job counts it itself)
            await backend.steps.settle(key, job.id);
          } finally {
            await backend.steps.end(key, job.id, runId).catch(() => {});
            if (token) await backend.locker.release(key, token).catch(() => {}); // quarantine released it if still ours
          }
        }),
      );
    }
    if (failed) await backend.registry.incr({ [op]: { failed } });
    o.onProgress?.(res.drained);
  }
  res.active = (await backend.queue.counts(op)).active;
  return res;
}
