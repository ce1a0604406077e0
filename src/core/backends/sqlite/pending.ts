import type { Key, PendingAdd, PendingAddResult, PendingSet } from '../../ports.js';
import { SqliteStore } from './db.js';

const CONFLICT = Symbol('some pairs are pending already');
const HEAD = 'INSERT INTO pending (prefix, ns, id, job_id, n, cb_args)';
const TUPLE = '(?, ?, ?, ?, ?, ?)';
/**
 * On a pending pair, hand out one number per request of the batch that has cbArgs:
 * `excluded.n` (newN) counts the first request whether or not it has any, so a silent
 * first (cb_args NULL) is taken off.
 */
const UPSERT = 'ON CONFLICT (prefix, ns, id) DO UPDATE SET n = n + excluded.n - (excluded.cb_args IS NULL) RETURNING ns, id, job_id, n';

/**
 * A map key for a pair, equal for what was bound and what SQLite hands back (SQLite
 * stores UTF-8, so a lone surrogate comes back as U+FFFD).
 */
const wellFormed = (s: string) => ((s as unknown as { isWellFormed(): boolean }).isWellFormed() ? s : (s as unknown as { toWellFormed(): string }).toWellFormed());
const pairKey = (ns: string, id: string) => `${ns.length}:${wellFormed(ns)}${wellFormed(id)}`;

/** One request of a batch: its id, serialised cbArgs (null: silent) and the positions it answers (resends inside the batch). */
interface Req {
  jobId: string;
  args: string | null;
  idx: number[];
}

/** The requests of one pair in a batch, in arrival order, each id once. */
interface Group {
  ns: string;
  id: string;
  reqs: Req[];
  /** How many of `reqs` have cbArgs. */
  withArgs: number;
  /** `reqs` by id, once there are several. */
  byId?: Map<string, Req>;
}

/** The `n` of a new pair's row: the first request holds number 1, silent or not. */
const newN = (g: Group) => g.withArgs + (g.reqs[0]!.args === null ? 1 : 0);

/** A request with cbArgs that joins a pending pair (is not its first), and the number of its cbArgs. */
interface Joiner {
  g: Group;
  req: Req;
  num: number;
}

/**
 * A pair's pending requests: one `pending` row (its presence means "a job is pending")
 * with the job id (= the first request's id), the first request's cbArgs and the last
 * number handed out `n`; the cbArgs of later requests are `pending_args` rows numbered in
 * arrival order and keyed by request id, so a request added twice counts once (a silent
 * one adds nothing either time).
 */
export class SqlitePendingSet extends SqliteStore implements PendingSet {
  async addMany(items: PendingAdd[]): Promise<PendingAddResult[]> {
    if (items.length === 0) return [];
    const groups = groupByPair(items);
    const pairs = [...groups.values()];
    const params: unknown[] = [];
    for (const g of pairs) params.push(this.prefix, g.ns, g.id, g.reqs[0]!.jobId, newN(g), g.reqs[0]!.args);
    const out = new Array<PendingAddResult>(items.length);
    await this.h.writeSoon(() => {
      const joiners: Joiner[] = [];
      const answer = (g: Group, jobId: string, n: number) => {
        // The requests with cbArgs get the numbers up to n, in order (the first one of a new
        // pair gets 1: its cbArgs are in the row).
        let num = n - g.withArgs;
        for (const req of g.reqs) {
          if (req.args !== null) num++;
          for (const i of req.idx) out[i] = { first: req.jobId === jobId, jobId };
          // The pair's first request (just inserted, or added before and sent again) is in the row.
          if (req.jobId !== jobId && req.args !== null) joiners.push({ g, req, num });
        }
      };
      if (this.allNew(params, pairs.length)) {
        for (const g of pairs) answer(g, g.reqs[0]!.jobId, newN(g));
      } else {
        // Some pairs were pending already: one upsert per pair tells which, and their numbers.
        const got = this.h.many(HEAD, TUPLE, UPSERT, params, 6).rows as { ns: string; id: string; job_id: string; n: number }[];
        for (const r of got) answer(groups.get(pairKey(r.ns, r.id))!, r.job_id, r.n);
      }
      if (joiners.length) this.join(joiners);
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

  /** Add the joiners' cbArgs; a request already added (a resend) keeps its row. */
  private join(joiners: Joiner[]) {
    const rows: unknown[] = [];
    for (const { g, req, num } of joiners) rows.push(this.prefix, g.ns, g.id, req.jobId, num, req.args);
    this.h.many('INSERT INTO pending_args (prefix, ns, id, req, n, cb_args)', '(?, ?, ?, ?, ?, ?)', 'ON CONFLICT DO NOTHING', rows, 6);
  }

  async takeAll(key: Key) {
    return this.h.writeSoon(() => this.take(key));
  }

  /** Take every cbArgs of a pair, in arrival order; runs inside the caller's write transaction. */
  take(key: Key): unknown[] {
    const p = [this.prefix, key.ns, key.id];
    const first = this.h.pluck('DELETE FROM pending WHERE prefix = ? AND ns = ? AND id = ? RETURNING cb_args').get(...p) as string | null | undefined;
    const rest = this.h.stmt('DELETE FROM pending_args WHERE prefix = ? AND ns = ? AND id = ? RETURNING n, cb_args').all(...p) as { n: number; cb_args: string }[];
    if (first === undefined) return [];
    const out: unknown[] = first === null ? [] : [JSON.parse(first)];
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

  /** Also drops the delivery records (pending cbArgs moved out by the worker's steps). */
  async clear() {
    await this.clearPrefix('pending_args', 'pending', 'deliveries', 'runs');
  }
}

/** Group a batch by pair, in order of first appearance; a request id seen before for the pair answers as it did. */
function groupByPair(items: PendingAdd[]): Map<string, Group> {
  const groups = new Map<string, Group>();
  items.forEach(({ key, jobId, cbArgs, silent }, i) => {
    const k = pairKey(key.ns, key.id);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { ns: key.ns, id: key.id, reqs: [], withArgs: 0 }));
    else if (!g.byId) g.byId = new Map(g.reqs.map((r) => [r.jobId, r]));
    const seen = g.byId?.get(jobId);
    if (seen) return void seen.idx.push(i);
    const req: Req = { jobId, args: silent ? null : (JSON.stringify(cbArgs) ?? 'null'), idx: [i] };
    g.reqs.push(req);
    g.byId?.set(jobId, req);
    if (req.args !== null) g.withArgs++;
  });
  return groups;
}
