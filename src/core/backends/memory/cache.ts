import type { CacheStore, Key, StoredEntry } from '../../ports.js';

const k = (key: Key) => `${key.ns}\u0000${key.id}`;
const live = (e: StoredEntry | undefined, now: number) => (e && (e.staleUntil === null || e.staleUntil > now) ? e : undefined);

export class MemoryCacheStore implements CacheStore {
  readonly kind = 'memory';
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
  }

  async deleteMany(keys: Key[]) {
    let n = 0;
    for (const key of keys) {
      if (this.entries.delete(k(key))) n++;
      this.byNs.get(key.ns)?.delete(key.id);
    }
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
  }

  async close() {}
}
