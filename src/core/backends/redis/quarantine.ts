import type { RedisClient } from './connection.js';
import { hashId } from '../../hash.js';
import type { QuarantineItem, QuarantineQuery, QuarantineStore } from '../../ports.js';
import type { RedisKeys } from './keys.js';
import { results, runScript } from './scripts.js';

/**
 * Quarantine under `{P:}:q:` (one slot for the deployment, so put and delete are single
 * scripts): items in a HASH, a time index and a per-operation index as lexicographic ZSETs
 * (members `<lastFailedAt padded>|<id>` and `<op hash>|<lastFailedAt padded>|<id>`), and
 * a count per operation. Pages are ZREVRANGEBYLEX from the cursor: newest first, by
 * lastFailedAt then id, each item visited once.
 */
const pad = (at: number) => String(Math.max(0, Math.floor(at))).padStart(15, '0');
const timeMember = (at: number, id: string) => `${pad(at)}|${id}`;
const opTag = (op: string) => `${hashId(op)}|`;

/** Cursor = `${lastFailedAt}:${id}` of the last item returned (as the memory backend). */
const parseCursor = (cursor: string) => {
  const i = cursor.indexOf(':');
  return { at: Number(cursor.slice(0, i)), id: cursor.slice(i + 1) };
};
const cursorOf = (it: QuarantineItem) => `${it.lastFailedAt}:${it.id}`;

export class RedisQuarantineStore implements QuarantineStore {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  private k() {
    const q = this.keys.quarantine();
    return [q.items, q.time, q.byOp, q.meta, q.count];
  }

  async put(item: QuarantineItem) {
    await runScript(this.client, 'quarantine-put-5', this.k(), [
      item.id,
      JSON.stringify(item),
      timeMember(item.lastFailedAt, item.id),
      opTag(item.op) + timeMember(item.lastFailedAt, item.id),
      item.op,
    ]);
  }

  async get(id: string) {
    const s = await this.client.hget(this.keys.quarantine().items, id);
    return s === null ? undefined : (JSON.parse(s) as QuarantineItem);
  }

  async list(q: QuarantineQuery) {
    const limit = Math.max(1, q.limit ?? 100);
    const { items: itemsKey, time, byOp } = this.keys.quarantine();
    const tag = q.op === undefined ? '' : opTag(q.op);
    const index = q.op === undefined ? time : byOp;
    // Upper bound: just below the cursor, or the top of this op's range ('}' sorts after '|').
    let max = q.cursor ? `(${tag}${timeMember(parseCursor(q.cursor).at, parseCursor(q.cursor).id)}` : q.op === undefined ? '+' : `(${tag.slice(0, -1)}}`;
    const min = q.since !== undefined ? `[${tag}${pad(q.since)}` : q.op === undefined ? '-' : `[${tag}`;
    const out: QuarantineItem[] = [];
    const batch = Math.min(1000, Math.max(limit + 1, 50));
    // Filters the index cannot apply (uriPrefix; sub-millisecond `since`) are applied while paging.
    while (out.length <= limit) {
      const members = await this.client.zrevrangebylex(index, max, min, 'LIMIT', 0, batch);
      if (members.length === 0) break;
      const ids = members.map((m) => m.slice(tag.length + 16));
      const raw = await this.client.hmget(itemsKey, ...ids);
      for (const s of raw) {
        if (s === null) continue;
        const it = JSON.parse(s) as QuarantineItem;
        if (q.uriPrefix && !it.uri.startsWith(q.uriPrefix)) continue;
        if (q.since !== undefined && it.lastFailedAt < q.since) continue;
        out.push(it);
        if (out.length > limit) break;
      }
      if (members.length < batch) break;
      max = `(${members[members.length - 1]}`;
    }
    const items = out.slice(0, limit);
    return { items, cursor: out.length > limit ? cursorOf(items[items.length - 1]!) : undefined };
  }

  async deleteMany(ids: string[], unchanged?: number[]) {
    if (ids.length === 0) return 0;
    const args = ids.flatMap((id, i) => [id, unchanged ? timeMember(unchanged[i]!, id) : '']);
    return Number(await runScript(this.client, 'quarantine-delete-5', this.k(), args));
  }

  async countByOp() {
    const all = await this.client.hgetall(this.keys.quarantine().count);
    const out: Record<string, number> = {};
    for (const [op, n] of Object.entries(all)) if (Number(n) > 0) out[op] = Number(n);
    return out;
  }

  async clear() {
    const p = this.client.pipeline();
    p.del(...this.k());
    results(await p.exec());
  }

  async close() {}
}
