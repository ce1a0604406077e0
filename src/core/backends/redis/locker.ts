import type { RedisClient } from './connection.js';
import { newId } from '../../hash.js';
import type { Key, Locker } from '../../ports.js';
import { idHash, type RedisKeys } from './keys.js';
import { runScript } from './scripts.js';

const ttl = (ms: number) => String(Math.max(1, Math.ceil(ms)));

/** Locks with a token (`{P:N}:l:<hash>`, PX ttl, under the pair's tag): acquire, extend and release are scripts. */
export class RedisLocker implements Locker {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  private lockKey(key: Key) {
    const hash = idHash(key.id);
    return this.keys.lock(this.keys.placeOf(key, hash), hash);
  }

  async acquire(key: Key, ttlMs: number) {
    const token = newId();
    const ok = await runScript<number>(this.client, 'lock-acquire-1', [this.lockKey(key)], [token, ttl(ttlMs)]);
    return ok === 1 ? token : null;
  }

  async extend(key: Key, token: string, ttlMs: number) {
    return (await runScript<number>(this.client, 'lock-extend-1', [this.lockKey(key)], [token, ttl(ttlMs)])) === 1;
  }

  async release(key: Key, token: string) {
    return (await runScript<number>(this.client, 'lock-release-1', [this.lockKey(key)], [token])) === 1;
  }

  async isLocked(key: Key) {
    return (await this.client.exists(this.lockKey(key))) === 1;
  }

  async close() {}
}
