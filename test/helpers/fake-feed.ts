/**
 * A change feed the test drives (ports.ts ChangeFeed), and a store around another that
 * has it and counts its reads: for L1 tests before (or beside) the stores' real feeds.
 */
import type { CacheChange, CacheStore, ChangeFeed, ChangeListener, Key } from '../../src/core/ports.js';
import { ProxyStore } from '../../src/core/proxy-store.js';

export class FakeFeed implements ChangeFeed {
  readonly listeners = new Set<ChangeListener>();
  listen(l: ChangeListener) {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  }
  change(c: CacheChange) {
    for (const l of this.listeners) l.change(c);
  }
  up(isUp: boolean) {
    for (const l of this.listeners) l.up(isUp);
  }
}

/** `inner` with `feed` as its change feed; counts getMany calls and the keys they asked for. */
export class FeedStore extends ProxyStore {
  reads = 0;
  keysRead: Key[] = [];
  /** When set, every getMany waits for it after reading (a reply still on its way). */
  gate?: Promise<void>;
  closed = false;
  constructor(
    inner: CacheStore,
    readonly feed: ChangeFeed = new FakeFeed(),
  ) {
    super(inner);
  }
  override get changes() {
    return this.feed;
  }
  override async getMany(keys: Key[]) {
    this.reads++;
    this.keysRead.push(...keys);
    const got = await this.inner.getMany(keys);
    if (this.gate) await this.gate;
    return got;
  }
  override async close() {
    this.closed = true;
    await this.inner.close();
  }
}
