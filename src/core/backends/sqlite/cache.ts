import type { CacheStore, Key, StoredEntry } from '../../ports.js';
import { recordChanges, SqliteChangeFeed } from './changes.js';
import { fromJson, prefixEnd, SqliteStore, toJson } from './db.js';

export interface Row {
  value: string | null;
  created_at: number;
  expires_at: number | null;
  stale_until: number | null;
  uri: string | null;
}

export function toEntry(r: Row): StoredEntry {
  const e: StoredEntry = { value: fromJson(r.value), createdAt: r.created_at, expiresAt: r.expires_at, staleUntil: r.stale_until };
  if (r.uri !== null) e.uri = r.uri;
  return e;
}

/** Ids per lookup statement, largest first. */
const LOOKUP_SIZES = [128, 32, 8, 1];

const wellFormed = (s: string) => ((s as unknown as { isWellFormed(): boolean }).isWellFormed() ? s : (s as unknown as { toWellFormed(): string }).toWellFormed());

/** Sweep entries past their grace period every this many writes. */
const SWEEP_EVERY = 1000;
const SWEEP_BATCH = 1000;

/**
 * Every write of entries also logs the ids it changed (changes.ts), in its transaction. The
 * deletions of entries past their grace period (`forget`, the sweep in `write`) log nothing:
 * readers already take those entries for misses, so no reader sees a change.
 */
export class SqliteCacheStore extends SqliteStore implements CacheStore {
  readonly kind = 'sqlite';
  readonly changes = new SqliteChangeFeed(this.h, this.prefix);
  private writes = 0;

  async getMany(keys: Key[]) {
    const now = Date.now();
    const rows: (Row | undefined)[] = keys.length === 1 ? [this.row(keys[0]!)] : this.h.read(() => this.lookUp(keys)); // one snapshot for the batch
    return rows.map((r, i) => {
      if (!r) return undefined;
      if (r.stale_until !== null && r.stale_until <= now) {
        this.forget(keys[i]!);
        return undefined;
      }
      return toEntry(r);
    });
  }

  /** The row of one key (also inside the transaction of a worker step: SqliteWorkerSteps). */
  row(key: Key): Row | undefined {
    return this.h.stmt('SELECT value, created_at, expires_at, stale_until, uri FROM cache WHERE prefix = ? AND ns = ? AND id = ?').get(this.prefix, key.ns, key.id) as Row | undefined;
  }

  /**
   * The rows of many keys with a few `id IN (…)` statements per namespace (fixed sizes, so
   * few statements are prepared) instead of one call per key, which is most of the cost of
   * a point lookup.
   */
  private lookUp(keys: Key[]): (Row | undefined)[] {
    const out = new Array<Row | undefined>(keys.length);
    const byNs = new Map<string, number[]>();
    keys.forEach((k, i) => {
      const g = byNs.get(k.ns);
      if (g) g.push(i);
      else byNs.set(k.ns, [i]);
    });
    for (const [ns, idx] of byNs) {
      // SQLite hands ids back as UTF-8 (a lone surrogate becomes U+FFFD): match them that way.
      const pos = new Map<string, number[]>();
      for (const i of idx) {
        const id = wellFormed(keys[i]!.id);
        const p = pos.get(id);
        if (p) p.push(i);
        else pos.set(id, [i]);
      }
      const ids = [...pos.keys()];
      let at = 0;
      for (const size of LOOKUP_SIZES) {
        if (ids.length - at < size) continue;
        const stmt = this.h.stmt(`SELECT id, value, created_at, expires_at, stale_until, uri FROM cache WHERE prefix = ? AND ns = ? AND id IN (${Array(size).fill('?').join(', ')})`);
        for (; ids.length - at >= size; at += size) {
          for (const r of stmt.all(this.prefix, ns, ...ids.slice(at, at + size)) as (Row & { id: string })[]) {
            for (const i of pos.get(r.id) ?? []) out[i] = r;
          }
        }
      }
    }
    return out;
  }

  /** Delete an entry found past its grace period, soon (unless it was replaced meanwhile). */
  private forget(key: Key) {
    this.h
      .writeSoon(() => this.h.stmt('DELETE FROM cache WHERE prefix = ? AND ns = ? AND id = ? AND stale_until <= ?').run(this.prefix, key.ns, key.id, Date.now()))
      .catch(() => {
        /* closed or busy: the periodic sweep or a later read gets it */
      });
  }

  async setMany(items: { key: Key; entry: StoredEntry }[]) {
    if (items.length === 0) return;
    await this.h.writeSoon(() => this.write(items));
  }

  /** Store entries; runs inside the caller's write transaction (setMany, SqliteWorkerSteps). */
  write(items: { key: Key; entry: StoredEntry }[]) {
    if (items.length === 0) return;
    const params: unknown[] = [];
    for (const { key, entry: e } of items) params.push(this.prefix, key.ns, key.id, toJson(e.value), e.createdAt, e.expiresAt, e.staleUntil, e.uri ?? null);
    this.h.many(
      'INSERT INTO cache (prefix, ns, id, value, created_at, expires_at, stale_until, uri)',
      '(?, ?, ?, ?, ?, ?, ?, ?)',
      `ON CONFLICT (prefix, ns, id) DO UPDATE SET value = excluded.value, created_at = excluded.created_at,
         expires_at = excluded.expires_at, stale_until = excluded.stale_until, uri = excluded.uri`,
      params,
      8,
    );
    recordChanges(this.h, this.prefix, items.map((it) => it.key));
    if ((this.writes += items.length) >= SWEEP_EVERY) {
      this.writes = 0;
      this.h
        .stmt('DELETE FROM cache WHERE rowid IN (SELECT rowid FROM cache WHERE prefix = ? AND stale_until IS NOT NULL AND stale_until <= ? LIMIT ?)')
        .run(this.prefix, Date.now(), SWEEP_BATCH);
    }
  }

  async deleteMany(keys: Key[]) {
    const del = this.h.stmt('DELETE FROM cache WHERE prefix = ? AND ns = ? AND id = ?');
    return this.h.writeSoon(() => {
      const n = keys.reduce((n, k) => n + del.run(this.prefix, k.ns, k.id).changes, 0);
      recordChanges(this.h, this.prefix, keys); // every id asked for: a process may hold a copy of one gone here already
      return n;
    });
  }

  async markStale(keys: Key[], now: number) {
    const mark = this.h.stmt(
      `UPDATE cache SET expires_at = CASE WHEN expires_at IS NULL OR expires_at > @now THEN @now ELSE expires_at END
       WHERE prefix = @p AND ns = @ns AND id = @id AND (stale_until IS NULL OR stale_until > @now)`,
    );
    return this.h.writeSoon(() => {
      const n = keys.reduce((n, k) => n + mark.run({ p: this.prefix, ns: k.ns, id: k.id, now }).changes, 0);
      recordChanges(this.h, this.prefix, keys);
      return n;
    });
  }

  async *scan(ns: string, prefix: string, opts: { batchSize?: number } = {}) {
    const limit = Math.max(1, opts.batchSize ?? 500);
    const end = prefixEnd(prefix);
    const upper = end === null ? '' : 'AND id < @end';
    const first = this.h.stmt(`SELECT id, stale_until FROM cache WHERE prefix = @p AND ns = @ns AND id >= @from ${upper} ORDER BY id LIMIT @limit`);
    const next = this.h.stmt(`SELECT id, stale_until FROM cache WHERE prefix = @p AND ns = @ns AND id > @from ${upper} ORDER BY id LIMIT @limit`);
    let from = prefix;
    let stmt = first;
    for (;;) {
      const params: Record<string, unknown> = { p: this.prefix, ns, from, limit };
      if (end !== null) params.end = end;
      const rows = stmt.all(params) as { id: string; stale_until: number | null }[];
      const now = Date.now();
      for (const r of rows) if (r.stale_until === null || r.stale_until > now) yield r.id;
      if (rows.length < limit) return;
      from = rows[rows.length - 1]!.id;
      stmt = next;
    }
  }

  async namespaces() {
    // Skip from one namespace to the next through the index: O(namespaces), not O(entries).
    const rows = this.h
      .stmt(
        `WITH RECURSIVE n(ns) AS (
           SELECT (SELECT min(ns) FROM cache WHERE prefix = @p)
           UNION ALL
           SELECT (SELECT min(ns) FROM cache WHERE prefix = @p AND ns > n.ns) FROM n WHERE n.ns IS NOT NULL
         ) SELECT ns FROM n WHERE ns IS NOT NULL`,
      )
      .all({ p: this.prefix }) as { ns: string }[];
    return rows.map((r) => r.ns);
  }

  async count(ns: string) {
    return (this.h.stmt('SELECT count(*) AS n FROM cache WHERE prefix = ? AND ns = ?').get(this.prefix, ns) as { n: number }).n;
  }

  /**
   * Log that entries of `ns` changed, inside the caller's write transaction (a step of
   * another store over this file, e.g. a region's lock released without storing, so that
   * waiters in other processes wake).
   */
  recordChanges(ns: string, ids: string[]) {
    recordChanges(this.h, this.prefix, ids.map((id) => ({ ns, id })));
  }

  async clear() {
    await this.h.writeSoon(() => {
      this.h.stmt('DELETE FROM cache WHERE prefix = ?').run(this.prefix);
      recordChanges(this.h, this.prefix, null); // one row: "everything"
    });
    await this.h.compactSoon();
  }

  override async close() {
    this.changes.close();
    await super.close();
  }
}
