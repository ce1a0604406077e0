import { isFresh, isServable } from '../../entry.js';
import { newId } from '../../hash.js';
import type { BeginResult, Delivery, Key, QuarantineItem, StoredEntry, WorkerSteps } from '../../ports.js';
import { toEntry, type SqliteCacheStore } from './cache.js';
import type { SqliteHandle } from './db.js';
import type { SqliteLocker } from './locker.js';
import type { SqlitePendingSet } from './pending.js';

interface RecordRow {
  delivery_id: string;
  kind: Delivery['kind'];
  cb_args: string;
  item: string | null;
}

/**
 * The worker's steps on SQLite (ports.ts WorkerSteps), each one write transaction shared
 * with every other write of the same event-loop turn (`writeSoon`): one group commit per
 * step, and what a step reads (record, entry, lock) cannot change before it writes.
 * Delivery records are rows of `deliveries`, keyed by the job id within the operation.
 */
export class SqliteWorkerSteps implements WorkerSteps {
  constructor(
    private readonly h: SqliteHandle,
    private readonly prefix: string,
    private readonly cache: SqliteCacheStore,
    private readonly locker: SqliteLocker,
    private readonly pending: SqlitePendingSet,
  ) {}

  begin(key: Key, jobId: string, runId: string, lockMs: number, force: boolean): Promise<BeginResult> {
    const token = newId();
    return this.h.writeSoon((): BeginResult => {
      const delivery = this.record(key, jobId);
      const row = delivery || !force ? this.cache.row(key) : undefined;
      const e = row && toEntry(row);
      const now = Date.now();
      let got: { delivery: Delivery; entry?: StoredEntry } | { entry: StoredEntry } | { token: string };
      if (delivery) got = isServable(e, now) ? { delivery, entry: e } : { delivery };
      else if (e && !force && isFresh(e, now)) got = { entry: e };
      else if (this.locker.take(key, token, lockMs)) got = { token };
      else return { busy: true };
      return { ...got, runs: this.openRun(key, jobId, runId) };
    });
  }

  /** Add a run to the job's open runs (once), inside the caller's transaction; returns how many are open. */
  private openRun(key: Key, jobId: string, runId: string): number {
    const p = this.prefix;
    this.h.stmt('INSERT INTO runs (prefix, ns, job_id, run_id, started_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING').run(p, key.ns, jobId, runId, Date.now());
    return this.h.pluck('SELECT count(*) FROM runs WHERE prefix = ? AND ns = ? AND job_id = ?').get(p, key.ns, jobId) as number;
  }

  async end(key: Key, jobId: string, runId: string) {
    await this.h.writeSoon(() => this.h.stmt('DELETE FROM runs WHERE prefix = ? AND ns = ? AND job_id = ? AND run_id = ?').run(this.prefix, key.ns, jobId, runId));
  }

  finish(key: Key, jobId: string, items: { key: Key; entry: StoredEntry }[], token: string | null): Promise<Delivery> {
    const deliveryId = newId();
    return this.h.writeSoon(() => {
      this.cache.write(items);
      let d = this.record(key, jobId);
      if (!d) this.put(key, jobId, (d = { deliveryId, kind: 'result', cbArgs: this.pending.take(key) }));
      if (token) this.locker.drop(key, token);
      return d;
    });
  }

  quarantine(key: Key, jobId: string, item: QuarantineItem, token: string | null): Promise<Delivery> {
    const deliveryId = newId();
    return this.h.writeSoon(() => {
      let d = this.record(key, jobId);
      if (d?.kind !== 'quarantine') {
        // A result record keeps its id and cbArgs: the same requests, now quarantined.
        const cbArgs = d ? d.cbArgs : this.pending.take(key);
        this.put(key, jobId, (d = { deliveryId: d?.deliveryId ?? deliveryId, kind: 'quarantine', cbArgs, item: { ...item, cbArgs } }));
      }
      if (token) this.locker.drop(key, token);
      return d;
    });
  }

  async settle(key: Key, jobId: string) {
    await this.h.writeSoon(() => {
      this.h.stmt('DELETE FROM deliveries WHERE prefix = ? AND ns = ? AND job_id = ?').run(this.prefix, key.ns, jobId);
      this.h.stmt('DELETE FROM runs WHERE prefix = ? AND ns = ? AND job_id = ?').run(this.prefix, key.ns, jobId);
    });
  }

  async records(ns: string) {
    return this.h.pluck('SELECT count(*) FROM deliveries WHERE prefix = ? AND ns = ?').get(this.prefix, ns) as number;
  }

  private record(key: Key, jobId: string): Delivery | undefined {
    const r = this.h.stmt('SELECT delivery_id, kind, cb_args, item FROM deliveries WHERE prefix = ? AND ns = ? AND job_id = ?').get(this.prefix, key.ns, jobId) as
      | RecordRow
      | undefined;
    if (!r) return undefined;
    const cbArgs = JSON.parse(r.cb_args) as unknown[];
    const d: Delivery = { deliveryId: r.delivery_id, kind: r.kind, cbArgs };
    if (r.item !== null) d.item = { ...(JSON.parse(r.item) as QuarantineItem), cbArgs };
    return d;
  }

  /** Insert or replace the job's record; a quarantine item is stored without its cbArgs (they are the record's). */
  private put(key: Key, jobId: string, d: Delivery) {
    const item = d.item ? JSON.stringify({ ...d.item, cbArgs: undefined }) : null;
    this.h
      .stmt(
        `INSERT INTO deliveries (prefix, ns, job_id, delivery_id, kind, cb_args, item, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (prefix, ns, job_id) DO UPDATE SET delivery_id = excluded.delivery_id, kind = excluded.kind,
           cb_args = excluded.cb_args, item = excluded.item`,
      )
      .run(this.prefix, key.ns, jobId, d.deliveryId, d.kind, JSON.stringify(d.cbArgs), item, Date.now());
  }
}
