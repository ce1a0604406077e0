import { newId } from '../../hash.js';
import { jsonText } from '../../entry.js';
import type { Key, RegionSteps, StoredEntry } from '../../ports.js';
import { decodeEntry, encodeEntry } from './cache.js';
import type { RedisClient } from './connection.js';
import { idHash, type RedisKeys } from './keys.js';
import { runScript } from './scripts.js';
import { TickBatcher } from './tick-batcher.js';

const ttl = (ms: number) => String(Math.max(1, Math.ceil(ms)));
/** A namespace is added to the set of cache namespaces again at most this often (after a cleanup). */
const LISTED_MS = 10_000;

interface Locate {
  tag: string;
  hash: string;
  key: Key;
}

/**
 * A region's get-or-create steps on Redis: one script each, on the pair's tag (lock, entry
 * and index share it). The calls of one tick under one tag go in one script call (a
 * TickBatcher), so concurrent misses cost a fraction of a round trip and of a script each.
 */
export class RedisRegionSteps implements RegionSteps {
  /** When this process last listed each namespace it stored under. */
  private listed = new Map<string, number>();
  private readonly locks: TickBatcher<Locate & { token: string; ttlMs: number; after: number }, { token: string | null; entry: StoredEntry | undefined }>;
  private readonly stores: TickBatcher<Locate & { token: string; entry: StoredEntry | undefined }, boolean>;

  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
  ) {
    this.locks = new TickBatcher(async (tag, reqs) => {
      const now = Date.now();
      const ks: string[] = [];
      const args: (string | number)[] = [now];
      for (const r of reqs) {
        ks.push(this.keys.lock(tag, r.hash), this.keys.entry(tag, r.hash));
        args.push(r.token, ttl(r.ttlMs), Number.isFinite(r.after) ? r.after : '');
      }
      const out = await runScript<(number | string | null)[]>(this.client, 'region-lock-or-read-n', ks, args);
      return reqs.map((r, i) => ({ token: out[2 * i] === 1 ? r.token : null, entry: decodeEntry(out[2 * i + 1] as string | null, r.key.id, now) }));
    });
    this.stores = new TickBatcher(async (tag, reqs) => {
      const ks = [this.keys.cacheIndex(tag)];
      const args: (string | number)[] = [Date.now(), this.keys.changes(), reqs[0]!.key.ns];
      for (const r of reqs) {
        let encoded = '';
        let pxat = '';
        if (r.entry) {
          const json = jsonText(r.entry.value);
          if (json === undefined) throw new TypeError(`cache value for ${r.key.ns} is not JSON-serialisable`);
          encoded = encodeEntry(r.entry, r.key.id, json);
          if (r.entry.staleUntil !== null) pxat = String(Math.ceil(r.entry.staleUntil));
        }
        ks.push(this.keys.lock(tag, r.hash), this.keys.entry(tag, r.hash));
        args.push(r.token, r.key.id, encoded, pxat);
      }
      const sent: Promise<unknown>[] = [runScript<number[]>(this.client, 'region-store-release-n', ks, args)];
      const ns = reqs[0]!.key.ns;
      const now = Date.now();
      // Sent with the script, not after it: one round trip (the set lists namespaces for stats).
      if (reqs.some((r) => r.entry) && !((this.listed.get(ns) ?? -Infinity) > now - LISTED_MS)) {
        this.listed.set(ns, now);
        sent.push(this.client.sadd(this.keys.namespaces('cache'), ns));
      }
      const [ours] = (await Promise.all(sent)) as [number[]];
      return ours.map((o) => o === 1);
    });
  }

  private locate(key: Key): Locate {
    const hash = idHash(key.id);
    return { tag: this.keys.placeOf(key, hash), hash, key };
  }

  lockOrRead(key: Key, ttlMs: number, after: number) {
    return this.locks.call({ ...this.locate(key), token: newId(), ttlMs, after });
  }

  storeAndRelease(key: Key, token: string, entry: StoredEntry | undefined) {
    return this.stores.call({ ...this.locate(key), token, entry });
  }
}
