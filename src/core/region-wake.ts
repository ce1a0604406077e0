import type { ChangeFeed } from './ports.js';

/** How often a waiter looks again although no change was told (a lost message, a dead holder). */
const SAFETY_MS = 1000;
/** Without a live feed: look again after 5, 10, 20 … 100 ms. */
const pollMs = (attempt: number) => Math.min(5 * 2 ** attempt, 100);

export interface Wait {
  promise: Promise<void>;
  cancel(): void;
}

/**
 * Region waiters (getOrCreate while another process creates the value), woken when the
 * key's entry changes on the store's change feed (the creator's storeAndRelease is told
 * there, stored or not), when the feed drops, or by a timer: a slow one while the feed is
 * live, a short backoff otherwise (no feed, or not yet subscribed).
 */
export class Wakeups {
  private waiting = new Map<string, Set<() => void>>();
  private stop?: () => void;
  private live = false;

  constructor(
    private readonly feed: ChangeFeed | undefined,
    private readonly ns: string,
  ) {}

  /** Register before the step whose outcome the change could follow, so no change is missed. */
  wait(id: string, attempt: number): Wait {
    this.listen();
    let done!: () => void;
    const promise = new Promise<void>((resolve) => (done = resolve));
    let set = this.waiting.get(id);
    if (!set) this.waiting.set(id, (set = new Set()));
    const waiters = set;
    const timer = setTimeout(wake, this.live ? SAFETY_MS : pollMs(attempt));
    function wake() {
      clearTimeout(timer);
      waiters.delete(wake);
      done();
    }
    const forget = () => {
      clearTimeout(timer);
      waiters.delete(wake);
      if (waiters.size === 0 && this.waiting.get(id) === waiters) this.waiting.delete(id);
    };
    waiters.add(wake);
    return { promise: promise.finally(forget), cancel: forget };
  }

  private listen() {
    if (this.stop || !this.feed) return;
    this.stop = this.feed.listen({
      change: (c) => {
        if ('all' in c) this.wakeAll();
        else if (c.ns === this.ns) for (const id of c.ids) for (const w of [...(this.waiting.get(id) ?? [])]) w();
      },
      up: (isUp) => {
        this.live = isUp;
        if (!isUp) this.wakeAll();
      },
    });
  }

  private wakeAll() {
    for (const set of [...this.waiting.values()]) for (const w of [...set]) w();
  }

  close() {
    this.stop?.();
    this.stop = undefined;
    this.live = false;
    this.wakeAll();
  }
}
