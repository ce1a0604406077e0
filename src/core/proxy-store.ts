import type { CacheStore, Key, StoredEntry } from './ports.js';

/**
 * A proxy around a CacheStore (dogpile's ProxyBackend): subclass and override what you
 * want to observe or change; everything else passes through.
 */
export class ProxyStore implements CacheStore {
  constructor(protected inner: CacheStore) {}
  get kind() {
    return this.inner.kind;
  }
  get changes() {
    return this.inner.changes;
  }
  getMany(keys: Key[]) {
    return this.inner.getMany(keys);
  }
  setMany(items: { key: Key; entry: StoredEntry }[]) {
    return this.inner.setMany(items);
  }
  deleteMany(keys: Key[]) {
    return this.inner.deleteMany(keys);
  }
  markStale(keys: Key[], now: number) {
    return this.inner.markStale(keys, now);
  }
  scan(ns: string, prefix: string, opts?: { batchSize?: number }) {
    return this.inner.scan(ns, prefix, opts);
  }
  namespaces() {
    return this.inner.namespaces();
  }
  count(ns: string) {
    return this.inner.count(ns);
  }
  clear() {
    return this.inner.clear();
  }
  close() {
    return this.inner.close();
  }
}
