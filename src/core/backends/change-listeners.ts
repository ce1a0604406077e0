import type { CacheChange, ChangeListener } from '../ports.js';

/**
 * The listeners of one change feed (ports.ts ChangeFeed) and what each was told: a listener
 * starts down and hears `up(true)` once the feed is live for it (at once, asynchronously,
 * when it joins a live feed), `up(false)` when the feed loses its source. Each listener
 * hears each state once (no repeated `up(true)`), and nothing after it stopped. A listener
 * that throws does not keep the others from hearing: the feed is not the place to report it.
 */
export class ChangeListeners {
  private readonly ls = new Map<ChangeListener, { up: boolean }>();
  private isLive = false;

  get size() {
    return this.ls.size;
  }

  get live() {
    return this.isLive;
  }

  /** Add a listener; returns the function that stops it (idempotent). */
  add(l: ChangeListener): () => void {
    const st = { up: false };
    this.ls.set(l, st);
    if (this.isLive) queueMicrotask(() => this.raise(l, st));
    return () => {
      if (this.ls.get(l) === st) this.ls.delete(l);
    };
  }

  /** The feed's source is live (subscribed, watching) or lost. */
  setLive(live: boolean) {
    if (this.isLive === live) return;
    this.isLive = live;
    for (const [l, st] of [...this.ls]) {
      if (live) this.raise(l, st);
      else if (st.up) {
        st.up = false;
        call(() => l.up(false));
      }
    }
  }

  /** Tell every listener (one that has not heard `up(true)` yet hears it first). */
  tell(c: CacheChange) {
    for (const [l, st] of [...this.ls]) {
      if (this.ls.get(l) !== st) continue; // stopped by an earlier listener's call
      if (!st.up) this.raise(l, st);
      call(() => l.change(c));
    }
  }

  /** Drop every listener, telling those that were up that they are no more (the store closes). */
  clear() {
    this.setLive(false);
    this.ls.clear();
  }

  private raise(l: ChangeListener, st: { up: boolean }) {
    if (st.up || !this.isLive || this.ls.get(l) !== st) return;
    st.up = true;
    call(() => l.up(true));
  }
}

function call(fn: () => void) {
  try {
    fn();
  } catch {
    /* a listener's own failure (see ChangeListeners) */
  }
}
