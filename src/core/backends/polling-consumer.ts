import { setMaxListeners } from 'node:events';
import type { ClaimedJob, Consumer, ConsumerOptions, JobOutcome } from '../ports.js';

/**
 * The consumer loop shared by the memory and SQLite queues: claim jobs in batches with
 * a lease, run them up to each operation's concurrency, renew the leases of running jobs,
 * and report outcomes. A job whose lease is lost (the process stalled past it) has its
 * signal aborted; another worker may take it.
 */
export interface ClaimSource {
  /** Claim up to `max` due jobs of `op` for `leaseMs` (none while the op is paused). */
  claim(op: string, max: number, leaseMs: number, owner: string): Promise<ClaimedJob[]>;
  /** Extend leases; returns ids whose lease was lost. */
  renew(ids: string[], leaseMs: number, owner: string): Promise<string[]>;
  finish(job: ClaimedJob, outcome: JobOutcome, owner: string): Promise<void>;
  /** Resolves when new work may be available (or after `ms`). */
  waitForWork(op: string, ms: number): Promise<void>;
}

export function pollingConsumer(src: ClaimSource, opts: ConsumerOptions, owner: string, pollMs = 200): Consumer {
  const leaseMs = opts.leaseMs ?? 30_000;
  const running = new Map<string, { job: ClaimedJob; ctl: AbortController; done: Promise<void> }>();
  let stopping = false;
  let processed = 0;
  const lost = new Set<string>();
  const wakers = new Set<() => void>(); // loops waiting for a free slot
  const hard = new AbortController();
  setMaxListeners(0, hard.signal); // one listener per running job

  const renewTimer = setInterval(async () => {
    if (running.size === 0) return;
    try {
      for (const id of await src.renew([...running.keys()], leaseMs, owner)) {
        lost.add(id);
        running.get(id)?.ctl.abort(new Error('lease lost'));
      }
    } catch {
      /* transient: try again next tick; the lease is long enough for a few misses */
    }
  }, Math.max(50, Math.floor(leaseMs / 3)));
  renewTimer.unref();

  // Per-operation token bucket when a rate limit is set (per consumer process).
  const buckets = new Map<string, { tokens: number; at: number }>();
  const allowance = (op: string, want: number) => {
    const rl = opts.rateLimit?.(op);
    if (!rl) return { n: want, waitMs: 0 };
    const now = Date.now();
    const b = buckets.get(op) ?? { tokens: rl.max, at: now };
    b.tokens = Math.min(rl.max, b.tokens + ((now - b.at) * rl.max) / rl.perMs);
    b.at = now;
    buckets.set(op, b);
    const n = Math.min(want, Math.floor(b.tokens));
    b.tokens -= n;
    return { n, waitMs: n > 0 ? 0 : Math.ceil(((1 - b.tokens) * rl.perMs) / rl.max) };
  };

  const loops = opts.ops.map(async (op) => {
    const limit = Math.max(1, opts.concurrency(op));
    let active = 0;
    let slotFreed: () => void = () => {};
    while (!stopping) {
      if (active >= limit) {
        await new Promise<void>((r) => {
          slotFreed = r;
          wakers.add(r);
        });
        wakers.delete(slotFreed);
        continue;
      }
      const { n, waitMs } = allowance(op, limit - active);
      if (n === 0) {
        await sleep(waitMs, hard.signal);
        continue;
      }
      let jobs: ClaimedJob[];
      try {
        jobs = await src.claim(op, n, leaseMs, owner);
      } catch {
        await sleep(pollMs, hard.signal);
        continue;
      }
      if (jobs.length === 0) {
        const b = buckets.get(op);
        if (b) b.tokens += n; // give back unused tokens
        await src.waitForWork(op, pollMs);
        continue;
      }
      for (const job of jobs) {
        active++;
        const ctl = new AbortController();
        const onHard = () => ctl.abort(hard.signal.reason);
        hard.signal.addEventListener('abort', onHard, { once: true });
        const done = (async () => {
          try {
            let outcome: JobOutcome;
            try {
              outcome = await opts.handler(job, ctl.signal);
            } catch {
              // A step failed under the handler (a backend is down): hand the job back after a
              // pause, so a store that stays down is not hammered by the same job.
              await sleep(Math.min(1000, leaseMs / 2), hard.signal);
              outcome = { type: 'handback' };
            }
            // A job whose lease was lost belongs to whoever took it next.
            if (!lost.delete(job.id)) {
              await src.finish(job, outcome, owner);
              if (outcome.type !== 'handback') processed++;
              opts.recorded?.(job, outcome);
            }
          } catch {
            /* finish failed (backend gone): the lease runs out and the job is taken again */
          } finally {
            hard.signal.removeEventListener('abort', onHard);
            running.delete(job.id);
            active--;
            slotFreed();
          }
        })();
        running.set(job.id, { job, ctl, done });
      }
    }
  });

  return {
    get processed() {
      return processed;
    },
    runningJobs() {
      return [...running.keys()];
    },
    async stop(timeoutMs = 10_000) {
      stopping = true;
      const all = Promise.all([...running.values()].map((r) => r.done));
      const bound = new AbortController(); // so the bound's timer never outlives stop()
      const finished = await Promise.race([all.then(() => true), sleep(timeoutMs, bound.signal).then(() => false)]);
      bound.abort();
      clearInterval(renewTimer);
      if (!finished) {
        // Past the bound: abort what still runs; each handler answers `handback` and its job
        // goes back to waiting at once, as it was (not a stall, not a retry).
        hard.abort(new Error('worker stopped'));
        const grace = new AbortController();
        await Promise.race([all, sleep(Math.min(1000, Math.max(100, timeoutMs)), grace.signal)]);
        grace.abort();
        // Runs that ignore their signal: hand their jobs back ourselves; a late outcome is dropped.
        await Promise.allSettled(
          [...running.values()].map(({ job }) => {
            lost.add(job.id);
            return src.finish(job, { type: 'handback' }, owner);
          }),
        );
      }
      hard.abort(new Error('worker stopped'));
      for (const w of wakers) w();
      await Promise.allSettled(loops);
    },
  };
}

export function sleep(ms: number, signal?: AbortSignal) {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
