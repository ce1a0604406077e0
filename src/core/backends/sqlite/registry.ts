import { emptyCounters, type OpCounters, type Registry, type WorkerInfo } from '../../ports.js';
import { SqliteStore } from './db.js';

/** Run times kept per operation (as the memory registry). */
export const DURATION_WINDOW = 500;

export class SqliteRegistry extends SqliteStore implements Registry {
  async heartbeat(worker: WorkerInfo, ttlMs: number) {
    const put = this.h.stmt(
      'INSERT INTO workers (prefix, id, until, info) VALUES (?, ?, ?, ?) ON CONFLICT (prefix, id) DO UPDATE SET until = excluded.until, info = excluded.info',
    );
    const json = JSON.stringify(worker);
    await this.h.writeSoon(() => {
      const now = Date.now();
      this.h.stmt('DELETE FROM workers WHERE prefix = ? AND until <= ?').run(this.prefix, now); // the dead
      put.run(this.prefix, worker.id, now + ttlMs, json);
    });
  }

  async remove(workerId: string) {
    await this.h.writeSoon(() => this.h.stmt('DELETE FROM workers WHERE prefix = ? AND id = ?').run(this.prefix, workerId));
  }

  async workers() {
    const rows = this.h.pluck('SELECT info FROM workers WHERE prefix = ? AND until > ? ORDER BY id').all(this.prefix, Date.now()) as string[];
    return rows.map((s) => JSON.parse(s) as WorkerInfo);
  }

  async incr(deltas: Record<string, Partial<OpCounters>>) {
    const add = this.h.stmt(
      'INSERT INTO counters (prefix, op, name, value) VALUES (?, ?, ?, ?) ON CONFLICT (prefix, op, name) DO UPDATE SET value = value + excluded.value',
    );
    const rows: [string, string, number][] = [];
    for (const [op, d] of Object.entries(deltas)) for (const [name, v] of Object.entries(d)) if (v) rows.push([op, name, v]);
    if (rows.length === 0) return;
    await this.h.writeSoon(() => {
      for (const [op, name, v] of rows) add.run(this.prefix, op, name, v);
    });
  }

  async counters() {
    const rows = this.h.stmt('SELECT op, name, value FROM counters WHERE prefix = ?').all(this.prefix) as { op: string; name: string; value: number }[];
    const out: Record<string, OpCounters> = {};
    for (const r of rows) {
      const c = (out[r.op] ??= emptyCounters());
      if (r.name in c) c[r.name as keyof OpCounters] = r.value;
    }
    return out;
  }

  async recordDurations(op: string, ms: number[]) {
    if (ms.length === 0) return;
    const get = this.h.pluck('SELECT ms FROM durations WHERE prefix = ? AND op = ?');
    const put = this.h.stmt('INSERT INTO durations (prefix, op, ms) VALUES (?, ?, ?) ON CONFLICT (prefix, op) DO UPDATE SET ms = excluded.ms');
    await this.h.writeSoon(() => {
      const old = get.get(this.prefix, op) as string | undefined;
      const window = (old ? (JSON.parse(old) as number[]) : []).concat(ms).slice(-DURATION_WINDOW);
      put.run(this.prefix, op, JSON.stringify(window));
    });
  }

  async durations() {
    const rows = this.h.stmt('SELECT op, ms FROM durations WHERE prefix = ?').all(this.prefix) as { op: string; ms: string }[];
    return Object.fromEntries(rows.map((r) => [r.op, JSON.parse(r.ms) as number[]]));
  }

  async clear() {
    await this.clearPrefix('workers', 'counters', 'durations');
  }
}
