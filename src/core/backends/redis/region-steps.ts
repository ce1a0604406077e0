import { newId } from '../../hash.js';
import type { Key, RegionSteps, StoredEntry } from '../../ports.js';
import { decodeEntry, encodeEntry } from './cache.js';
import { closeRedis, regionConnection, type RedisClient } from './connection.js';
import { idHash, type RedisKeys } from './keys.js';
import { runScript } from './scripts.js';

const ttl = (ms: number) => String(Math.max(1, Math.ceil(ms)));
/** A namespace is added to the set of cache namespaces again at most this often (after a cleanup). */
const LISTED_MS = 10_000;

/**
 * A region's get-or-create steps on Redis: one script each, on the pair's tag (lock, entry
 * and index share it), so a miss costs a read, `lockOrRead`, and `storeAndRelease`.
 */
export class RedisRegionSteps implements RegionSteps {
  /** When this process last listed each namespace it stored under. */
  private listed = new Map<string, number>();

  /** Its own connection (connection.ts regionConnection), opened on first use. */
  private readonly client: RedisClient;

  constructor(
    main: RedisClient,
    private readonly keys: RedisKeys,
  ) {
    this.client = regionConnection(main);
  }

  close() {
    return closeRedis(this.client);
  }

  async lockOrRead(key: Key, ttlMs: number, after: number) {
    const hash = idHash(key.id);
    const tag = this.keys.placeOf(key, hash);
    const token = newId();
    const now = Date.now();
    const [got, raw] = await runScript<[number, string | null]>(
      this.client,
      'region-lock-or-read-2',
      [this.keys.lock(tag, hash), this.keys.entry(tag, hash)],
      [token, ttl(ttlMs), now, Number.isFinite(after) ? after : ''],
    );
    return { token: got === 1 ? token : null, entry: decodeEntry(raw, key.id, now) };
  }

  async storeAndRelease(key: Key, token: string, entry: StoredEntry | undefined) {
    const hash = idHash(key.id);
    const tag = this.keys.placeOf(key, hash);
    let encoded = '';
    let pxat = '';
    if (entry) {
      const json = JSON.stringify(entry.value);
      if (json === undefined) throw new TypeError(`cache value for ${key.ns} is not JSON-serialisable`);
      encoded = encodeEntry(entry, key.id, json);
      if (entry.staleUntil !== null) pxat = String(Math.ceil(entry.staleUntil));
    }
    const sent: Promise<unknown>[] = [
      runScript<number>(
        this.client,
        'region-store-release-3',
        [this.keys.lock(tag, hash), this.keys.cacheIndex(tag), this.keys.entry(tag, hash)],
        [token, Date.now(), this.keys.changes(), key.ns, key.id, encoded, pxat],
      ),
    ];
    // Sent with the script, not after it: one round trip (the set lists namespaces for stats).
    const now = Date.now();
    if (entry && !((this.listed.get(key.ns) ?? -Infinity) > now - LISTED_MS)) {
      this.listed.set(key.ns, now);
      sent.push(this.client.sadd(this.keys.namespaces('cache'), key.ns));
    }
    const [ours] = await Promise.all(sent);
    return ours === 1;
  }
}
