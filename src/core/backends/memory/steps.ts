import { isFresh, isServable } from '../../entry.js';
import { newId } from '../../hash.js';
import type { BeginResult, Delivery, Key, QuarantineItem, StoredEntry, WorkerSteps } from '../../ports.js';
import type { MemoryCacheStore } from './cache.js';
import type { MemoryLocker } from './locker.js';
import type { MemoryPendingSet } from './pending.js';

const k = (key: Key, jobId: string) => `${key.ns}\u0000${jobId}`;

/**
 * The worker's steps in one process (ports.ts WorkerSteps): each step runs synchronously
 * over the memory cache, locks and pending set, so it is atomic.
 */
export class MemoryWorkerSteps implements WorkerSteps {
  private deliveries = new Map<string, { ns: string; d: Delivery }>();
  /** Open runs per job: runs that began and have not ended (their worker died, or they still run). */
  private runs = new Map<string, Set<string>>();

  constructor(
    private readonly cache: MemoryCacheStore,
    private readonly locker: MemoryLocker,
    private readonly pending: MemoryPendingSet,
  ) {}

  async begin(key: Key, jobId: string, runId: string, lockMs: number, force: boolean): Promise<BeginResult> {
    const now = Date.now();
    const e = this.cache.read(key);
    const rec = this.deliveries.get(k(key, jobId));
    let got: Omit<BeginResult, 'runs'>;
    if (rec) got = isServable(e, now) ? { delivery: structuredClone(rec.d), entry: e } : { delivery: structuredClone(rec.d) };
    else if (!force && e && isFresh(e, now)) got = { entry: e };
    else {
      const token = newId();
      if (!this.locker.take(key, token, lockMs)) return { busy: true };
      got = { token };
    }
    let open = this.runs.get(k(key, jobId));
    if (!open) this.runs.set(k(key, jobId), (open = new Set()));
    open.add(runId);
    return { ...got, runs: open.size } as BeginResult;
  }

  async end(key: Key, jobId: string, runId: string) {
    this.runs.get(k(key, jobId))?.delete(runId);
  }

  async finish(key: Key, jobId: string, items: { key: Key; entry: StoredEntry }[], token: string | null): Promise<Delivery> {
    this.cache.write(items);
    const d = this.record(key, jobId, () => ({ deliveryId: newId(), kind: 'result', cbArgs: this.pending.take(key) }));
    if (token) this.locker.drop(key, token);
    return d;
  }

  async quarantine(key: Key, jobId: string, item: QuarantineItem, token: string | null): Promise<Delivery> {
    const id = k(key, jobId);
    const rec = this.deliveries.get(id);
    let d: Delivery;
    if (rec?.d.kind === 'quarantine') d = rec.d;
    else {
      const cbArgs = rec ? rec.d.cbArgs : this.pending.take(key);
      d = { deliveryId: rec?.d.deliveryId ?? newId(), kind: 'quarantine', cbArgs, item: { ...structuredClone(item), cbArgs } };
      this.deliveries.set(id, { ns: key.ns, d });
    }
    if (token) this.locker.drop(key, token);
    return structuredClone(d);
  }

  async settle(key: Key, jobId: string) {
    this.deliveries.delete(k(key, jobId));
    this.runs.delete(k(key, jobId));
  }

  async records(ns: string) {
    let n = 0;
    for (const r of this.deliveries.values()) if (r.ns === ns) n++;
    return n;
  }

  private record(key: Key, jobId: string, make: () => Delivery): Delivery {
    const id = k(key, jobId);
    let rec = this.deliveries.get(id);
    if (!rec) this.deliveries.set(id, (rec = { ns: key.ns, d: make() }));
    return structuredClone(rec.d);
  }

  clear() {
    this.deliveries.clear();
    this.runs.clear();
  }
}
