import type { Key, PendingAdd, PendingAddResult, PendingSet } from '../../ports.js';
import { SqliteStore } from './db.js';

/**
 * A pair's pending requests: one `pending` row (whose presence means "a job is pending",
 * with its id) and one `pending_args` row per request, in arrival order.
 */
export class SqlitePendingSet extends SqliteStore implements PendingSet {
  async addMany(items: PendingAdd[]): Promise<PendingAddResult[]> {
    if (items.length === 0) return [];
    const args = items.map((it) => JSON.stringify(it.cbArgs) ?? 'null');
    const claim = this.h.stmt('INSERT INTO pending (prefix, ns, id, job_id) VALUES (?, ?, ?, ?) ON CONFLICT (prefix, ns, id) DO NOTHING');
    const jobOf = this.h.pluck('SELECT job_id FROM pending WHERE prefix = ? AND ns = ? AND id = ?');
    const append = this.h.stmt('INSERT INTO pending_args (prefix, ns, id, cb_args) VALUES (?, ?, ?, ?)');
    return this.h.write(() =>
      items.map(({ key, jobId }, i) => {
        append.run(this.prefix, key.ns, key.id, args[i]);
        if (claim.run(this.prefix, key.ns, key.id, jobId).changes === 1) return { first: true, jobId };
        return { first: false, jobId: jobOf.get(this.prefix, key.ns, key.id) as string };
      }),
    );
  }

  async takeAll(key: Key) {
    const list = this.h.pluck('SELECT cb_args FROM pending_args WHERE prefix = ? AND ns = ? AND id = ? ORDER BY seq');
    const dropArgs = this.h.stmt('DELETE FROM pending_args WHERE prefix = ? AND ns = ? AND id = ?');
    const drop = this.h.stmt('DELETE FROM pending WHERE prefix = ? AND ns = ? AND id = ?');
    const rows = this.h.write(() => {
      const all = list.all(this.prefix, key.ns, key.id) as string[];
      dropArgs.run(this.prefix, key.ns, key.id);
      drop.run(this.prefix, key.ns, key.id);
      return all;
    });
    return rows.map((s) => JSON.parse(s) as unknown);
  }

  async jobIdOf(key: Key) {
    return this.h.pluck('SELECT job_id FROM pending WHERE prefix = ? AND ns = ? AND id = ?').get(this.prefix, key.ns, key.id) as string | undefined;
  }

  async count(ns: string) {
    return this.h.pluck('SELECT count(*) FROM pending WHERE prefix = ? AND ns = ?').get(this.prefix, ns) as number;
  }

  async clear() {
    this.h.write(() => {
      this.h.stmt('DELETE FROM pending_args WHERE prefix = ?').run(this.prefix);
      this.h.stmt('DELETE FROM pending WHERE prefix = ?').run(this.prefix);
    });
  }
}
