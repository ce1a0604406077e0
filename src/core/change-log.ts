/**
 * What changed lately, for an L1 tier's race safety: a read that started before a change
 * was told must not fill the tier with what it read (it may be the old value). Every
 * change bumps `epoch`; a read notes the epoch when it starts and, when its reply comes,
 * asks `since(start)` which keys it must not fill. The log keeps a bounded ring of the
 * recent keys; when the ring no longer reaches back to `start`, nothing may be filled.
 */

/** Nothing changed since: fill everything. */
export const NOTHING = 'nothing';
/** Everything may have changed (a clear, a lost feed, or the ring does not reach back): fill nothing. */
export const EVERYTHING = 'everything';

export type ChangedSince = typeof NOTHING | typeof EVERYTHING | Map<string, Set<string>>;

export class ChangeLog {
  /** Bumped by every change. */
  epoch = 0;
  /** The last epoch at which everything changed. */
  private allAt = 0;
  /** The newest epoch of a key the ring has overwritten. */
  private lostUpTo = 0;
  private readonly nss: string[];
  private readonly ids: string[];
  private readonly at: number[];
  private next = 0;
  private filled = 0;

  constructor(readonly capacity = 4096) {
    this.nss = new Array<string>(capacity).fill('');
    this.ids = new Array<string>(capacity).fill('');
    this.at = new Array<number>(capacity).fill(0);
  }

  /** A change begins: the keys `add`ed until the next bump belong to it. */
  bump() {
    this.epoch++;
  }

  add(ns: string, id: string) {
    const i = this.next;
    if (this.filled === this.capacity) this.lostUpTo = this.at[i]!;
    else this.filled++;
    this.nss[i] = ns;
    this.ids[i] = id;
    this.at[i] = this.epoch;
    this.next = (i + 1) % this.capacity;
  }

  /** Everything changed (or may have). */
  all() {
    this.epoch++;
    this.allAt = this.epoch;
  }

  /** The keys changed after epoch `start`. */
  since(start: number): ChangedSince {
    if (this.epoch === start) return NOTHING;
    if (this.allAt > start || this.lostUpTo > start) return EVERYTHING;
    const changed = new Map<string, Set<string>>();
    for (let k = 1; k <= this.filled; k++) {
      const i = (this.next - k + this.capacity) % this.capacity;
      if (this.at[i]! <= start) break;
      const ns = this.nss[i]!;
      let set = changed.get(ns);
      if (set === undefined) changed.set(ns, (set = new Set()));
      set.add(this.ids[i]!);
    }
    return changed;
  }
}
