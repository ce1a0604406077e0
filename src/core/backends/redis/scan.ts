import type { ChainableCommander } from 'ioredis';
import { isCluster, masters, type RedisClient } from './connection.js';
import type { KeyArea, RedisKeys } from './keys.js';
import { results } from './scripts.js';

/** The hash tag of a key as Redis Cluster reads it (the text between the first `{` and the next `}`), or the key. */
export function tagOf(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  return close <= open + 1 ? key : key.slice(open + 1, close);
}

/**
 * Every key matching `pattern`: SCAN (never KEYS) on the server, or on every master of a
 * cluster, one batch at a time.
 */
export async function scanEach(client: RedisClient, pattern: string, onBatch: (keys: string[]) => Promise<void> | void) {
  for (const node of masters(client)) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (found.length > 0) await onBatch(found);
    } while (cursor !== '0');
  }
}

/**
 * Commands sent together in one round trip, each touching keys of one hash tag. On one
 * server they go in one pipeline; on a cluster in one pipeline per tag, all sent at once
 * (ioredis requires a pipeline's keys to live on one node, and a slot may move between
 * building and sending, so per tag is the grouping that is always right). Multi-key
 * commands must not mix tags (CROSSSLOT).
 */
export class TagBatch {
  private readonly pipes = new Map<string, { p: ChainableCommander; n: number }>();
  private readonly order: { pipe: string; at: number }[] = [];
  private readonly cluster: boolean;

  constructor(private readonly client: RedisClient) {
    this.cluster = isCluster(client);
  }

  /** Queue one command (exactly one) whose keys all carry the hash tag `tag`. */
  add(tag: string, queue: (p: ChainableCommander) => unknown) {
    const name = this.cluster ? tagOf(tag) : '';
    let g = this.pipes.get(name);
    if (!g) this.pipes.set(name, (g = { p: this.client.pipeline(), n: 0 }));
    queue(g.p);
    this.order.push({ pipe: name, at: g.n++ });
    return this;
  }

  get size() {
    return this.order.length;
  }

  /** The replies in the order the commands were added; throws the first error. */
  async exec(): Promise<unknown[]> {
    if (this.order.length === 0) return [];
    const names = [...this.pipes.keys()];
    const replies = await Promise.all(names.map(async (n) => results(await this.pipes.get(n)!.p.exec())));
    const byName = new Map(names.map((n, i) => [n, replies[i]!]));
    return this.order.map(({ pipe, at }) => byName.get(pipe)![at]);
  }
}

/**
 * Remove one area (`c` cache, `p` pending, `l` locks, `jobs` queues, `stats` increment markers) of every namespace of
 * a deployment: SCAN with MATCH `{P:*}:<area>:*` (on every master of a cluster), keeping
 * only keys whose hash tag is exactly this deployment's, and UNLINK them in batches (one
 * UNLINK per tag on a cluster: keys of several tags are several slots).
 */
export async function clearArea(client: RedisClient, keys: RedisKeys, area: KeyArea): Promise<number> {
  let removed = 0;
  const cluster = isCluster(client);
  await scanEach(client, keys.areaPattern(area), async (found) => {
    const ours = found.filter((k) => keys.ownsKey(k, area));
    if (ours.length === 0) return;
    if (!cluster) {
      removed += await client.unlink(...ours);
      return;
    }
    const byTag = new Map<string, string[]>();
    for (const k of ours) {
      const t = tagOf(k);
      let g = byTag.get(t);
      if (!g) byTag.set(t, (g = []));
      g.push(k);
    }
    const batch = new TagBatch(client);
    for (const [t, ks] of byTag) batch.add(t, (p) => p.unlink(...ks));
    for (const n of await batch.exec()) removed += Number(n);
  });
  return removed;
}
