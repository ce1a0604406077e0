import { toMs, type Duration } from './duration.js';
import { ConfigError } from './errors.js';
import { newId } from './hash.js';
import type { Backend, NewJob, QuarantineItem } from './ports.js';
import { checkSelection } from './select.js';
import { globMatcher } from './template.js';

export interface QuarantineSelector {
  ids?: string[];
  op?: string;
  /** URI glob. */
  match?: string;
  /** Epoch ms, a Date, or a duration ago ('1h'). */
  since?: number | Date | string;
  all?: boolean;
}

export interface ListOptions {
  op?: string;
  match?: string;
  since?: number | Date | string;
  limit?: number;
  cursor?: string;
}

/** `since` as epoch ms: a number or Date is absolute, a duration string is that long ago. */
export function sinceMs(since: number | Date | string | undefined): number | undefined {
  if (since === undefined) return undefined;
  if (since instanceof Date) return since.getTime();
  if (typeof since === 'number') return since;
  const asDate = Date.parse(since);
  if (/^\d{4}-\d\d-\d\d/.test(since) && !Number.isNaN(asDate)) return asDate;
  return Date.now() - toMs(since as Duration, 'since');
}

/** The quarantine API of DESIGN.md §3: list, get, replay, purge. */
export class QuarantineApi {
  constructor(
    private backend: Backend,
    private knownOps: () => string[],
  ) {}

  /** A page of items, newest first; a glob `match` is filtered after the indexed prefix. */
  async list(o: ListOptions = {}): Promise<{ items: QuarantineItem[]; cursor?: string }> {
    const limit = o.limit ?? 100;
    if (o.match !== undefined) checkSelection({ match: o.match });
    const m = o.match ? globMatcher(o.match) : undefined;
    const since = sinceMs(o.since);
    const items: QuarantineItem[] = [];
    let cursor = o.cursor;
    // Keep paging the store until `limit` matching items are found or it runs out.
    do {
      const page = await this.backend.quarantine.list({ op: o.op, uriPrefix: m?.prefix || undefined, since, limit: Math.max(limit, 100), cursor });
      for (const it of page.items) {
        if (m && !m.test(it.uri)) continue;
        items.push(it);
        if (items.length === limit) {
          return { items, cursor: page.cursor || it !== page.items.at(-1) ? `${it.lastFailedAt}:${it.id}` : undefined };
        }
      }
      cursor = page.cursor;
    } while (cursor);
    return { items };
  }

  get(id: string) {
    return this.backend.quarantine.get(id);
  }

  /** Every item a selector names (ids, or filters; `all` for everything). */
  async *select(sel: QuarantineSelector): AsyncGenerator<QuarantineItem> {
    if (sel.ids?.length) {
      for (const id of sel.ids) {
        const it = await this.backend.quarantine.get(id);
        if (it) yield it;
      }
      return;
    }
    if (!sel.all && sel.op === undefined && sel.match === undefined && sel.since === undefined) {
      throw new ConfigError('say which quarantine items: ids, op, match, since, or all');
    }
    let cursor: string | undefined;
    do {
      const page = await this.list({ op: sel.op, match: sel.match, since: sel.since, limit: 500, cursor });
      yield* page.items;
      cursor = page.cursor;
    } while (cursor);
  }

  /**
   * Queue each item again (its cbArgs rejoin the pending set, so the callback still gets
   * them), then remove it: an item is removed only once its job is queued.
   */
  async replay(sel: QuarantineSelector, o: { kwargs?: Record<string, unknown>; dryRun?: boolean; onProgress?: (replayed: number) => void } = {}) {
    const items: QuarantineItem[] = [];
    for await (const it of this.select(sel)) items.push(it);
    if (o.dryRun) return { matched: items.length, replayed: 0, items, jobIds: [] as string[] };
    const jobIds: string[] = [];
    for (let i = 0; i < items.length; i += 500) {
      const batch = items.slice(i, i + 500);
      const jobs: NewJob[] = [];
      for (const it of batch) {
        const jobId = newId();
        const key = { ns: it.op, id: it.uri };
        // Every cbArgs is a request of its own (its own request id), so each is added once;
        // an item without cbArgs still makes (or joins) the pair's pending job, silently.
        const adds = it.cbArgs.length
          ? it.cbArgs.map((c, n) => ({ key, cbArgs: c, jobId: n === 0 ? jobId : `${jobId}.${n}` }))
          : [{ key, cbArgs: undefined, jobId, silent: true }];
        const [head] = await this.backend.pending.addMany(adds);
        jobIds.push(head!.jobId);
        // Also when it joined a job already pending: adding an id that exists is a no-op, and
        // it heals a pair whose job was lost (as the delegate path does).
        jobs.push({
          id: head!.jobId,
          data: { op: it.op, uri: it.uri, kwargs: o.kwargs ?? it.kwargs, replayOf: { id: it.id, attempts: it.attempts, firstFailedAt: it.firstFailedAt } },
        });
      }
      if (jobs.length) await this.backend.queue.addMany(jobs);
      // Only items unchanged since read: a replayed job may already have failed again and
      // written its item anew under the same id (replayOf), which must stay.
      await this.backend.quarantine.deleteMany(
        batch.map((b) => b.id),
        batch.map((b) => b.lastFailedAt),
      );
      o.onProgress?.(Math.min(items.length, i + batch.length));
    }
    return { matched: items.length, replayed: items.length, items, jobIds };
  }

  async purge(sel: QuarantineSelector & { dryRun?: boolean }) {
    const ids: string[] = [];
    for await (const it of this.select(sel)) ids.push(it.id);
    if (sel.dryRun) return { matched: ids.length, purged: 0, ids };
    let purged = 0;
    for (let i = 0; i < ids.length; i += 1000) purged += await this.backend.quarantine.deleteMany(ids.slice(i, i + 1000));
    return { matched: ids.length, purged, ids };
  }

  countByOp() {
    return this.backend.quarantine.countByOp();
  }
}
