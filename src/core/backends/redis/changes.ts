import type { Redis } from 'ioredis';
import type { CacheChange, ChangeFeed, ChangeListener } from '../../ports.js';
import { ChangeListeners } from '../change-listeners.js';
import { closeRedis, isCluster, type RedisClient } from './connection.js';

/**
 * The subscriber is pinged this often, and counted lost when a ping has had no answer for
 * DEAD_MS: a connection that dies without closing (a NAT or load balancer dropping it
 * silently) would otherwise keep every L1 tier "up" while changes no longer arrive.
 */
const BEAT_MS = 200;
const DEAD_MS = 600;

/** Between two tries to open a subscriber (a node gone, a server down): growing up to 2 s. */
const reopenDelay = (tries: number) => Math.min(100 * 2 ** tries, 2000);

/** A message of the feed's channel: `*` (everything: a clear), or the JSON array `[ns, id, …]`. */
export function parseChange(msg: string): CacheChange | undefined {
  if (msg === '*') return { all: true };
  try {
    const a = JSON.parse(msg) as unknown;
    if (!Array.isArray(a) || a.length < 2 || !a.every((x) => typeof x === 'string')) return undefined;
    return { ns: a[0] as string, ids: a.slice(1) as string[] };
  } catch {
    return undefined; // not ours
  }
}

/**
 * The change feed of a Redis deployment (ports.ts ChangeFeed): every write path of entries
 * PUBLISHes on `channel` (lua/includes/publishChanges.lua; `*` after a clear), and this
 * listens on a connection of its own, opened on the first `listen` and kept until `close`
 * (region waiters come and go: each would otherwise wait for a new subscription).
 *
 * The subscription is made here on every `ready`, not left to ioredis's autoResubscribe:
 * ioredis says `ready` before it resubscribes, and a listener must hear `up(true)` only
 * once messages flow again. On a Cluster, PUBLISH reaches every node, so one plain
 * connection to any node will do; it is not the Cluster's own subscriber, which moves to
 * another node without telling anyone. When a node stays gone, the next one is tried.
 * Messages of one master come in order (a namespace's, or its shard's); of several masters,
 * and a clear's `*` (sent by the client to any node), in any order: an `all` only drops.
 */
export class RedisChangeFeed implements ChangeFeed {
  private readonly ls = new ChangeListeners();
  private sub: Redis | undefined;
  private timer: NodeJS.Timeout | undefined;
  private tries = 0;
  private node = 0;
  private closed = false;
  private heart: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: RedisClient,
    private readonly channel: string,
  ) {}

  listen(l: ChangeListener) {
    const stop = this.ls.add(l);
    if (!this.sub && !this.timer && !this.closed) this.open();
    return stop;
  }

  async close() {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.heart);
    this.ls.clear();
    const sub = this.sub;
    this.sub = undefined;
    if (sub) await closeRedis(sub);
  }

  private open() {
    this.timer = undefined;
    const sub = this.connection();
    if (!sub) return this.reopen(); // a cluster that knows no node right now
    this.sub = sub;
    const mine = () => this.sub === sub && !this.closed;
    sub.on('error', () => {}); // it reconnects (or ends, and the next node is tried)
    sub.on('close', () => {
      if (!mine()) return;
      clearInterval(this.heart);
      this.ls.setLive(false);
    });
    sub.on('ready', () => {
      if (!mine()) return;
      sub.subscribe(this.channel).then(
        () => this.subscribed(sub),
        () => mine() && sub.disconnect(), // 'end': tried again on a new connection, after a while
      );
    });
    sub.on('message', (channel: string, msg: string) => {
      if (!mine() || channel !== this.channel) return;
      this.subscribed(sub); // a message may come in the same read as the SUBSCRIBE reply, before its promise settles
      const c = parseChange(msg);
      if (c) this.ls.tell(c);
    });
    sub.on('end', () => {
      if (!mine()) return;
      this.ls.setLive(false);
      this.sub = undefined;
      this.reopen();
    });
    sub.connect().catch(() => {}); // failures come as 'close'/'end'
  }

  private subscribed(sub: Redis) {
    if (this.sub !== sub || this.closed) return;
    this.tries = 0;
    if (!this.ls.live) this.beat(sub);
    this.ls.setLive(true);
  }

  /** Ping the subscriber while it is live; no answer for DEAD_MS: down, and a new connection. */
  private beat(sub: Redis) {
    clearInterval(this.heart);
    let asked: number | undefined;
    this.heart = setInterval(() => {
      if (this.sub !== sub || this.closed || !this.ls.live) return void clearInterval(this.heart);
      if (asked !== undefined) {
        if (Date.now() - asked < DEAD_MS) return;
        clearInterval(this.heart);
        this.ls.setLive(false);
        sub.disconnect(true); // reconnects: 'ready' subscribes again
        return;
      }
      asked = Date.now();
      sub.ping().then(
        () => (asked = undefined),
        () => {},
      );
    }, BEAT_MS);
    this.heart.unref();
  }

  private reopen() {
    if (this.closed) return;
    this.timer = setTimeout(() => this.open(), reopenDelay(this.tries++));
    this.timer.unref();
  }

  /**
   * A new subscriber connection: a copy of the client's (which reconnects by itself, also
   * through Sentinel), or on a Cluster one to a node it knows, given up after a few failed
   * reconnects so that 'end' moves on to another node.
   */
  private connection(): Redis | undefined {
    const own = { lazyConnect: true, autoResubscribe: false, enableAutoPipelining: false, enableOfflineQueue: true };
    if (!isCluster(this.client)) return this.client.duplicate(own);
    const nodes = this.client.nodes('all');
    if (nodes.length === 0) return undefined;
    const node = nodes[this.node++ % nodes.length]!;
    return node.duplicate({ ...own, readOnly: false, retryStrategy: (times: number) => (times > 3 ? null : 50 * times) });
  }
}
