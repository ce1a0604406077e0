/**
 * Regions (dogpile.cache with django-cacheback's background refresh): a key/value cache
 * over any CacheStore, with `getOrCreate` under a lock so that at most one creator runs
 * per key across every process sharing the store, soft/hard invalidation, decorators.
 */
import { createHash } from 'node:crypto';
import { openBackend } from './backends/index.js';
import { composeRegionSteps } from './backends/composed-region-steps.js';
import { sleep } from './backends/polling-consumer.js';
import { toMs, type Duration } from './duration.js';
import { isFresh, isServable, makeEntry, toJsonValue } from './entry.js';
import { checkWellFormed, ConfigError, NotSerializableError } from './errors.js';
import type { Backend, CacheStore, Key, Locker, RegionSteps, StoredEntry } from './ports.js';
import { Wakeups } from './region-wake.js';
import { L1Cache, resolveL1Options, type L1Options } from './l1.js';
import { checkSelection, chunks, selectIds } from './select.js';
import type { TemplateVars } from './template.js';

export type KeyMangler = (key: string) => string;

/** Moved to its own module (l1.ts extends it); still exported from here. */
export { ProxyStore } from './proxy-store.js';

/** dogpile's sha1_mangle_key: fixed-length keys for stores that limit key size. */
export const sha1KeyMangler: KeyMangler = (key) => createHash('sha1').update(key).digest('hex');

export interface RegionOptions {
  /**
   * A store URL (`memory:`, `sqlite:PATH`, `redis://…`), an open Backend, or a cache and a
   * locker (with their RegionSteps when they are one store; composed from them otherwise).
   */
  store?: string | Backend | { cache: CacheStore; locker: Locker; regionSteps?: RegionSteps };
  /** Namespace of this region inside the store (default 'region'). */
  name?: string;
  prefix?: string;
  /** Fresh lifetime of entries; absent = forever. */
  ttl?: Duration;
  /** How long after ttl a stale value is still served while one creator runs; absent = until replaced. */
  grace?: Duration;
  keyMangler?: KeyMangler;
  /** Proxies applied around the store, innermost first. */
  wrap?: ((store: CacheStore) => CacheStore)[];
  /** How long a creator may hold the lock before another process may take over (default 30s; extended while it runs). */
  lockTimeout?: Duration;
  /**
   * An in-process LRU in front of the store (after `wrap`), kept coherent with every other
   * process by the store's change feed (memory, sqlite, redis); off by default. Values it
   * serves are frozen: the same object goes to every caller of this process.
   */
  l1?: L1Options;
}

export interface RegionEntry<T = unknown> {
  value: T;
  stale: boolean;
  createdAt: number;
  expiresAt: number | null;
}

interface Meta {
  hardAt?: number;
  softAt?: number;
}

/**
 * A region's invalidation markers: one entry for hard and one for soft invalidation, each
 * written without reading (two processes invalidating at once never undo one another), and
 * the marker of earlier versions (both times in one entry), still honoured. Read with every
 * lookup of the region, in the same call.
 */
const MARKER_IDS = ['invalidated', 'invalidated:hard', 'invalidated:soft'] as const;

export interface CachedFunction<A extends unknown[], R> {
  (...args: A): Promise<R>;
  invalidate(...args: A): Promise<void>;
  refresh(...args: A): Promise<R>;
  set(value: R, ...args: A): Promise<void>;
  get(...args: A): Promise<R | undefined>;
  original: (...args: A) => Promise<R> | R;
}

/** An entry as a region serves it: gone if hard-invalidated after it was created, stale if soft-invalidated. */
function view(e: StoredEntry | undefined, meta: Meta, now: number): RegionEntry | undefined {
  if (!isServable(e, now)) return undefined;
  if (meta.hardAt !== undefined && e.createdAt <= meta.hardAt) return undefined;
  const softened = meta.softAt !== undefined && e.createdAt <= meta.softAt;
  return { value: e.value, stale: softened || !isFresh(e, now), createdAt: e.createdAt, expiresAt: e.expiresAt };
}

/** Entries created at or before this are not fresh (RegionSteps.lockOrRead's freshAfter). */
const since = (meta: Meta) => Math.max(meta.hardAt ?? -Infinity, meta.softAt ?? -Infinity);

export class Region {
  readonly ns: string;
  private markers: Key[];
  private ttlMs: number | null;
  private graceMs: number | null;
  private lockMs: number;
  private background = new Set<Promise<unknown>>();
  /** This process's creation of a key, which its other callers of getOrCreate share. */
  private flights = new Map<string, Promise<unknown>>();
  private wakes: Wakeups;

  constructor(
    readonly store: CacheStore,
    private locker: Locker,
    private steps: RegionSteps,
    private opts: RegionOptions,
    private onClose: () => Promise<void>,
    /** The steps are composed (composeRegionSteps): a release without a value is not told on the feed. */
    composedSteps = false,
  ) {
    this.ns = `region.${opts.name ?? 'default'}`;
    this.markers = MARKER_IDS.map((id) => ({ ns: `${this.ns}.meta`, id }));
    this.ttlMs = opts.ttl === undefined ? null : toMs(opts.ttl, 'region ttl');
    this.graceMs = opts.grace === undefined ? null : toMs(opts.grace, 'region grace');
    this.lockMs = opts.lockTimeout === undefined ? 30_000 : toMs(opts.lockTimeout, 'lockTimeout');
    this.wakes = new Wakeups(store.changes, this.ns, composedSteps);
    this.l1 = store instanceof L1Cache ? store : undefined;
  }

  private readonly l1: L1Cache | undefined;

  private key(k: string): Key {
    if (typeof k !== 'string') throw new ConfigError(`region keys are strings, got ${typeof k}`);
    const id = this.opts.keyMangler ? this.opts.keyMangler(k) : k;
    const bad = checkWellFormed(id, 'region key');
    if (bad) throw new ConfigError(bad);
    return { ns: this.ns, id };
  }

  /** Entries with the region-wide invalidation applied; one read with the marker. */
  private async entries(keys: string[]): Promise<(RegionEntry | undefined)[]> {
    return (await this.read(keys.map((k) => this.key(k)))).out;
  }

  private async read(keys: Key[]) {
    const got = await this.store.getMany([...this.markers, ...keys]);
    const meta = { ...((got[0]?.value ?? {}) as Meta) };
    const hard = (got[1]?.value as { at?: number } | undefined)?.at;
    const soft = (got[2]?.value as { at?: number } | undefined)?.at;
    if (hard !== undefined && !(meta.hardAt! >= hard)) meta.hardAt = hard;
    if (soft !== undefined && !(meta.softAt! >= soft)) meta.softAt = soft;
    const now = Date.now();
    const out: (RegionEntry | undefined)[] = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) out[i] = view(got[i + 3], meta, now);
    return { meta, out };
  }

  async getEntry<T = unknown>(key: string): Promise<RegionEntry<T> | undefined> {
    return (await this.entries([key]))[0] as RegionEntry<T> | undefined;
  }

  /** The fresh value, or undefined (a miss, expired or invalidated). */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    const e = await this.getEntry<T>(key);
    return e && !e.stale ? e.value : undefined;
  }

  async getMany<T = unknown>(keys: string[]): Promise<(T | undefined)[]> {
    return (await this.entries(keys)).map((e) => (e && !e.stale ? (e.value as T) : undefined));
  }

  private entryFor(value: unknown, ttl?: Duration) {
    let json: unknown;
    try {
      json = toJsonValue(value);
    } catch (e) {
      throw new NotSerializableError(`region values must be JSON-serialisable: ${(e as Error).message}`);
    }
    const ttlMs = ttl === undefined ? this.ttlMs : toMs(ttl, 'ttl');
    return makeEntry(json, Date.now(), ttlMs, this.graceMs);
  }

  async set(key: string, value: unknown, o: { ttl?: Duration } = {}) {
    await this.store.setMany([{ key: this.key(key), entry: this.entryFor(value, o.ttl) }]);
  }

  async setMany(values: Record<string, unknown>, o: { ttl?: Duration } = {}) {
    await this.store.setMany(Object.entries(values).map(([k, v]) => ({ key: this.key(k), entry: this.entryFor(v, o.ttl) })));
  }

  async delete(key: string) {
    await this.store.deleteMany([this.key(key)]);
  }

  async deleteMany(keys: string[]) {
    await this.store.deleteMany(keys.map((k) => this.key(k)));
  }

  /**
   * The value for `key`, creating it when missing or stale. At most one creator runs per
   * key across all processes sharing the store; while it runs, other callers get the stale
   * value if there is one, otherwise they wait for the new one (woken by the store's change
   * feed when it is stored). Callers in one process share one creation (and its error).
   * A miss costs the read, `lockOrRead` and, once created, `storeAndRelease`.
   */
  async getOrCreate<T>(key: string, creator: () => Promise<T> | T, o: { ttl?: Duration; shouldCache?: (value: T) => boolean } = {}): Promise<T> {
    const k = this.key(key);
    const {
      meta,
      out: [e],
    } = await this.read([k]);
    if (e && !e.stale) return e.value as T;
    const flying = this.flights.get(k.id);
    if (flying) return e ? (e.value as T) : (flying as Promise<T>);
    const p = this.fly(k, creator, o, meta).finally(() => this.flights.delete(k.id));
    this.flights.set(k.id, p);
    return p;
  }

  private async fly<T>(k: Key, creator: () => Promise<T> | T, o: { ttl?: Duration; shouldCache?: (value: T) => boolean }, meta: Meta): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      // Watched first: the holder's storeAndRelease may be told before lockOrRead answers.
      const w = this.wakes.watch(k.id);
      let got: Awaited<ReturnType<RegionSteps['lockOrRead']>>;
      try {
        got = await this.steps.lockOrRead(k, this.lockMs, since(meta));
      } catch (err) {
        this.wakes.unwatch(w);
        throw err;
      }
      if (got.token) {
        this.wakes.unwatch(w);
        return this.create(k, got.token, creator, o);
      }
      const v = view(got.entry, meta, Date.now());
      if (v) {
        this.wakes.unwatch(w);
        return v.value as T; // fresh, or stale while another caller recreates it
      }
      await this.wakes.wait(w, k.id, attempt);
    }
  }

  /** Run the creator under our lock (kept extended), then store and release in one step. */
  /** Locks of running creators, extended together every lockTimeout / 3 (one timer, not one per creation). */
  private held = new Set<{ k: Key; token: string }>();
  private keeper: NodeJS.Timeout | undefined;

  private hold(k: Key, token: string) {
    const h = { k, token };
    this.held.add(h);
    if (!this.keeper) {
      this.keeper = setInterval(() => {
        for (const x of this.held) void this.locker.extend(x.k, x.token, this.lockMs).catch(() => {});
      }, Math.max(100, this.lockMs / 3));
      this.keeper.unref();
    }
    return h;
  }

  private unhold(h: { k: Key; token: string }) {
    this.held.delete(h);
    if (this.held.size === 0) {
      clearInterval(this.keeper);
      this.keeper = undefined;
    }
  }

  private async create<T>(k: Key, token: string, creator: () => Promise<T> | T, o: { ttl?: Duration; shouldCache?: (value: T) => boolean }) {
    const held = this.hold(k, token);
    let value: T;
    let entry: StoredEntry | undefined;
    try {
      value = await creator();
      if (!o.shouldCache || o.shouldCache(value)) entry = this.entryFor(value, o.ttl);
    } catch (err) {
      this.unhold(held);
      await this.steps.storeAndRelease(k, token, undefined).catch(() => {}); // waiters wake; one takes over
      throw err;
    } finally {
      this.unhold(held);
    }
    try {
      await this.steps.storeAndRelease(k, token, entry);
    } finally {
      this.l1?.forget([k]); // written past the L1: this process reads its own write at once
    }
    return value;
  }

  /**
   * Values for many keys; `creator` gets the keys that need creating (those whose lock we
   * hold) and returns their values in order. Keys another caller is creating are awaited.
   */
  async getOrCreateMany<T>(keys: string[], creator: (keys: string[]) => Promise<T[]> | T[], o: { ttl?: Duration } = {}): Promise<T[]> {
    const ks = keys.map((k) => this.key(k));
    const { meta, out: entries } = await this.read(ks);
    const out: (T | undefined)[] = entries.map((e) => (e && !e.stale ? (e.value as T) : undefined));
    const missing = keys.map((k, i) => ({ k, i })).filter(({ i }) => out[i] === undefined);
    const mine: { k: string; i: number; token: string }[] = [];
    const others: { k: string; i: number }[] = [];
    const after = since(meta);
    const got = await Promise.all(missing.map((m) => this.steps.lockOrRead(ks[m.i]!, this.lockMs, after)));
    const now = Date.now();
    missing.forEach((m, j) => {
      const g = got[j]!;
      const v = view(g.entry, meta, now);
      if (g.token) mine.push({ ...m, token: g.token });
      else if (v) out[m.i] = v.value as T; // fresh meanwhile, or stale while someone else creates
      else others.push(m);
    });
    let stored: StoredEntry[] | undefined;
    try {
      if (mine.length) {
        const values = await creator(mine.map((m) => m.k));
        if (values.length !== mine.length) throw new ConfigError(`getOrCreateMany creator returned ${values.length} values for ${mine.length} keys`);
        stored = values.map((v) => this.entryFor(v, o.ttl));
        mine.forEach((m, j) => (out[m.i] = values[j]));
      }
    } finally {
      await Promise.all(mine.map((m, j) => this.steps.storeAndRelease(ks[m.i]!, m.token, stored?.[j]).catch((e) => (stored ? Promise.reject(e) : undefined)))).finally(() =>
        this.l1?.forget(mine.map((m) => ks[m.i]!)),
      );
    }
    await Promise.all(others.map(async (m) => (out[m.i] = await this.getOrCreate(m.k, async () => (await creator([m.k]))[0]!, o))));
    return out as T[];
  }

  /**
   * A function cached on its arguments (dogpile's cache_on_arguments). With
   * `fetchOnMiss: false` a miss returns undefined and creates the value in the background,
   * and a stale hit returns the stale value and refreshes it (cacheback).
   */
  cacheOnArguments<A extends unknown[], R>(
    fn: (...args: A) => Promise<R> | R,
    o: { namespace?: string; keyGenerator?: (...args: A) => string; ttl?: Duration; fetchOnMiss?: boolean; shouldCache?: (v: R) => boolean } = {},
  ): CachedFunction<A, R> {
    const ns = o.namespace ?? fn.name ?? 'fn';
    const keyOf = o.keyGenerator ?? ((...args: A) => `${ns}:${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join('|')}`);
    const create = (args: A) => () => fn(...args);
    const cached = (async (...args: A) => {
      const key = keyOf(...args);
      if (o.fetchOnMiss === false) {
        const e = await this.getEntry<R>(key);
        if (e && !e.stale) return e.value;
        this.inBackground(this.getOrCreate(key, create(args), { ttl: o.ttl, shouldCache: o.shouldCache }));
        return e?.value as R;
      }
      return this.getOrCreate(key, create(args), { ttl: o.ttl, shouldCache: o.shouldCache });
    }) as CachedFunction<A, R>;
    cached.invalidate = (...args) => this.delete(keyOf(...args));
    cached.refresh = async (...args) => {
      const value = await fn(...args);
      await this.set(keyOf(...args), value, { ttl: o.ttl });
      return value;
    };
    cached.set = (value, ...args) => this.set(keyOf(...args), value, { ttl: o.ttl });
    cached.get = (...args) => this.get<R>(keyOf(...args));
    cached.original = fn;
    return cached;
  }

  /** For functions of many keys: `fn(keys)` returns values in order; only missing keys are computed. */
  cacheMultiOnArguments<R>(fn: (...keys: string[]) => Promise<R[]> | R[], o: { namespace?: string; ttl?: Duration } = {}) {
    const ns = o.namespace ?? fn.name ?? 'fn';
    const keyOf = (k: string) => `${ns}:${k}`;
    const cached = (...keys: string[]) =>
      this.getOrCreateMany(
        keys.map(keyOf),
        async (missing) => fn(...missing.map((m) => m.slice(ns.length + 1))),
        { ttl: o.ttl },
      );
    return Object.assign(cached, {
      invalidate: (...keys: string[]) => this.deleteMany(keys.map(keyOf)),
      original: fn,
    });
  }

  private inBackground(p: Promise<unknown>) {
    const tracked = p.catch(() => {}).finally(() => this.background.delete(tracked));
    this.background.add(tracked);
  }

  /** Wait for background creations (fetchOnMiss: false) to settle. */
  async settle() {
    while (this.background.size) await Promise.all([...this.background]);
  }

  /**
   * Without a template: the whole region (hard: nobody sees old values; soft: they are
   * served stale while one creator refreshes). With a template: that group of keys
   * (exact keys when every placeholder is bound, otherwise a prefix scan).
   */
  async invalidate(o: { soft?: boolean; template?: string; vars?: TemplateVars; match?: string } = {}) {
    if (o.template === undefined && o.match === undefined) {
      const now = Date.now();
      await this.store.setMany([{ key: this.markers[o.soft ? 2 : 1]!, entry: makeEntry({ at: now }, now, null, null) }]);
      // Entries written in this same millisecond must count as newer than the marker.
      await sleep(1);
      return { invalidated: -1 };
    }
    let n = 0;
    const mangle = this.opts.keyMangler;
    const sel = o.template !== undefined ? { template: o.template, vars: o.vars } : { match: o.match };
    checkSelection(sel);
    if (mangle && !(o.template !== undefined && !/\{/.test(o.template.replace(/\{[^}]*\}/g, (m) => (o.vars?.[m.slice(1, -1)] !== undefined ? '' : m))))) {
      throw new ConfigError('group invalidation by pattern needs raw keys: it cannot scan a region with a keyMangler (bind every placeholder instead)');
    }
    for await (const ids of chunks(selectIds(this.store, this.ns, sel), 1000)) {
      const keys = ids.map((id) => (mangle ? this.key(id) : { ns: this.ns, id }));
      n += o.soft ? await this.store.markStale(keys, Date.now()) : await this.store.deleteMany(keys);
    }
    return { invalidated: n };
  }

  /** The L1 tier's figures (hits, misses, entries, bytes, evictions, whether its feed is up); undefined without `l1`. */
  l1Stats() {
    return this.l1?.l1Stats();
  }

  async close() {
    await this.settle();
    this.wakes.close();
    this.l1?.stop();
    await this.onClose();
  }
}

export async function createRegion(o: RegionOptions = {}): Promise<Region> {
  if (o.l1 !== undefined) resolveL1Options(o.l1); // a bad option fails before any connection
  let cache: CacheStore;
  let locker: Locker;
  let steps: RegionSteps | undefined;
  let close = async () => {};
  if (o.store === undefined || typeof o.store === 'string') {
    const b = await openBackend({ broker: o.store ?? 'memory:', prefix: o.prefix });
    ({ cache, locker, regionSteps: steps } = b);
    close = () => b.close();
  } else {
    ({ cache, locker, regionSteps: steps } = o.store);
  }
  for (const w of o.wrap ?? []) cache = w(cache);
  // Proxies see every read and write: the steps are then composed over the wrapped store.
  const composed = !steps || !!o.wrap?.length;
  if (composed) steps = composeRegionSteps(locker, cache);
  if (o.l1 !== undefined) {
    try {
      cache = new L1Cache(cache, o.l1);
    } catch (e) {
      await close();
      throw e;
    }
  }
  return new Region(cache, locker, steps!, o, close, composed);
}
