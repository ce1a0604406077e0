import { newId } from '../../hash.js';
import type { Key, Locker } from '../../ports.js';
import { SqliteStore } from './db.js';

/** Delete locks that expired without being released every this many acquisitions. */
const SWEEP_EVERY = 1000;

/**
 * Locks are rows with a token and an expiry. Acquiring inserts the row, or takes over an
 * expired one, in one IMMEDIATE transaction, so two processes never both win.
 */
export class SqliteLocker extends SqliteStore implements Locker {
  private acquired = 0;

  async acquire(key: Key, ttlMs: number) {
    const token = newId();
    return (await this.h.writeSoon(() => this.take(key, token, ttlMs))) ? token : null;
  }

  /** Try the lock once; runs inside the caller's write transaction (acquire, SqliteWorkerSteps). */
  take(key: Key, token: string, ttlMs: number): boolean {
    const now = Date.now();
    if (++this.acquired % SWEEP_EVERY === 0) this.h.stmt('DELETE FROM locks WHERE prefix = ? AND until <= ?').run(this.prefix, now);
    return (
      this.h
        .stmt(
          `INSERT INTO locks (prefix, ns, id, token, until) VALUES (@p, @ns, @id, @token, @until)
           ON CONFLICT (prefix, ns, id) DO UPDATE SET token = excluded.token, until = excluded.until WHERE locks.until <= @now`,
        )
        .run({ p: this.prefix, ns: key.ns, id: key.id, token, until: now + ttlMs, now }).changes === 1
    );
  }

  async extend(key: Key, token: string, ttlMs: number) {
    const ext = this.h.stmt('UPDATE locks SET until = @until WHERE prefix = @p AND ns = @ns AND id = @id AND token = @token AND until > @now');
    return this.h.writeSoon(() => {
      const now = Date.now();
      return ext.run({ p: this.prefix, ns: key.ns, id: key.id, token, until: now + ttlMs, now }).changes === 1;
    });
  }

  async release(key: Key, token: string) {
    return this.h.writeSoon(() => this.drop(key, token));
  }

  /** Release if still ours; runs inside the caller's write transaction (release, SqliteWorkerSteps). */
  drop(key: Key, token: string): boolean {
    return this.h.stmt('DELETE FROM locks WHERE prefix = ? AND ns = ? AND id = ? AND token = ? AND until > ?').run(this.prefix, key.ns, key.id, token, Date.now()).changes === 1;
  }

  async isLocked(key: Key) {
    return this.h.stmt('SELECT 1 FROM locks WHERE prefix = ? AND ns = ? AND id = ? AND until > ?').get(this.prefix, key.ns, key.id, Date.now()) !== undefined;
  }
}
