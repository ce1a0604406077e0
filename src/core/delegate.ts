/**
 * The client side of a request: look the batch up in the cache, return hits at once,
 * add misses to the pending set (coalescing), and enqueue one job per pair that had
 * nothing pending. One round trip per backend per batch.
 */
import { isFresh, isServable } from './entry.js';
import { hashId, newId } from './hash.js';
import type { Backend, Key, NewJob, PendingAdd, StoredEntry } from './ports.js';
import type { CounterBuffer } from './counters.js';
import { checkWellFormed } from './errors.js';

export interface Request {
  op: string;
  uri: string;
  cbArgs?: unknown;
  kwargs?: Record<string, unknown>;
  priority?: number;
}

export interface Hit {
  op: string;
  uri: string;
  cbArgs: unknown;
  value: unknown;
  stale: boolean;
}

export interface Delegated {
  op: string;
  uri: string;
  jobId: string;
  /** True when the request joined a job already pending for the pair. */
  coalesced: boolean;
}

export interface RequestError {
  op: string;
  uri: string;
  error: string;
}

export interface BulkResult {
  hits: Hit[];
  delegated: Delegated[];
  errors: RequestError[];
}

/** A refresh job's id is derived from the stale entry it replaces: many stale hits, one job. */
export const refreshJobId = (op: string, uri: string, e: StoredEntry) => `refresh.${op}.${hashId(uri)}.${e.createdAt}.${e.expiresAt}`;

/** The operations requests may name: a Map of definitions, or a Set of names (autodiscovery). */
export type KnownOps = ReadonlyMap<string, unknown> | ReadonlySet<string>;

/** A batch read of the cache; `fromL1[i]` when entry i came from this process's L1 tier. */
export type CacheLookup = (keys: Key[]) => Promise<{ entries: (StoredEntry | undefined)[]; fromL1?: boolean[] }>;

export interface DelegateDeps {
  backend: Backend;
  /** How the batch is read (the app's L1 tier, when on); default: `backend.cache`. */
  lookup?: CacheLookup;
  /** Operations a request may name: this app's own and those live workers serve. */
  ops: KnownOps;
  counters: CounterBuffer;
}

export function validateRequest(ops: KnownOps, r: Request): string | undefined {
  if (!r || typeof r !== 'object') return 'a request must be an object {op, uri}';
  if (typeof r.uri !== 'string' || r.uri.length === 0) return 'uri must be a non-empty string';
  const bad = checkWellFormed(r.uri);
  if (bad) return bad;
  if (typeof r.op !== 'string' || !ops.has(r.op)) return `unknown operation "${r.op}"; known operations: ${[...ops.keys()].join(', ') || '(none)'}`;
  if (r.kwargs !== undefined && (typeof r.kwargs !== 'object' || r.kwargs === null || Array.isArray(r.kwargs))) return 'kwargs must be a JSON object';
  return undefined;
}

export interface DelegateMode {
  /** `warm`: requests without callbacks (they join or create a pending job, adding no cbArgs). */
  silent?: boolean;
  /** `warm --force`: skip the cache, recompute even a fresh entry. */
  force?: boolean;
  /**
   * Inline: do not enqueue the jobs this batch is first for; the caller computes them.
   * Returned in `firsts`, with the request that created each.
   */
  inline?: boolean;
}

export interface DelegateOutcome extends BulkResult {
  /** With `inline`: the jobs this batch must run itself (nothing was enqueued for them). */
  firsts: { id: string; request: Request }[];
  /** The request of each `delegated` entry, in the same order. */
  delegatedRequests: Request[];
}

type TallyName = 'hits' | 'l1Hits' | 'misses' | 'stale' | 'coalesced';
const TALLY_NAMES: TallyName[] = ['hits', 'l1Hits', 'misses', 'stale', 'coalesced'];

/**
 * A batch's counts per operation, added to the CounterBuffer once per operation and name
 * rather than once per request: a hit then costs an increment of a field of fixed shape.
 */
class Tally {
  private byOp = new Map<string, Record<TallyName, number>>();
  private lastOp: string | undefined;
  private last: Record<TallyName, number> | undefined;

  /** The counts of `op` (requests of a batch mostly name one operation: that one is kept at hand). */
  of(op: string): Record<TallyName, number> {
    if (op === this.lastOp && this.last !== undefined) return this.last;
    let c = this.byOp.get(op);
    if (c === undefined) this.byOp.set(op, (c = { hits: 0, l1Hits: 0, misses: 0, stale: 0, coalesced: 0 }));
    this.lastOp = op;
    this.last = c;
    return c;
  }

  /** Add the counts to `counters` and zero them. */
  flushTo(counters: CounterBuffer) {
    this.byOp.forEach((c, op) => {
      for (let i = 0; i < TALLY_NAMES.length; i++) {
        const name = TALLY_NAMES[i]!;
        if (c[name] !== 0) {
          counters.add(op, name, c[name]);
          c[name] = 0;
        }
      }
    });
  }
}

export async function delegateBatch(deps: DelegateDeps, requests: Request[], mode: DelegateMode = {}): Promise<DelegateOutcome> {
  const { backend } = deps;
  const out: DelegateOutcome = { hits: [], delegated: [], errors: [], firsts: [], delegatedRequests: [] };
  const valid: Request[] = [];
  for (const r of requests) {
    const err = validateRequest(deps.ops, r);
    if (err) out.errors.push({ op: String(r?.op), uri: String(r?.uri), error: err });
    else valid.push(r);
  }
  if (valid.length === 0) return out;

  const keys: Key[] = valid.map((r) => ({ ns: r.op, id: r.uri }));
  const got = mode.force ? undefined : deps.lookup ? await deps.lookup(keys) : { entries: await backend.cache.getMany(keys) };
  const entries = got?.entries ?? [];
  const fromL1 = got?.fromL1;
  const now = Date.now();
  const misses: { r: Request; key: Key }[] = [];
  const refresh = new Map<string, NewJob>();
  // Warm is not a read: it counts nothing (hit ratios are the clients').
  const tally = new Tally();
  const nobody = { hits: 0, l1Hits: 0, misses: 0, stale: 0, coalesced: 0 };
  const counts = (op: string) => (mode.silent ? nobody : tally.of(op));
  for (let i = 0; i < valid.length; i++) {
    const r = valid[i]!;
    const e = entries[i];
    const c = counts(r.op);
    if (isServable(e, now)) {
      const stale = !isFresh(e, now);
      out.hits.push({ op: r.op, uri: r.uri, cbArgs: r.cbArgs, value: e.value, stale });
      c.hits++;
      // Of the hits, those this process's L1 tier served (`hits` stays the total).
      if (fromL1?.[i]) c.l1Hits++;
      if (stale) {
        c.stale++;
        const id = refreshJobId(r.op, r.uri, e);
        refresh.set(id, { id, data: { op: r.op, uri: r.uri, kwargs: r.kwargs ?? {} }, priority: r.priority });
      }
    } else {
      misses.push({ r, key: keys[i]! });
      c.misses++;
    }
  }
  tally.flushTo(deps.counters);

  const jobs: NewJob[] = [...refresh.values()];
  if (misses.length) {
    const adds: PendingAdd[] = misses.map(({ r, key }) => ({ key, cbArgs: r.cbArgs ?? null, jobId: newId(), silent: mode.silent }));
    const res = await backend.pending.addMany(adds);
    const queued = new Set<string>();
    for (let i = 0; i < misses.length; i++) {
      const { r } = misses[i]!;
      const { first, jobId } = res[i]!;
      out.delegated.push({ op: r.op, uri: r.uri, jobId, coalesced: !first });
      out.delegatedRequests.push(r);
      if (!first) counts(r.op).coalesced++;
      // Coalesced requests add their pair's job too: adding an id that exists is a no-op,
      // and it heals a pair whose first client died (or lost its reply to a broker restart)
      // between the pending set and the queue, which would otherwise wait forever.
      if (!queued.has(jobId)) {
        queued.add(jobId);
        const data = { op: r.op, uri: r.uri, kwargs: r.kwargs ?? {}, ...(mode.force ? { refresh: true } : {}) };
        if (first && mode.inline) out.firsts.push({ id: jobId, request: r });
        else jobs.push({ id: jobId, data, priority: r.priority });
      }
    }
  }
  tally.flushTo(deps.counters);
  // Refresh ids are deterministic, so concurrent stale hits add the same job once.
  if (jobs.length) await backend.queue.addMany(jobs);
  return out;
}
