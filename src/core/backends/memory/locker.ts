import { newId } from '../../hash.js';
import type { Key, Locker } from '../../ports.js';

const k = (key: Key) => `${key.ns}\u0000${key.id}`;

export class MemoryLocker implements Locker {
  private locks = new Map<string, { token: string; until: number }>();

  private held(key: Key) {
    const l = this.locks.get(k(key));
    return l && l.until > Date.now() ? l : undefined;
  }

  async acquire(key: Key, ttlMs: number) {
    const token = newId();
    return this.take(key, token, ttlMs) ? token : null;
  }

  /** Try the lock with a given token, synchronously (MemoryWorkerSteps). */
  take(key: Key, token: string, ttlMs: number) {
    if (this.held(key)) return false;
    this.locks.set(k(key), { token, until: Date.now() + ttlMs });
    return true;
  }

  /** Release if still ours, synchronously. */
  drop(key: Key, token: string) {
    const l = this.held(key);
    if (!l || l.token !== token) return false;
    this.locks.delete(k(key));
    return true;
  }

  async extend(key: Key, token: string, ttlMs: number) {
    const l = this.held(key);
    if (!l || l.token !== token) return false;
    l.until = Date.now() + ttlMs;
    return true;
  }

  async release(key: Key, token: string) {
    return this.drop(key, token);
  }

  async isLocked(key: Key) {
    return this.held(key) !== undefined;
  }

  async close() {}
}
