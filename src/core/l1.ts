/**
 * The L1 tier (DESIGN.md §3 `l1`): an in-process LRU in front of a CacheStore, kept
 * coherent with every other process by the store's change feed.
 *
 * - Reads are served from the tier where it holds the key, absence included (a negative
 *   entry: a region reads its invalidation marker, which usually does not exist, on every
 *   get); the rest is one read of the store, and what comes back fills the tier.
 * - A change told by the feed drops its keys; `all` (a clear) empties the tier. This
 *   process's own writes drop their keys at once, without waiting for the feed.
 * - While the feed is down (and before it is first up) the tier is empty and bypassed:
 *   changes may be missed, so nothing is served from it or filled into it.
 * - A read that started before a change must not fill what it read (change-log.ts).
 *
 * Entries are shared by every reader of the process, so they are frozen (deeply) when
 * filled: a caller that mutates a value it got throws instead of changing it for the others.
 */
import { ChangeLog, EVERYTHING, NOTHING } from './change-log.js';
import { ConfigError } from './errors.js';
import { Lru } from './lru.js';
import type { CacheChange, CacheStore, Key, StoredEntry } from './ports.js';
import { ProxyStore } from './proxy-store.js';
import { toBytes } from './size.js';

export interface L1Options {
  /** Most entries kept (default 10,000); known-absent keys count too. */
  maxEntries?: number;
  /** Most (estimated) bytes kept: a number of bytes or '512KB', '64MB', '1GB' (default 64MB). */
  maxBytes?: number | string;
}

export interface L1Stats {
  /** Keys answered from the tier (an entry, or known absent). */
  hits: number;
  /** Keys read from the store (not held, past their grace, or the tier bypassed). */
  misses: number;
  entries: number;
  bytes: number;
  /** Entries dropped to stay within maxEntries and maxBytes. */
  evictions: number;
  /** Whether the tier is in use (its feed is up). */
  up: boolean;
}

/** A read with where each entry came from. */
export interface L1Lookup {
  entries: (StoredEntry | undefined)[];
  /** `fromL1[i]`: entry i was served by the tier, without a store read. */
  fromL1: boolean[];
}

export const L1_DEFAULTS = { maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 } as const;

/** Checked options with their defaults; a ConfigError names a bad one. */
export function resolveL1Options(o: L1Options): { maxEntries: number; maxBytes: number } {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new ConfigError(`l1 must be an object { maxEntries?, maxBytes? }, got ${JSON.stringify(o) ?? typeof o}`);
  const unknown = Object.keys(o).filter((k) => k !== 'maxEntries' && k !== 'maxBytes');
  if (unknown.length) throw new ConfigError(`l1: unknown option ${unknown.map((k) => `"${k}"`).join(', ')} (known: maxEntries, maxBytes)`);
  const maxEntries = o.maxEntries ?? L1_DEFAULTS.maxEntries;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new ConfigError(`l1.maxEntries ${JSON.stringify(maxEntries) ?? String(maxEntries)}: use a positive integer`);
  const maxBytes = o.maxBytes === undefined ? L1_DEFAULTS.maxBytes : toBytes(o.maxBytes, 'l1.maxBytes');
  return { maxEntries, maxBytes };
}

/** What a node costs beyond its value: the node, its Map slot, the entry's fields. */
const ENTRY_OVERHEAD = 160;

/**
 * Freeze a JSON value deeply and estimate its size in memory (UTF-16 strings, a slot per
 * member), in one walk. An object found frozen is not walked again.
 */
function freezeAndMeasure(v: unknown): number {
  if (typeof v === 'string') return 16 + 2 * v.length;
  if (v === null || typeof v !== 'object' || Object.isFrozen(v)) return 16;
  Object.freeze(v);
  let n = 32;
  if (Array.isArray(v)) {
    for (const x of v) n += 8 + freezeAndMeasure(x);
    return n;
  }
  for (const k of Object.keys(v)) n += 8 + 2 * k.length + freezeAndMeasure((v as Record<string, unknown>)[k]);
  return n;
}

function seal(key: Key, e: StoredEntry | undefined): number {
  let n = ENTRY_OVERHEAD + 2 * key.id.length;
  if (e !== undefined) {
    n += freezeAndMeasure(e.value) + 2 * (e.uri?.length ?? 0);
    Object.freeze(e);
  }
  return n;
}

export class L1Cache extends ProxyStore {
  private readonly lru: Lru<StoredEntry | undefined>;
  private readonly log = new ChangeLog();
  /** The feed is up for us: serve and fill. */
  private live = false;
  private unlisten: (() => void) | undefined;
  private stopped = false;
  private hits = 0;
  private misses = 0;

  constructor(inner: CacheStore, o: L1Options = {}) {
    super(inner);
    const { maxEntries, maxBytes } = resolveL1Options(o);
    const feed = inner.changes;
    if (!feed) throw new ConfigError(`l1 needs a cache store with a change feed (memory:, sqlite:, redis:); ${inner.kind} has none`);
    this.lru = new Lru(maxEntries, maxBytes);
    this.unlisten = feed.listen({ change: (c) => this.changed(c), up: (u) => this.up(u) });
  }

  override getMany(keys: Key[]): Promise<(StoredEntry | undefined)[]> {
    return this.read(keys, undefined);
  }

  /** As getMany, saying which entries the tier served (the engine counts them as L1 hits). */
  async lookup(keys: Key[]): Promise<L1Lookup> {
    const fromL1 = new Array<boolean>(keys.length).fill(false);
    return { entries: await this.read(keys, fromL1), fromL1 };
  }

  private async read(keys: Key[], fromL1: boolean[] | undefined): Promise<(StoredEntry | undefined)[]> {
    if (!this.live) {
      this.misses += keys.length;
      return this.inner.getMany(keys);
    }
    const n = keys.length;
    const out: (StoredEntry | undefined)[] = [];
    const now = Date.now();
    let missing: number[] | undefined;
    for (let i = 0; i < n; i++) {
      const k = keys[i]!;
      const node = this.lru.get(k.ns, k.id);
      if (node !== undefined) {
        const e = node.value;
        if (e === undefined || e.staleUntil === null || e.staleUntil > now) {
          out.push(e);
          if (fromL1 !== undefined) fromL1[i] = true;
          continue;
        }
        // Past its grace: gone (ports.ts StoredEntry.staleUntil).
        this.lru.delete(k.ns, k.id);
      }
      out.push(undefined);
      (missing ??= []).push(i);
    }
    if (missing === undefined) {
      this.hits += n;
      return out;
    }
    this.hits += n - missing.length;
    this.misses += missing.length;
    const start = this.log.epoch;
    const ask = missing.length === n ? keys : missing.map((i) => keys[i]!);
    const got = await this.inner.getMany(ask);
    this.fill(ask, got, start);
    for (let j = 0; j < missing.length; j++) out[missing[j]!] = got[j];
    return out;
  }

  /** Keep what a read that started at epoch `start` got, except keys changed since. */
  private fill(keys: Key[], got: (StoredEntry | undefined)[], start: number) {
    if (!this.live) return;
    const changed = this.log.since(start);
    if (changed === EVERYTHING) return;
    for (let j = 0; j < keys.length; j++) {
      const k = keys[j]!;
      if (changed !== NOTHING && changed.get(k.ns)?.has(k.id)) continue;
      const e = got[j];
      this.lru.set(k.ns, k.id, e, seal(k, e));
    }
  }

  override async setMany(items: { key: Key; entry: StoredEntry }[]) {
    try {
      await this.inner.setMany(items);
    } finally {
      this.forget(items.map((i) => i.key));
    }
  }

  override async deleteMany(keys: Key[]) {
    try {
      return await this.inner.deleteMany(keys);
    } finally {
      this.forget(keys);
    }
  }

  override async markStale(keys: Key[], now: number) {
    try {
      return await this.inner.markStale(keys, now);
    } finally {
      this.forget(keys);
    }
  }

  override async clear() {
    try {
      await this.inner.clear();
    } finally {
      this.emptied();
    }
  }

  /**
   * Keys this process changed by a path other than this tier (the worker's steps): dropped
   * at once, as for a write through the tier, without waiting for the feed.
   */
  forget(keys: readonly Key[]) {
    this.log.bump();
    for (const k of keys) {
      this.lru.delete(k.ns, k.id);
      this.log.add(k.ns, k.id);
    }
  }

  l1Stats(): L1Stats {
    return { hits: this.hits, misses: this.misses, entries: this.lru.size, bytes: this.lru.bytes, evictions: this.lru.evictions, up: this.live };
  }

  /** Stop listening to the feed and empty the tier; the inner store stays open (it may be shared). */
  stop() {
    this.stopped = true;
    this.unlisten?.();
    this.unlisten = undefined;
    this.live = false;
    this.emptied();
  }

  /** stop(), then close the inner store. */
  override async close() {
    this.stop();
    await this.inner.close();
  }

  private changed(c: CacheChange) {
    if ('all' in c) return this.emptied();
    this.log.bump();
    for (const id of c.ids) {
      this.lru.delete(c.ns, id);
      this.log.add(c.ns, id);
    }
  }

  private up(isUp: boolean) {
    if (this.stopped) return;
    this.live = isUp;
    if (!isUp) this.emptied();
  }

  private emptied() {
    this.log.all();
    this.lru.clear();
  }
}
