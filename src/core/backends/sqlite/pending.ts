import type { Key, PendingAdd, PendingAddResult, PendingSet } from '../../ports.js';
import { SqliteStore } from './db.js';

/**
 * A map key for a pair, equal for what was bound and what SQLite hands back (SQLite
 * stores UTF-8, so a lone surrogate comes back as U+FFFD).
 */
const wellFormed = (s: string) => ((s as unknown as { isWellFormed(): boolean }).isWellFormed() ? s : (s as unknown as { toWellFormed(): string }).toWellFormed());
const CONFLICT = Symbol('some pairs are pending already');
const pairKey = (ns: string, id: string) => `${ns.length}:${wellFormed(ns)}${wellFormed(id)}`;

/**
 * A pair's pending requests: one `pending` row (its presence means "a job is pending")
 * with the job id, the first request's cbArgs and the number of requests `n`; requests
 * 2..n are `pending_args` rows numbered in arrival order.
 */
export class SqlitePendingSet extends SqliteStore implements PendingSet {
  async addMany(items: PendingAdd[]): Promise<PendingAddResult[]> {
    if (items.length === 0) return [];
    // Group the batch by pair (duplicates coalesce), in order of first appearance.
    const groups = new Map<string, { ns: string; id: string; jobId: string; idx: number[]; args: string[] }>();
    items.forEach((it, i) => {
      const k = pairKey(it.key.ns, it.key.id);
      let g = groups.get(k);
      if (!g) groups.set(k, (g = { ns: it.key.ns, id: it.key.id, jobId: it.jobId, idx: [], args: [] }));
      g.idx.push(i);
      g.args.push(JSON.stringify(it.cbArgs) ?? 'null');
    });
    const out = new Array<PendingAddResult>(items.length);
    const pairs = [...groups.values()];
    const head = 'INSERT INTO pending (prefix, ns, id, job_id, n, cb_args)';
    const tuple = '(?, ?, ?, ?, ?, ?)';
    const rows = pairs.map((g) => [this.prefix, g.ns, g.id, g.jobId, g.idx.length, g.args[0]]);
    await this.h.writeSoon(() => {
      const extra: unknown[][] = [];
      // Requests j of a pair whose numbers are n - k + 1 + j (k requests in this batch).
      const place = (g: (typeof pairs)[number], jobId: string, n: number, fresh: boolean) => {
        const k = g.idx.length;
        g.idx.forEach((i, j) => {
          out[i] = { first: fresh && j === 0, jobId };
          if (!(fresh && j === 0)) extra.push([this.prefix, g.ns, g.id, n - k + 1 + j, g.args[j]]);
        });
      };
      if (this.allNew(head, tuple, rows)) {
        for (const g of pairs) place(g, g.jobId, g.idx.length, true);
      } else {
        // Some pairs were pending already: one upsert per pair tells which, and their numbers.
        const got = this.h.many(head, tuple, 'ON CONFLICT (prefix, ns, id) DO UPDATE SET n = n + excluded.n RETURNING ns, id, job_id, n', rows).rows as {
          ns: string;
          id: string;
          job_id: string;
          n: number;
        }[];
        for (const r of got) {
          const g = groups.get(pairKey(r.ns, r.id))!;
          place(g, r.job_id, r.n, r.n === g.idx.length); // an existing row had n >= 1 before adding k
        }
      }
      if (extra.length) this.h.many('INSERT INTO pending_args (prefix, ns, id, n, cb_args)', '(?, ?, ?, ?, ?)', '', extra);
    });
    return out;
  }

  /**
   * The common case of a bulk submit, cheaply: insert every pair as new, inside a
   * savepoint that is rolled back unless all of them were (no RETURNING, no upsert).
   */
  private allNew(head: string, tuple: string, rows: unknown[][]) {
    try {
      this.h.write(() => {
        if (this.h.many(head, tuple, 'ON CONFLICT (prefix, ns, id) DO NOTHING', rows).changes !== rows.length) throw CONFLICT;
      });
      return true;
    } catch (e) {
      if (e === CONFLICT) return false;
      throw e;
    }
  }

  async takeAll(key: Key) {
    const takeFirst = this.h.pluck('DELETE FROM pending WHERE prefix = ? AND ns = ? AND id = ? RETURNING cb_args');
    const takeRest = this.h.stmt('DELETE FROM pending_args WHERE prefix = ? AND ns = ? AND id = ? RETURNING n, cb_args');
    const [first, rest] = await this.h.writeSoon(() => [
      takeFirst.get(this.prefix, key.ns, key.id) as string | undefined,
      takeRest.all(this.prefix, key.ns, key.id) as { n: number; cb_args: string }[],
    ]);
    if (first === undefined) return [];
    rest.sort((a, b) => a.n - b.n);
    return [first, ...rest.map((r) => r.cb_args)].map((s) => JSON.parse(s) as unknown);
  }

  async jobIdOf(key: Key) {
    return this.h.pluck('SELECT job_id FROM pending WHERE prefix = ? AND ns = ? AND id = ?').get(this.prefix, key.ns, key.id) as string | undefined;
  }

  async count(ns: string) {
    return this.h.pluck('SELECT count(*) FROM pending WHERE prefix = ? AND ns = ?').get(this.prefix, ns) as number;
  }

  async clear() {
    await this.h.writeSoon(() => {
      this.h.stmt('DELETE FROM pending_args WHERE prefix = ?').run(this.prefix);
      this.h.stmt('DELETE FROM pending WHERE prefix = ?').run(this.prefix);
    });
  }
}
