import type { QuarantineItem, QuarantineQuery, QuarantineStore } from '../../ports.js';
import { prefixEnd, SqliteStore } from './db.js';

/** Cursor = `${lastFailedAt}:${id}` of the last item returned (as the memory store). */
const parseCursor = (cursor: string) => {
  const i = cursor.indexOf(':');
  return { at: Number(cursor.slice(0, i)), id: cursor.slice(i + 1) };
};

export class SqliteQuarantineStore extends SqliteStore implements QuarantineStore {
  async put(item: QuarantineItem) {
    const put = this.h.stmt(
      `INSERT INTO quarantine (prefix, id, op, uri, last_failed_at, item) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (prefix, id) DO UPDATE SET op = excluded.op, uri = excluded.uri,
         last_failed_at = excluded.last_failed_at, item = excluded.item`,
    );
    const json = JSON.stringify(item);
    await this.h.writeSoon(() => put.run(this.prefix, item.id, item.op, item.uri, item.lastFailedAt, json));
  }

  async get(id: string) {
    const s = this.h.pluck('SELECT item FROM quarantine WHERE prefix = ? AND id = ?').get(this.prefix, id) as string | undefined;
    return s === undefined ? undefined : (JSON.parse(s) as QuarantineItem);
  }

  /** Newest first (lastFailedAt, then id, both descending), filters in SQL, keyset paging. */
  async list(q: QuarantineQuery) {
    const limit = Math.max(1, q.limit ?? 100);
    const where = ['prefix = @p'];
    const params: Record<string, unknown> = { p: this.prefix, limit: limit + 1 };
    if (q.op) {
      where.push('op = @op');
      params.op = q.op;
    }
    if (q.uriPrefix) {
      where.push('uri >= @lo');
      params.lo = q.uriPrefix;
      const end = prefixEnd(q.uriPrefix);
      if (end !== null) {
        where.push('uri < @hi');
        params.hi = end;
      }
    }
    if (q.since !== undefined) {
      where.push('last_failed_at >= @since');
      params.since = q.since;
    }
    if (q.cursor) {
      const c = parseCursor(q.cursor);
      where.push('(last_failed_at < @cat OR (last_failed_at = @cat AND id < @cid))');
      params.cat = c.at;
      params.cid = c.id;
    }
    const sql = `SELECT item FROM quarantine WHERE ${where.join(' AND ')} ORDER BY last_failed_at DESC, id DESC LIMIT @limit`;
    const rows = this.h.pluck(sql).all(params) as string[];
    const items = rows.slice(0, limit).map((s) => JSON.parse(s) as QuarantineItem);
    const last = items[items.length - 1];
    return { items, cursor: rows.length > limit && last ? `${last.lastFailedAt}:${last.id}` : undefined };
  }

  async deleteMany(ids: string[], unchanged?: number[]) {
    if (unchanged) {
      const del = this.h.stmt('DELETE FROM quarantine WHERE prefix = ? AND id = ? AND last_failed_at = ?');
      return this.h.writeSoon(() => ids.reduce((n, id, i) => n + del.run(this.prefix, id, unchanged[i]).changes, 0));
    }
    const del = this.h.stmt('DELETE FROM quarantine WHERE prefix = ? AND id = ?');
    return this.h.writeSoon(() => ids.reduce((n, id) => n + del.run(this.prefix, id).changes, 0));
  }

  async countByOp() {
    const rows = this.h.stmt('SELECT op, count(*) AS n FROM quarantine WHERE prefix = ? GROUP BY op').all(this.prefix) as { op: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.op, r.n]));
  }

  async clear() {
    await this.h.writeSoon(() => this.h.stmt('DELETE FROM quarantine WHERE prefix = ?').run(this.prefix));
  }
}
