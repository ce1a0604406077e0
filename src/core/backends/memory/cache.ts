import type { CacheChange, CacheStore, ChangeFeed, ChangeListener, Key, StoredEntry } from '../../ports.js';
import { ChangeListeners } from '../change-listeners.js';

const k = (key: Key) => `${key.ns}\u0000${key.id}`;
const live = (e: StoredEntry | undefined, now: number) => (e && (e.staleUntil === null || e.staleUntil > now) ? e : undefined);

/**
 * The change feed of one memory deployment (all of it lives in this process): live from the
 * start, and told after each write, which is visible at once (writes are synchronous).
 */
export class MemoryChangeFeed implements ChangeFeed {
  private readonly ls = new ChangeListeners();
  constructor() {
    this.ls.setLive(true);
  }

  listen(l: ChangeListener) {
    return this.ls.add(l);
  }

  /** Tell the listeners, asynchronously (a listener never runs inside the writer's call). */
  tell(c: CacheChange) {
    if (this.ls.size > 0) queueMicrotask(() => this.ls.tell(c));
  }

  /** Tell the keys' ids, one change per namespace. */
  tellKeys(keys: Key[]) {
    if (this.ls.size === 0 || keys.length === 0) return;
    const byNs = new Map<string, string[]>();
    for (const { ns, id } of keys) {
      const ids = byNs.get(ns);
      if (ids) ids.push(id);
      else byNs.set(ns, [id]);
    }
    for (const [ns, ids] of byNs) this.tell({ ns, ids });
  }
}

export class MemoryCacheStore implements CacheStore {
  readonly kind = 'memory';
  readonly changes = new MemoryChangeFeed();
  private entries = new Map<string, StoredEntry>();
  private byNs = new Map<string, Set<string>>();

  async getMany(keys: Key[]) {
    return keys.map((key) => this.read(key));
  }

  /** One entry, synchronously; a copy, so callers never mutate what is stored (as with a real backend). */
  read(key: Key) {
    const e = live(this.entries.get(k(key)), Date.now());
    return e && structuredClone(e);
  }

  async setMany(items: { key: Key; entry: StoredEntry }[]) {
    this.write(items);
  }

  /** Store entries, synchronously (MemoryWorkerSteps). */
  write(items: { key: Key; entry: StoredEntry }[]) {
    for (const { key, entry } of items) {
      this.entries.set(k(key), structuredClone(entry));
      let ids = this.byNs.get(key.ns);
      if (!ids) this.byNs.set(key.ns, (ids = new Set()));
      ids.add(key.id);
    }
    this.changes.tellKeys(items.map((it) => it.key));
  }

  async deleteMany(keys: Key[]) {
    let n = 0;
    for (const key of keys) {
      if (this.entries.delete(k(key))) n++;
      this.byNs.get(key.ns)?.delete(key.id);
    }
    this.changes.tellKeys(keys);
    return n;
  }

  async markStale(keys: Key[], now: number) {
    let n = 0;
    for (const key of keys) {
      const e = live(this.entries.get(k(key)), now);
      if (!e) continue;
      e.expiresAt = e.expiresAt === null ? now : Math.min(e.expiresAt, now);
      n++;
    }
    this.changes.tellKeys(keys);
    return n;
  }

  async *scan(ns: string, prefix: string) {
    const ids = [...(this.byNs.get(ns) ?? [])].filter((id) => id.startsWith(prefix)).sort();
    const now = Date.now();
    for (const id of ids) if (live(this.entries.get(k({ ns, id })), now)) yield id;
  }

  async namespaces() {
    return [...this.byNs].filter(([, ids]) => ids.size > 0).map(([ns]) => ns);
  }

  async count(ns: string) {
    return this.byNs.get(ns)?.size ?? 0;
  }

  async clear() {
    this.entries.clear();
    this.byNs.clear();
    this.changes.tell({ all: true });
  }

  async close() {}
}
