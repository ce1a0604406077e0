import type { Key, PendingAdd, PendingAddResult, PendingSet } from '../../ports.js';
import { SqliteStore } from './db.js';

const CONFLICT = Symbol('some pairs are pending already');
const HEAD = 'INSERT INTO pending (prefix, ns, id, job_id, n, cb_args)';
const TUPLE = '(?, ?, ?, ?, ?, ?)';

/**
 * A map key for a pair, equal for what was bound and what SQLite hands back (SQLite
 * stores UTF-8, so a lone surrogate comes back as U+FFFD).
 */
const wellFormed = (s: string) => ((s as unknown as { isWellFormed(): boolean }).isWellFormed() ? s : (s as unknown as { toWellFormed(): string }).toWellFormed());
const pairKey = (ns: string, id: string) => `${ns.length}:${wellFormed(ns)}${wellFormed(id)}`;

/** The requests of one pair in a batch: their positions and serialised cbArgs. */
interface Group {
  ns: string;
  id: string;
  jobId: string;
  idx: number[];
  args: string[];
}

/**
 * A pair's pending requests: one `pending` row (its presence means "a job is pending")
 * with the job id, the first request's cbArgs and the number of requests `n`; requests
 * 2..n are `pending_args` rows numbered in arrival order.
 */
export class SqlitePendingSet extends SqliteStore implements PendingSet {
  async addMany(items: PendingAdd[]): Promise<PendingAddResult[]> {
    if (items.length === 0) return [];
    const args = items.map((it) => JSON.stringify(it.cbArgs) ?? 'null');
    // Group the batch by pair (duplicates coalesce), in order of first appearance.
    const groups = new Map<string, Group>();
    for (let i = 0; i < items.length; i++) {
      const { key, jobId } = items[i]!;
      const k = pairKey(key.ns, key.id);
      const g = groups.get(k);
      if (g) {
        g.idx.push(i);
        g.args.push(args[i]!);
      } else groups.set(k, { ns: key.ns, id: key.id, jobId, idx: [i], args: [args[i]!] });
    }
    const pairs = [...groups.values()];
    const params: unknown[] = [];
    for (const g of pairs) params.push(this.prefix, g.ns, g.id, g.jobId, g.idx.length, g.args[0]);
    const out = new Array<PendingAddResult>(items.length);
    await this.h.writeSoon(() => {
      const extra: unknown[] = [];
      // Requests j of a pair get numbers n - k + 1 + j (k requests of the pair in this batch).
      const place = (g: Group, jobId: string, n: number, fresh: boolean) => {
        const k = g.idx.length;
        for (let j = 0; j < k; j++) {
          out[g.idx[j]!] = { first: fresh && j === 0, jobId };
          if (!(fresh && j === 0)) extra.push(this.prefix, g.ns, g.id, n - k + 1 + j, g.args[j]);
        }
      };
      if (this.allNew(params, pairs.length)) {
        for (const g of pairs) place(g, g.jobId, g.idx.length, true);
      } else {
        // Some pairs were pending already: one upsert per pair tells which, and their numbers.
        const got = this.h.many(HEAD, TUPLE, 'ON CONFLICT (prefix, ns, id) DO UPDATE SET n = n + excluded.n RETURNING ns, id, job_id, n', params, 6).rows as {
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
      if (extra.length) this.h.many('INSERT INTO pending_args (prefix, ns, id, n, cb_args)', '(?, ?, ?, ?, ?)', '', extra, 5);
    });
    return out;
  }

  /**
   * The common case of a bulk submit, cheaply: insert every pair as new, inside a
   * savepoint that is rolled back unless all of them were (no RETURNING, no upsert).
   */
  private allNew(params: unknown[], count: number) {
    try {
      this.h.write(() => {
        if (this.h.many(HEAD, TUPLE, 'ON CONFLICT (prefix, ns, id) DO NOTHING', params, 6).changes !== count) throw CONFLICT;
      });
      return true;
    } catch (e) {
      if (e === CONFLICT) return false;
      throw e;
    }
  }

  async takeAll(key: Key) {
    return this.h.writeSoon(() => this.take(key));
  }

  /** Take every cbArgs of a pair, in arrival order; runs inside the caller's write transaction. */
  take(key: Key): unknown[] {
    const first = this.h.pluck('DELETE FROM pending WHERE prefix = ? AND ns = ? AND id = ? RETURNING cb_args').get(this.prefix, key.ns, key.id) as string | undefined;
    const rest = this.h.stmt('DELETE FROM pending_args WHERE prefix = ? AND ns = ? AND id = ? RETURNING n, cb_args').all(this.prefix, key.ns, key.id) as { n: number; cb_args: string }[];
    if (first === undefined) return [];
    const out: unknown[] = [JSON.parse(first)];
    if (rest.length > 0) {
      rest.sort((a, b) => a.n - b.n);
      for (const r of rest) out.push(JSON.parse(r.cb_args));
    }
    return out;
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
