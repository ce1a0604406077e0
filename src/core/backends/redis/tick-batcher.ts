import type { Key } from '../../ports.js';

/** Calls per script call at most (bounds how long one call holds the server). */
const MAX_BATCH = 200;

/**
 * Collects the calls made in one tick (every job whose previous step answered in the same
 * socket read) and runs them together, one call of `run` per namespace (one Redis slot).
 * With many jobs in flight a step then costs a fraction of a round trip per job.
 */
export class TickBatcher<Req extends { key: Key }, Res> {
  private queued: { req: Req; resolve: (r: Res) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  constructor(private readonly run: (ns: string, reqs: Req[]) => Promise<Res[]>) {}

  call(req: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.queued.push({ req, resolve, reject });
      if (this.queued.length >= MAX_BATCH) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        process.nextTick(() => this.flush());
      }
    });
  }

  private flush() {
    this.scheduled = false;
    const all = this.queued;
    if (all.length === 0) return;
    this.queued = [];
    const byNs = new Map<string, typeof all>();
    for (const q of all) {
      let g = byNs.get(q.req.key.ns);
      if (!g) byNs.set(q.req.key.ns, (g = []));
      g.push(q);
    }
    for (const [ns, group] of byNs) {
      let reply: Promise<Res[]>;
      try {
        reply = this.run(
          ns,
          group.map((q) => q.req),
        );
      } catch (e) {
        reply = Promise.reject(e);
      }
      reply.then(
        (res) => group.forEach((q, i) => q.resolve(res[i]!)),
        (e) => group.forEach((q) => q.reject(e)),
      );
    }
  }
}
