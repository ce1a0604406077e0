import type { RedisClient } from './connection.js';
import { hashId, newId } from '../../hash.js';
import type { BeginResult, Delivery, Key, QuarantineItem, StoredEntry, WorkerSteps } from '../../ports.js';
import { decodeEntry, encodeEntry, type RedisCacheStore } from './cache.js';
import { idHash, type RedisKeys } from './keys.js';
import type { RedisLocker } from './locker.js';
import { decode } from './pending.js';
import { scanEach } from './scan.js';
import { runScript } from './scripts.js';
import { TickBatcher } from './tick-batcher.js';

const ttl = (ms: number) => String(Math.max(1, Math.ceil(ms)));

/**
 * How long a delivery record may outlive its job: a leak guard for a record whose job is
 * gone (removed from the queue by hand, say). A job taken again after a crash finds its
 * record long before.
 */
export const RECORD_GUARD_MS = 24 * 3600_000;

/** How long settled records are gathered before one DEL drops them. */
const SETTLE_EVERY_MS = 20;

const BUSY: BeginResult = Object.freeze({ busy: true as const });

interface Req {
  key: Key;
  /** idHash(key.id): computed when the call is made, so a bad id fails that call alone. */
  hash: string;
  /** The pair's tag (its shard's; the job's place when it has one). */
  tag: string;
  jobId: string;
}
interface BeginReq extends Req {
  runId: string;
  lockMs: number;
  force: boolean;
}
interface FinishReq extends Req {
  /** The stored items as script arguments (4 per item; see steps-finish-n.lua). */
  items: string[];
  token: string | null;
}
interface QuarantineReq extends Req {
  item: QuarantineItem;
  token: string | null;
}

/** A record as the scripts return it: header JSON, then the encoded cbArgs. */
function toDelivery(list: string[]): Delivery {
  const head = JSON.parse(list[0]!) as { deliveryId: string; kind: 'result' | 'quarantine'; item?: Omit<QuarantineItem, 'cbArgs'> };
  const cbArgs = new Array<unknown>(list.length - 1);
  for (let i = 1; i < list.length; i++) cbArgs[i - 1] = decode(list[i]!);
  const d: Delivery = { deliveryId: head.deliveryId, kind: head.kind, cbArgs };
  if (head.item) d.item = { ...head.item, cbArgs } as QuarantineItem;
  return d;
}

/** Read `n` records, each as its length then its elements, from `r` at `at`. */
function readRecords(r: unknown[], at: number, n: number): Delivery[] {
  const out: Delivery[] = new Array(n);
  for (let j = 0; j < n; j++) {
    const len = Number(r[at++]);
    out[j] = toDelivery(r.slice(at, at + len) as string[]);
    at += len;
  }
  return out;
}

/**
 * The worker's steps on Redis (ports.ts WorkerSteps), when cache, locks, pending lists and
 * delivery records share the connection: steps-begin-n.lua, steps-finish-n.lua and
 * steps-quarantine-n.lua. Calls made in the same tick by concurrent jobs go in one script
 * call per hash tag (the operation's, or its shard's), every key of one call under that tag.
 * Entries stored under another tag (an alias on another shard, or a job queued before the
 * operation's layout changed) are written before the finishing script, by the cache.
 *
 * A delivery record (`{P:N}:p:d:<hash of the job id>`) is a LIST: a header JSON
 * `{deliveryId, kind, item?}` (the item without its cbArgs), then each encoded cbArgs. It
 * is made by renaming the pair's pending list, so moving the cbArgs costs O(1) however
 * many there are. Records live under the pending area, so PendingSet.clear removes them.
 */
export class RedisWorkerSteps implements WorkerSteps {
  private readonly begins = new TickBatcher<BeginReq, BeginResult>((ns, reqs) => this.beginMany(ns, reqs));
  private readonly finishes = new TickBatcher<FinishReq, Delivery>((ns, reqs) => this.finishMany(ns, reqs));
  private readonly quarantines = new TickBatcher<QuarantineReq, Delivery>((ns, reqs) => this.quarantineMany(ns, reqs));
  /** Settling waits for nobody (the job is complete already): many jobs' records go in one DEL. */
  private readonly settles = new TickBatcher<Req, void>((ns, reqs) => this.settleMany(ns, reqs), SETTLE_EVERY_MS);

  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    private readonly locker: RedisLocker,
    private readonly cache: RedisCacheStore,
  ) {}

  private req(key: Key, jobId: string) {
    const hash = idHash(key.id);
    return { key, hash, tag: this.keys.placeOf(key, hash), jobId };
  }

  async begin(key: Key, jobId: string, runId: string, lockMs: number, force: boolean) {
    return this.begins.call({ ...this.req(key, jobId), runId, lockMs, force });
  }

  /** One SREM: removing a member twice is harmless, so a resend is too. */
  async end(key: Key, jobId: string, runId: string) {
    await this.client.srem(this.keys.runs(this.req(key, jobId).tag, jobId), runId);
  }

  async finish(key: Key, jobId: string, items: { key: Key; entry: StoredEntry }[], token: string | null) {
    const req = this.req(key, jobId);
    const args: string[] = [];
    const elsewhere: { key: Key; entry: StoredEntry }[] = [];
    for (const it of items) {
      if (it.key.ns !== key.ns) throw new Error(`worker steps store entries of the job's operation only (${it.key.ns} is not ${key.ns})`);
      const json = JSON.stringify(it.entry.value);
      if (json === undefined) throw new TypeError(`cache value for ${key.ns} is not JSON-serialisable`);
      const id = it.key.id;
      const hash = id === key.id ? req.hash : idHash(id);
      if (this.keys.placeOf(it.key, hash) !== req.tag) {
        elsewhere.push(it);
        continue;
      }
      args.push(hash, id, encodeEntry(it.entry, id, json), it.entry.staleUntil === null ? '' : String(Math.ceil(it.entry.staleUntil)));
    }
    // Idempotent, so a crash before the script below only means they are written again.
    if (elsewhere.length > 0) await this.cache.setMany(elsewhere);
    return this.finishes.call({ ...req, items: args, token });
  }

  async quarantine(key: Key, jobId: string, item: QuarantineItem, token: string | null) {
    return this.quarantines.call({ ...this.req(key, jobId), item, token });
  }

  async settle(key: Key, jobId: string) {
    await this.settles.call(this.req(key, jobId));
  }

  /** Drop the records gathered for settling now (before the connection closes). */
  flush() {
    this.settles.flush();
  }

  async records(ns: string) {
    let n = 0;
    await this.keys.layouts.fresh();
    for (const tag of this.keys.layouts.tagsOf(ns)) {
      await scanEach(this.client, this.keys.recordPattern(tag), (found) => {
        n += found.length;
      });
    }
    return n;
  }

  private async beginMany(tag: string, reqs: BeginReq[]): Promise<BeginResult[]> {
    const now = Date.now();
    let lockMs = 0;
    for (const r of reqs) lockMs = Math.max(lockMs, r.lockMs);
    const args: string[] = [String(now), ttl(lockMs), tag, String(RECORD_GUARD_MS)];
    const tokens: string[] = new Array(reqs.length);
    for (let i = 0; i < reqs.length; i++) {
      const r = reqs[i]!;
      tokens[i] = newId();
      args.push(r.hash, hashId(r.jobId), tokens[i]!, r.force ? '1' : '0', r.runId);
    }
    const res = await runScript<(string | number)[]>(this.client, 'steps-begin-n', [this.keys.cacheIndex(tag)], args);
    const out: (BeginResult | Promise<BeginResult>)[] = new Array(reqs.length);
    let at = 0;
    for (let i = 0; i < reqs.length; i++) {
      const r = reqs[i]!;
      const code = Number(res[at++]);
      const runs = code === 0 ? 0 : Number(res[at++]);
      if (code === 2) {
        const len = Number(res[at++]);
        const delivery = toDelivery(res.slice(at, at + len) as string[]);
        at += len;
        const entry = decodeEntry((res[at++] as string) || null, r.key.id, now);
        out[i] = entry ? { delivery, entry, runs } : { delivery, runs };
      } else if (code === 3) {
        const entry = decodeEntry(res[at++] as string, r.key.id, now);
        // Another id's entry under the same hash (a collision): ours is missing, take the lock.
        out[i] = entry ? { entry, runs } : this.locker.acquire(r.key, r.lockMs).then((t) => (t ? { token: t, runs } : BUSY));
      } else out[i] = code === 1 ? { token: tokens[i]!, runs } : BUSY;
    }
    return Promise.all(out);
  }

  private async finishMany(tag: string, reqs: FinishReq[]): Promise<Delivery[]> {
    const args: string[] = [String(Date.now()), tag, String(RECORD_GUARD_MS), this.keys.changes(), reqs[0]!.key.ns];
    for (const r of reqs) {
      args.push(r.hash, hashId(r.jobId), r.token ?? '', JSON.stringify({ deliveryId: newId(), kind: 'result' }), String(r.items.length / 4));
      for (const a of r.items) args.push(a);
    }
    const r = await runScript<(number | string)[]>(this.client, 'steps-finish-n', [this.keys.cacheIndex(tag), this.keys.pendingCount(tag)], args);
    if (r[0] === 1) await this.client.sadd(this.keys.namespaces('cache'), reqs[0]!.key.ns);
    return readRecords(r, 1, reqs.length);
  }

  private async quarantineMany(tag: string, reqs: QuarantineReq[]): Promise<Delivery[]> {
    const args: string[] = [tag, String(RECORD_GUARD_MS)];
    for (const r of reqs) {
      const { cbArgs: _, ...item } = r.item;
      args.push(r.hash, hashId(r.jobId), r.token ?? '', newId(), JSON.stringify(item));
    }
    const r = await runScript<(number | string)[]>(this.client, 'steps-quarantine-n', [this.keys.pendingCount(tag)], args);
    return readRecords(r, 0, reqs.length);
  }

  private async settleMany(tag: string, reqs: Req[]): Promise<void[]> {
    await this.client.del(...reqs.flatMap((r) => [this.keys.record(tag, r.jobId), this.keys.runs(tag, r.jobId)]));
    return new Array(reqs.length);
  }
}
