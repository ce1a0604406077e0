/** Calls per script call at most (bounds how long one call holds the server). */
const MAX_BATCH = 200;

/**
 * Collects the calls made in one tick (every job whose previous step answered in the same
 * socket read) and runs them together, one call of `run` per hash tag (one Redis slot).
 * With many jobs in flight a step then costs a fraction of a round trip per job.
 */
export class TickBatcher<Req extends { tag: string }, Res> {
  private queued: { req: Req; resolve: (r: Res) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;

  /**
   * `delayMs`: gather calls for that long instead of one tick, for a step nobody waits on
   * (dropping settled delivery records), so it costs one call for many jobs.
   */
  constructor(
    private readonly run: (tag: string, reqs: Req[]) => Promise<Res[]>,
    private readonly delayMs = 0,
  ) {}

  call(req: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.queued.push({ req, resolve, reject });
      if (this.queued.length >= MAX_BATCH) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        if (this.delayMs > 0) this.timer = setTimeout(() => this.flush(), this.delayMs);
        else process.nextTick(() => this.flush());
      }
    });
  }

  /** Run what is gathered now. */
  flush() {
    this.scheduled = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    const all = this.queued;
    if (all.length === 0) return;
    this.queued = [];
    const byTag = new Map<string, typeof all>();
    for (const q of all) {
      let g = byTag.get(q.req.tag);
      if (!g) byTag.set(q.req.tag, (g = []));
      g.push(q);
    }
    for (const [tag, group] of byTag) {
      let reply: Promise<Res[]>;
      try {
        reply = this.run(
          tag,
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
