import type { QuarantineItem, QuarantineQuery, QuarantineStore } from '../../ports.js';

/** Newest first: lastFailedAt descending, then id descending. */
export const quarantineOrder = (a: QuarantineItem, b: QuarantineItem) =>
  b.lastFailedAt - a.lastFailedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/** Cursor = `${lastFailedAt}:${id}` of the last item returned. */
export const afterCursor = (cursor: string | undefined) => {
  if (!cursor) return () => true;
  const i = cursor.indexOf(':');
  const at = Number(cursor.slice(0, i));
  const id = cursor.slice(i + 1);
  return (it: QuarantineItem) => it.lastFailedAt < at || (it.lastFailedAt === at && it.id < id);
};

export const cursorOf = (it: QuarantineItem) => `${it.lastFailedAt}:${it.id}`;

export class MemoryQuarantineStore implements QuarantineStore {
  private items = new Map<string, QuarantineItem>();

  async put(item: QuarantineItem) {
    this.items.set(item.id, structuredClone(item));
  }

  async get(id: string) {
    const it = this.items.get(id);
    return it && structuredClone(it);
  }

  async list(q: QuarantineQuery) {
    const limit = q.limit ?? 100;
    const after = afterCursor(q.cursor);
    const all = [...this.items.values()]
      .filter((it) => (!q.op || it.op === q.op) && (!q.uriPrefix || it.uri.startsWith(q.uriPrefix)) && (q.since === undefined || it.lastFailedAt >= q.since) && after(it))
      .sort(quarantineOrder);
    const items = all.slice(0, limit).map((it) => structuredClone(it));
    return { items, cursor: all.length > limit ? cursorOf(items[items.length - 1]!) : undefined };
  }

  async deleteMany(ids: string[], unchanged?: number[]) {
    let n = 0;
    ids.forEach((id, i) => {
      const it = this.items.get(id);
      if (it && (unchanged === undefined || it.lastFailedAt === unchanged[i]) && this.items.delete(id)) n++;
    });
    return n;
  }

  async countByOp() {
    const out: Record<string, number> = {};
    for (const it of this.items.values()) out[it.op] = (out[it.op] ?? 0) + 1;
    return out;
  }

  async clear() {
    this.items.clear();
  }

  async close() {}
}
