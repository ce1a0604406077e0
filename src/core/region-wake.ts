import type { ChangeFeed } from './ports.js';

/** How often a waiter looks again although no change was told (a lost message, a dead holder). */
const SAFETY_MS = 1000;
/** Without a live feed: look again after 5, 10, 20 … 100 ms. */
const pollMs = (attempt: number) => Math.min(5 * 2 ** attempt, 100);
/** Stop listening once nobody waited for this long (the feed tells every change of the store). */
const IDLE_MS = 30_000;

/** One caller's interest in a key: set `changed` when the key's entry changes. */
export interface Watch {
  id: string;
  changed: boolean;
  wake?: () => void;
}

/**
 * Region waiters (getOrCreate while another process creates the value), woken when the
 * key's entry changes on the store's change feed (the creator's storeAndRelease is told
 * there, stored or not), when the feed drops, or by a timer: a slow one while the feed is
 * live, a short backoff otherwise (no feed, or not yet subscribed). The feed is listened to
 * only while callers wait, and a while after.
 */
export class Wakeups {
  private watching = new Map<string, Set<Watch>>();
  private stop?: () => void;
  private live = false;
  private idle?: NodeJS.Timeout;

  /**
   * `quietRelease`: a release without a stored value is not told on the feed (steps
   * composed from a separate cache and locker), so waiters keep the short backoff even
   * while the feed is live, and a failed creator is taken over as soon.
   */
  constructor(
    private readonly feed: ChangeFeed | undefined,
    private readonly ns: string,
    private readonly quietRelease = false,
  ) {}

  /**
   * Before the step whose outcome a change could follow: a watch, so that a change told
   * while the step runs is not missed. Only while the feed is live (otherwise waiting polls).
   */
  watch(id: string): Watch | undefined {
    if (!this.live) return undefined;
    const w: Watch = { id, changed: false };
    this.add(w);
    return w;
  }

  unwatch(w: Watch | undefined) {
    if (!w) return;
    const set = this.watching.get(w.id);
    set?.delete(w);
    if (set?.size === 0) this.watching.delete(w.id);
    if (this.watching.size === 0) this.idleSoon();
  }

  /** Until the key changes (or the timer); `w` from watch() is used up. */
  async wait(w: Watch | undefined, id: string, attempt: number): Promise<void> {
    this.listen();
    if (!w) this.add((w = { id, changed: false }));
    try {
      if (w.changed) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.live && !this.quietRelease ? SAFETY_MS : pollMs(attempt));
        w.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    } finally {
      this.unwatch(w);
    }
  }

  private add(w: Watch) {
    clearTimeout(this.idle);
    let set = this.watching.get(w.id);
    if (!set) this.watching.set(w.id, (set = new Set()));
    set.add(w);
  }

  private listen() {
    if (this.stop || !this.feed) return;
    this.stop = this.feed.listen({
      change: (c) => {
        if ('all' in c) this.wakeAll();
        else if (c.ns === this.ns) for (const id of c.ids) for (const w of this.watching.get(id) ?? []) this.touch(w);
      },
      up: (isUp) => {
        this.live = isUp;
        if (!isUp) this.wakeAll();
      },
    });
  }

  private touch(w: Watch) {
    w.changed = true;
    w.wake?.();
  }

  private wakeAll() {
    for (const set of this.watching.values()) for (const w of set) this.touch(w);
  }

  private idleSoon() {
    clearTimeout(this.idle);
    if (!this.stop) return;
    this.idle = setTimeout(() => this.close(), IDLE_MS);
    this.idle.unref();
  }

  close() {
    clearTimeout(this.idle);
    this.stop?.();
    this.stop = undefined;
    this.live = false;
    this.wakeAll();
  }
}
