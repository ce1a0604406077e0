import { emptyCounters, type OpCounters, type Registry, type WorkerInfo } from '../../ports.js';

export const DURATION_WINDOW = 500;

export class MemoryRegistry implements Registry {
  private live = new Map<string, { info: WorkerInfo; until: number }>();
  private counts = new Map<string, OpCounters>();
  private times = new Map<string, number[]>();

  async heartbeat(worker: WorkerInfo, ttlMs: number) {
    this.live.set(worker.id, { info: structuredClone(worker), until: Date.now() + ttlMs });
  }

  async remove(workerId: string) {
    this.live.delete(workerId);
  }

  async workers() {
    const now = Date.now();
    return [...this.live.values()].filter((w) => w.until > now).map((w) => structuredClone(w.info));
  }

  async incr(deltas: Record<string, Partial<OpCounters>>) {
    for (const [op, d] of Object.entries(deltas)) {
      let c = this.counts.get(op);
      if (!c) this.counts.set(op, (c = emptyCounters()));
      for (const [name, v] of Object.entries(d) as [keyof OpCounters, number][]) c[name] += v;
    }
  }

  async counters() {
    return Object.fromEntries([...this.counts].map(([op, c]) => [op, { ...c }]));
  }

  async recordDurations(op: string, ms: number[]) {
    const t = this.times.get(op) ?? [];
    t.push(...ms);
    this.times.set(op, t.slice(-DURATION_WINDOW));
  }

  async durations() {
    return Object.fromEntries([...this.times].map(([op, t]) => [op, [...t]]));
  }

  async clear() {
    this.live.clear();
    this.counts.clear();
    this.times.clear();
  }

  async close() {}
}
