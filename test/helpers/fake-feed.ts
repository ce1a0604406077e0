/**
 * A change feed the test drives (ports.ts ChangeFeed), and a store around another that
 * has it and counts its reads: for L1 tests before (or beside) the stores' real feeds.
 */
import type { MemoryCacheStore } from '../../src/core/backends/memory/cache.js';
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

/**
 * A feed told of every change of a memory store (its writes, deletes, soft invalidations
 * and clears, the worker's steps included), `latencyMs` after each, as a real feed tells
 * other processes; listeners are told `up` just after they listen.
 */
export function feedOfMemoryStore(mem: MemoryCacheStore, o: { latencyMs?: number } = {}): FakeFeed {
  const feed = new FakeFeed();
  const listen = feed.listen.bind(feed);
  feed.listen = (l) => {
    const stop = listen(l);
    queueMicrotask(() => l.up(true));
    return stop;
  };
  const tell = (c: CacheChange) => void setTimeout(() => feed.change(c), o.latencyMs ?? 0);
  const byNs = (keys: Key[]) => {
    const m = new Map<string, string[]>();
    for (const k of keys) m.set(k.ns, [...(m.get(k.ns) ?? []), k.id]);
    for (const [ns, ids] of m) tell({ ns, ids });
  };
  const { write, deleteMany, markStale, clear } = mem;
  mem.write = (items) => {
    write.call(mem, items);
    byNs(items.map((i) => i.key));
  };
  mem.deleteMany = async (keys) => {
    const n = await deleteMany.call(mem, keys);
    byNs(keys);
    return n;
  };
  mem.markStale = async (keys, now) => {
    const n = await markStale.call(mem, keys, now);
    byNs(keys);
    return n;
  };
  mem.clear = async () => {
    await clear.call(mem);
    tell({ all: true });
  };
  return feed;
}
