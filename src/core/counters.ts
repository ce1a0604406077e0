import type { OpCounters, Registry } from './ports.js';

/** Run times buffered per operation between flushes, at most (registries keep the last 500). */
const DURATION_BUFFER = 500;

/**
 * Buffers counter increments and run times so the hot path costs no extra round trip;
 * flushed on an interval and on close. `flush()` before reading stats in-process.
 */
export class CounterBuffer {
  private deltas: Record<string, Partial<OpCounters>> = {};
  private times: Record<string, number[]> = {};
  private timer?: NodeJS.Timeout;
  private inflight: Promise<void> = Promise.resolve();

  constructor(
    private registry: Registry,
    private onError: (e: unknown) => void,
    intervalMs = 250,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  add(op: string, name: keyof OpCounters, n = 1) {
    if (n === 0) return;
    const d = (this.deltas[op] ??= {});
    d[name] = (d[name] ?? 0) + n;
  }

  duration(op: string, ms: number) {
    const t = (this.times[op] ??= []);
    t.push(ms);
    // Registries keep a recent window (500); more than that between two flushes is dropped
    // here rather than sent and trimmed.
    if (t.length >= 2 * DURATION_BUFFER) t.splice(0, t.length - DURATION_BUFFER);
  }

  flush(): Promise<void> {
    const deltas = this.deltas;
    const times = this.times;
    this.deltas = {};
    this.times = {};
    const work = async () => {
      if (Object.keys(deltas).length) await this.registry.incr(deltas);
      for (const [op, t] of Object.entries(times)) await this.registry.recordDurations(op, t);
    };
    this.inflight = this.inflight.then(work).catch(this.onError);
    return this.inflight;
  }

  async close() {
    clearInterval(this.timer);
    await this.flush();
  }
}
