import type { Key, PendingAdd, PendingSet } from '../../ports.js';

const k = (key: Key) => `${key.ns}\u0000${key.id}`;

interface Pair {
  ns: string;
  jobId: string;
  cbArgs: unknown[];
  /** Request ids (their proposed job ids) already added, so a resent add counts once. */
  reqs: Set<string>;
}

export class MemoryPendingSet implements PendingSet {
  private pending = new Map<string, Pair>();

  async addMany(items: PendingAdd[]) {
    return items.map(({ key, cbArgs, jobId, silent }) => {
      const p = this.pending.get(k(key));
      if (p) {
        if (!p.reqs.has(jobId)) {
          p.reqs.add(jobId);
          if (!silent) p.cbArgs.push(structuredClone(cbArgs));
        }
        return { first: p.jobId === jobId, jobId: p.jobId };
      }
      this.pending.set(k(key), { ns: key.ns, jobId, cbArgs: silent ? [] : [structuredClone(cbArgs)], reqs: new Set([jobId]) });
      return { first: true, jobId };
    });
  }

  async takeAll(key: Key) {
    return this.take(key);
  }

  /** Take every cbArgs of a pair, synchronously (inside MemoryWorkerSteps' atomic steps). */
  take(key: Key): unknown[] {
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
