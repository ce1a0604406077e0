import type { Redis } from 'ioredis';
import { hashId, newId } from '../../hash.js';
import type { ConsumeSteps, Key, StoredEntry } from '../../ports.js';
import { decodeEntry, encodeEntry, type RedisCacheStore } from './cache.js';
import type { RedisKeys } from './keys.js';
import type { RedisLocker } from './locker.js';
import { decode, type RedisPendingSet } from './pending.js';
import { runScript } from './scripts.js';

const ttl = (ms: number) => String(Math.max(1, Math.ceil(ms)));

/** Jobs per script call at most (bounds how long one call holds the server). */
const MAX_BATCH = 200;

/**
 * Collects the calls made in one tick (every job whose previous step answered in the same
 * socket read) and runs them together, one script call per operation.
 */
class TickBatcher<Req extends { key: Key }, Res> {
  private queued: { req: Req; resolve: (r: Res) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  constructor(private readonly run: (ns: string, reqs: Req[]) => Promise<Res[]>) {}

  call(req: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.queued.push({ req, resolve, reject });
      if (this.queued.length >= MAX_BATCH) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        process.nextTick(() => this.flush());
      }
    });
  }

  private flush() {
    this.scheduled = false;
    const all = this.queued;
    if (all.length === 0) return;
    this.queued = [];
    const byNs = new Map<string, typeof all>();
    for (const q of all) {
      let g = byNs.get(q.req.key.ns);
      if (!g) byNs.set(q.req.key.ns, (g = []));
      g.push(q);
    }
    for (const [ns, group] of byNs) {
      this.run(
        ns,
        group.map((q) => q.req),
      ).then(
        (res) => group.forEach((q, i) => q.resolve(res[i]!)),
        (e) => group.forEach((q) => q.reject(e)),
      );
    }
  }
}

type BeginResult = { entry: StoredEntry } | { token: string } | { busy: true };
const BUSY: BeginResult = Object.freeze({ busy: true as const });
interface BeginReq {
  key: Key;
  lockMs: number;
  force: boolean;
}
interface FinishReq {
  key: Key;
  items: { key: Key; entry: StoredEntry }[];
  token: string | null;
}

/**
 * The worker's steps on Redis when cache, locks and pending lists share the connection
 * (ports.ts ConsumeSteps): consume-begin-n.lua (fresh entry, else the lock) and
 * consume-finish-n.lua (store, take pending, release). Calls made in the same tick by
 * concurrent jobs go in one script call per operation, so with many jobs in flight a job
 * costs a fraction of a round trip of ours next to BullMQ's own. Every key of one call is
 * under the operation's hash tag.
 */
export class RedisConsumeSteps implements ConsumeSteps {
  private readonly begins = new TickBatcher<BeginReq, BeginResult>((ns, reqs) => this.beginMany(ns, reqs));
  private readonly finishes = new TickBatcher<FinishReq, unknown[]>((ns, reqs) => this.finishMany(ns, reqs));

  constructor(
    private readonly client: Redis,
    private readonly keys: RedisKeys,
    readonly cache: RedisCacheStore,
    readonly locker: RedisLocker,
    readonly pending: RedisPendingSet,
  ) {}

  begin(key: Key, lockMs: number, force: boolean) {
    return this.begins.call({ key, lockMs, force });
  }

  finish(key: Key, items: { key: Key; entry: StoredEntry }[], token: string | null) {
    for (const it of items) if (it.key.ns !== key.ns) throw new Error(`consume steps store entries of the job's operation only (${it.key.ns} is not ${key.ns})`);
    return this.finishes.call({ key, items, token });
  }

  private async beginMany(ns: string, reqs: BeginReq[]): Promise<BeginResult[]> {
    const now = Date.now();
    let lockMs = 0;
    for (const r of reqs) lockMs = Math.max(lockMs, r.lockMs);
    const args: string[] = [String(now), ttl(lockMs), this.keys.tag(ns)];
    const tokens: string[] = new Array(reqs.length);
    for (let i = 0; i < reqs.length; i++) {
      const r = reqs[i]!;
      tokens[i] = newId();
      args.push(hashId(r.key.id), tokens[i]!, r.force ? '1' : '0');
    }
    const res = await runScript<(string | number)[]>(this.client, 'consume-begin-n', [this.keys.cacheIndex(ns)], args);
    const out: (BeginResult | Promise<BeginResult>)[] = new Array(reqs.length);
    for (let i = 0; i < reqs.length; i++) {
      const v = res[i];
      if (typeof v === 'string') {
        const r = reqs[i]!;
        const entry = decodeEntry(v, r.key.id, now);
        // Another id's entry under the same hash (a collision): ours is missing, take the lock.
        out[i] = entry ? { entry } : this.locker.acquire(r.key, r.lockMs).then((t) => (t ? { token: t } : { busy: true as const }));
      } else out[i] = v === 1 ? { token: tokens[i]! } : BUSY;
    }
    return Promise.all(out);
  }

  private async finishMany(ns: string, reqs: FinishReq[]): Promise<unknown[][]> {
    const args: string[] = [String(Date.now()), this.keys.tag(ns)];
    for (const r of reqs) {
      const h = hashId(r.key.id);
      args.push(h, r.token ?? '', String(r.items.length));
      for (const it of r.items) {
        const json = JSON.stringify(it.entry.value);
        if (json === undefined) throw new TypeError(`cache value for ${ns} is not JSON-serialisable`);
        const id = it.key.id;
        args.push(id === r.key.id ? h : hashId(id), id, encodeEntry(it.entry, id, json), it.entry.staleUntil === null ? '' : String(Math.ceil(it.entry.staleUntil)));
      }
    }
    const r = await runScript<(number | string)[]>(this.client, 'consume-finish-n', [this.keys.cacheIndex(ns), this.keys.pendingCount(ns)], args);
    if (r[0] === 1) await this.client.sadd(this.keys.namespaces('cache'), ns);
    const out: unknown[][] = new Array(reqs.length);
    let at = 1;
    for (let j = 0; j < reqs.length; j++) {
      const n = Number(r[at++]);
      const cbArgs: unknown[] = new Array(n);
      for (let i = 0; i < n; i++) cbArgs[i] = decode(r[at++] as string);
      out[j] = cbArgs;
    }
    return out;
  }
}
