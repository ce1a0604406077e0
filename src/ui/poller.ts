/**
 * The polling loop behind `useSnapshot`, without React: one fetch per tick, never two at
 * once (the next tick is scheduled only after the current fetch settles), the last good
 * data kept when a fetch fails. Testable with fake timers.
 */
import { applyError, applySnapshot, emptyModel, type Snapshot, type SnapshotModel } from './snapshot.js';

export const MIN_INTERVAL_MS = 250;
export const DEFAULT_INTERVAL_MS = 1000;

export interface PollerOptions {
  fetch: () => Promise<Snapshot>;
  intervalMs: number;
  onChange: (model: SnapshotModel) => void;
  now?: () => number;
}

export class Poller {
  private current: SnapshotModel = emptyModel();
  private timer?: ReturnType<typeof setTimeout>;
  private inflight = false;
  private again = false;
  private stopped = true;
  private readonly now: () => number;
  /** Fetches started so far (for tests and the status line). */
  fetches = 0;

  constructor(private readonly o: PollerOptions) {
    this.now = o.now ?? Date.now;
  }

  get model() {
    return this.current;
  }

  get intervalMs() {
    return Math.max(MIN_INTERVAL_MS, this.o.intervalMs);
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    void this.tick();
  }

  stop() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Fetch now, or right after the fetch in flight (after an action, or a view change). */
  refresh() {
    if (this.stopped) return;
    if (this.inflight) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    void this.tick();
  }

  private async tick() {
    if (this.inflight || this.stopped) return;
    this.inflight = true;
    this.again = false;
    this.fetches++;
    const started = this.now();
    try {
      const snap = await this.o.fetch();
      if (this.stopped) return;
      this.current = applySnapshot(this.current, snap, this.now());
    } catch (e) {
      if (this.stopped) return;
      this.current = applyError(this.current, e, this.now());
    } finally {
      this.inflight = false;
    }
    this.o.onChange(this.current);
    if (this.stopped) return;
    const wait = this.again ? 0 : Math.max(0, this.intervalMs - (this.now() - started));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tick();
    }, wait);
  }
}
