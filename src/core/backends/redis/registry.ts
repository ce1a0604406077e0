import type { RedisClient } from './connection.js';
import { newId } from '../../hash.js';
import { emptyCounters, type CounterName, type OpCounters, type Registry, type WorkerInfo } from '../../ports.js';
import type { RedisKeys } from './keys.js';
import { clearArea, TagBatch } from './scan.js';
import { queueScript, runScript } from './scripts.js';

/** How long a counter batch's id is remembered (a resent batch within it adds nothing). */
const BATCH_MARK_MS = 10 * 60_000;

/** Recent run times kept per operation. */
export const DURATION_WINDOW = 500;

/**
 * Workers (a ZSET by heartbeat expiry plus a HASH of info, under `{P:}:w:`), cumulative
 * counters per operation (`{P:N}:stats`, added once per batch by registry-incr-2.lua) and
 * a trimmed list of run times.
 */
export class RedisRegistry implements Registry {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async heartbeat(worker: WorkerInfo, ttlMs: number) {
    const { expiry, info } = this.keys.workers();
    const now = Date.now();
    await runScript(this.client, 'registry-heartbeat-2', [expiry, info], [worker.id, JSON.stringify(worker), now + ttlMs, now]);
  }

  async remove(workerId: string) {
    const { expiry, info } = this.keys.workers();
    await runScript(this.client, 'registry-remove-2', [expiry, info], [workerId]);
  }

  async workers() {
    const { expiry, info } = this.keys.workers();
    const all = await runScript<string[]>(this.client, 'registry-workers-2', [expiry, info], [Date.now()]);
    return all.map((s) => JSON.parse(s) as WorkerInfo);
  }

  async incr(deltas: Record<string, Partial<OpCounters>>) {
    const ops = Object.keys(deltas);
    if (ops.length === 0) return;
    const p = new TagBatch(this.client);
    const batch = newId();
    for (const op of ops) {
      const args: (string | number)[] = [BATCH_MARK_MS];
      for (const [name, v] of Object.entries(deltas[op]!) as [CounterName, number][]) if (v) args.push(name, v);
      // One script per operation (its own slot): the batch id makes a resent call a no-op.
      if (args.length > 1) p.add(this.keys.tag(op), (q) => queueScript(q, 'registry-incr-2', [this.keys.stats(op), `${this.keys.stats(op)}:b:${batch}`], args));
    }
    p.add(this.keys.global, (q) => q.sadd(this.keys.namespaces('stats'), ...ops));
    await p.exec();
  }

  private async ops() {
    return this.client.smembers(this.keys.namespaces('stats'));
  }

  async counters() {
    const ops = await this.ops();
    if (ops.length === 0) return {};
    const p = new TagBatch(this.client);
    for (const op of ops) p.add(this.keys.tag(op), (q) => q.hgetall(this.keys.stats(op)));
    const all = (await p.exec()) as Record<string, string>[];
    const out: Record<string, OpCounters> = {};
    ops.forEach((op, i) => {
      const c = emptyCounters();
      for (const [name, v] of Object.entries(all[i] ?? {})) if (name in c) c[name as CounterName] = Number(v);
      out[op] = c;
    });
    return out;
  }

  async recordDurations(op: string, ms: number[]) {
    if (ms.length === 0) return;
    const key = this.keys.durations(op);
    // Push then trim, back to back in one round trip (a concurrent push is trimmed by the next).
    const p = new TagBatch(this.client);
    p.add(this.keys.tag(op), (q) => q.rpush(key, ...ms.map(String)));
    p.add(this.keys.tag(op), (q) => q.ltrim(key, -DURATION_WINDOW, -1));
    p.add(this.keys.global, (q) => q.sadd(this.keys.namespaces('stats'), op));
    await p.exec();
  }

  async durations() {
    const ops = await this.ops();
    if (ops.length === 0) return {};
    const p = new TagBatch(this.client);
    for (const op of ops) p.add(this.keys.tag(op), (q) => q.lrange(this.keys.durations(op), 0, -1));
    const all = (await p.exec()) as string[][];
    const out: Record<string, number[]> = {};
    ops.forEach((op, i) => {
      if (all[i]!.length > 0) out[op] = all[i]!.map(Number);
    });
    return out;
  }

  async clear() {
    const ops = await this.ops();
    const { expiry, info } = this.keys.workers();
    const p = new TagBatch(this.client);
    p.add(this.keys.global, (q) => q.del(expiry, info, this.keys.namespaces('stats')));
    for (const op of ops) p.add(this.keys.tag(op), (q) => q.del(this.keys.stats(op), this.keys.durations(op)));
    await p.exec();
    await clearArea(this.client, this.keys, 'stats'); // the markers of resent increments (registry-incr-2.lua)
  }

  async close() {}
}
