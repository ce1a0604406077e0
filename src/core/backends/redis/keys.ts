import { checkWellFormed } from '../../errors.js';
import { hashId } from '../../hash.js';
import type { Key } from '../../ports.js';
import { ShardLayouts } from './shards.js';

/**
 * The Redis key layout of one deployment (prefix `P`). Every key of an operation (or
 * region namespace) `N` carries the hash tag `{P:N}`, so an operation's keys share one
 * slot and operations spread over a Redis Cluster; keys of the deployment as a whole
 * carry `{P:}` (an empty namespace part: prefixes may contain `:`, so `{P}` could be the
 * tag of an operation of another deployment, e.g. prefix `a` and op `b` vs prefix `a:b`).
 * URIs never appear in keys: they are hashed (`hashId`) and kept as data.
 *
 * An operation with `shards: N` has N tags `{P:N~j}` instead of one (shards.ts): every key
 * below marked (pair) or (shard) exists once per shard, a pair's keys under the tag of its
 * shard; the queue is one BullMQ queue per shard. Counters and run times stay under `{P:N}`.
 *
 *   {P:N}:c:e:<hash>     (pair) cache entry (STRING: times, raw id, uri and value JSON; cache.ts encodeEntry)
 *   {P:N}:c:ids          (shard) cache index (ZSET, score 0, member = raw id; ZRANGEBYLEX for prefix scans)
 *   {P:N}:l:<hash>       (pair) lock (STRING token, PX ttl)
 *   {P:N}:p:l:<hash>     (pair) pending requests of a pair (LIST: the job id, then each request's cbArgs)
 *   {P:N}:p:n            (shard) how many pairs have pending requests (STRING integer)
 *   {P:N}:p:r:<bucket>   (shard) request ids added in one 5-minute bucket (HASH: request id -> the job id
 *                        it joined), so a resent add counts once (pending-add-n.lua)
 *   {P:N}:p:d:<jhash>    (pair) a job's delivery record (LIST: header JSON, then each cbArgs; steps.ts)
 *   {P:N}:p:u:<jhash>    (pair) a job's open runs (SET; steps-begin-n.lua)
 *   {P:N}:p:t:<random>   (pair) pending cbArgs being taken by PendingSet.takeAll (LIST, short-lived)
 *   {P:N}:stats          cumulative counters (HASH, HINCRBY)
 *   {P:N}:durations      recent run times (LIST, trimmed)
 *   {P:N}:jobs:*         (shard) the operation's BullMQ queue (prefix `{P:N}`, queue name `jobs`)
 *   {P:}:ns:<kind>       namespaces known to a port (SET; kind = cache, pending, queue, stats)
 *   {P:}:q:*             quarantine (items, time index, per-op index, meta, counts)
 *   {P:}:w:*             live workers (expiry ZSET + info HASH)
 *   {P:}:paused          operations paused (SET; queue.ts pause)
 *   {P:}:layouts         operations' shard layouts (HASH op -> JSON {n, seen}; layouts.ts); kept
 *                        by cleanup (it says where queues may be)
 */

/** Namespaces that may appear in a key as they are; anything else is hashed (`#<hash>`). */
const PLAIN_NS = /^[A-Za-z0-9_.-]{1,100}$/;
/** A namespace part as it appears in a key: plain, or `#` + hash. Never contains `:` or `}`. */
const NS_PART = /^(?:[A-Za-z0-9_.-]{1,100}|#[A-Za-z0-9_-]+)(?:~\d{1,6})?$/;

export const nsPart = (ns: string) => (PLAIN_NS.test(ns) ? ns : `#${hashId(ns)}`);

/**
 * The hash of an id (URI or region key) as it appears in keys. Ids with lone surrogates are
 * refused: hashing encodes them as UTF-8 with U+FFFD, so `'a\uD800'` and `'a\uDC00'` would
 * share one key.
 */
export function idHash(id: string): string {
  const known = recent.get(id);
  if (known !== undefined) return known;
  const bad = checkWellFormed(id, 'id');
  if (bad) throw new TypeError(`redis: ${bad}`);
  const h = hashId(id);
  // Hot ids are hashed once: a map lookup costs far less than SHA-1 (emptied when full).
  if (recent.size >= RECENT_MAX) recent.clear();
  recent.set(id, h);
  return h;
}
const RECENT_MAX = 10_000;
const recent = new Map<string, string>();

/** Escape Redis glob metacharacters for SCAN MATCH. */
export const globEscape = (s: string) => s.replace(/[*?[\]\\]/g, '\\$&');

export type NsKind = 'cache' | 'pending' | 'queue' | 'stats';

/** Which part of an operation's keys a port owns (for `clear()` by SCAN). */
export type KeyArea = 'c' | 'p' | 'l' | 'jobs' | 'stats';

export class RedisKeys {
  readonly global: string;
  /** Operations spread over several tags (`shards`), and their tags. */
  readonly layouts: ShardLayouts;
  constructor(readonly prefix: string) {
    this.global = `{${prefix}:}`;
    this.layouts = new ShardLayouts((ns) => this.tag(ns));
  }

  /**
   * The tag of a pair's keys: `key.place` when the caller knows it (a job claimed from one
   * shard's queue keeps that shard's keys, even after the layout changed), else the tag of
   * the pair's shard in the current layout. `hash` is idHash(key.id).
   */
  placeOf(key: Key, hash: string): string {
    const p = key.place;
    if (p === undefined) return this.layouts.count(key.ns) > 1 ? this.layouts.tagFor(key.ns, hash) : this.tag(key.ns);
    const base = this.tag(key.ns);
    if (p !== base && !(p.startsWith(base.slice(0, -1) + '~') && /^~\d+\}$/.test(p.slice(base.length - 1)))) {
      throw new TypeError(`redis: place "${p}" is not a tag of namespace ${key.ns}`);
    }
    return p;
  }

  /** `{P:N}`: the hash tag of one operation/namespace (also BullMQ's queue prefix). */
  tag(ns: string) {
    let t = this.tags.get(ns);
    if (t === undefined) {
      t = `{${this.prefix}:${nsPart(ns)}}`;
      if (this.tags.size < 10_000) this.tags.set(ns, t);
    }
    return t;
  }
  /** Tags of the namespaces seen (few: operations and region namespaces). */
  private readonly tags = new Map<string, string>();

  // Keys of one pair or one shard, under the tag `t` (placeOf, or one of layouts.tagsOf).
  entry(t: string, hash: string) {
    return `${t}:c:e:${hash}`;
  }
  cacheIndex(t: string) {
    return `${t}:c:ids`;
  }
  lock(t: string, hash: string) {
    return `${t}:l:${hash}`;
  }
  pending(t: string, hash: string) {
    return `${t}:p:l:${hash}`;
  }
  pendingCount(t: string) {
    return `${t}:p:n`;
  }
  /** Request ids added during one bucket of time (see pending-add-n.lua). */
  requests(t: string, bucket: number) {
    return `${t}:p:r:${bucket}`;
  }
  /** A job's delivery record (by the hash of its id). */
  record(t: string, jobId: string) {
    return `${t}:p:d:${hashId(jobId)}`;
  }
  /** A job's open runs (SET of run ids; see steps-begin-n.lua). */
  runs(t: string, jobId: string) {
    return `${t}:p:u:${hashId(jobId)}`;
  }
  /** SCAN MATCH pattern of the delivery records under one tag. */
  recordPattern(t: string) {
    return `${globEscape(t)}:p:d:*`;
  }
  /** Operations' shard layouts (HASH op -> JSON `{n, seen}`). */
  layoutsKey() {
    return `${this.global}:layouts`;
  }
  /** The change feed's pub/sub channel (publishChanges.lua; ports.ts ChangeFeed). */
  changes() {
    return `${this.global}:changes`;
  }
  /** Operations paused (SET), for queues of a layout introduced after the pause. */
  pausedOps() {
    return `${this.global}:paused`;
  }
  stats(ns: string) {
    return `${this.tag(ns)}:stats`;
  }
  durations(ns: string) {
    return `${this.tag(ns)}:durations`;
  }
  namespaces(kind: NsKind) {
    return `${this.global}:ns:${kind}`;
  }

  quarantine() {
    const g = this.global;
    return { items: `${g}:q:items`, time: `${g}:q:time`, byOp: `${g}:q:byop`, meta: `${g}:q:meta`, count: `${g}:q:count` };
  }

  workers() {
    return { expiry: `${this.global}:w:expiry`, info: `${this.global}:w:info` };
  }

  /** SCAN MATCH pattern for one area of every namespace of this deployment. */
  areaPattern(area: KeyArea) {
    return `{${globEscape(this.prefix)}:*}:${area}:*`;
  }

  /**
   * Whether a key found by `areaPattern` belongs to this deployment: its hash tag must be
   * exactly `{P:<ns part>}` (a deployment with prefix `P:x` has tags `{P:x:…}`, whose
   * namespace part contains `:` and so is never one of ours).
   */
  ownsKey(key: string, area: KeyArea) {
    const head = `{${this.prefix}:`;
    if (!key.startsWith(head)) return false;
    const close = key.indexOf('}', head.length);
    if (close < 0) return false;
    return NS_PART.test(key.slice(head.length, close)) && key.startsWith(`}:${area}:`, close);
  }
}
