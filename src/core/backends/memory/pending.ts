import type { Key, PendingAdd, PendingSet } from '../../ports.js';

const k = (key: Key) => `${key.ns}\u0000${key.id}`;

export class MemoryPendingSet implements PendingSet {
  private pending = new Map<string, { ns: string; jobId: string; cbArgs: unknown[] }>();

  async addMany(items: PendingAdd[]) {
    return items.map(({ key, cbArgs, jobId }) => {
      const p = this.pending.get(k(key));
      if (p) {
        p.cbArgs.push(structuredClone(cbArgs));
        return { first: false, jobId: p.jobId };
      }
      this.pending.set(k(key), { ns: key.ns, jobId, cbArgs: [structuredClone(cbArgs)] });
      return { first: true, jobId };
    });
  }

  async takeAll(key: Key) {
    const p = this.pending.get(k(key));
    this.pending.delete(k(key));
    return p?.cbArgs ?? [];
  }

  async jobIdOf(key: Key) {
    return this.pending.get(k(key))?.jobId;
  }

  async count(ns: string) {
    let n = 0;
    for (const p of this.pending.values()) if (p.ns === ns) n++;
    return n;
  }

  async clear() {
    this.pending.clear();
  }

  async close() {}
}
