import type { Cluster } from 'ioredis';
import type { RedisKeys } from './keys.js';

export interface ClusterMaster {
  /** `host:port` as the cluster announces it. */
  address: string;
  id: string;
  /** Slot ranges served, inclusive. */
  slots: [number, number][];
  replicas: number;
  /**
   * Operations (and region namespaces) whose hash tag falls in this master's slots; an
   * operation spread over shards is named with how many of its tags are here, e.g.
   * `thumbnail (2 of 6 shards)`.
   */
  ops: string[];
}

/**
 * The masters of a cluster (`CLUSTER SLOTS`), their slot ranges, and which of this
 * deployment's operations each one holds (the slot of each operation's hash tag, by
 * `CLUSTER KEYSLOT`), for `backache doctor`. Operations are the ones the deployment's
 * namespace sets know (queues, cache, stats); `keys` must have their layouts loaded.
 */
export async function clusterLayout(client: Cluster, keys: RedisKeys): Promise<ClusterMaster[]> {
  const raw = await client.cluster('SLOTS');
  const byId = new Map<string, ClusterMaster>();
  for (const [start, end, master, ...replicas] of raw) {
    if (!master) continue;
    const id = String(master[2] ?? `${master[0]}:${master[1]}`);
    let m = byId.get(id);
    if (!m) byId.set(id, (m = { address: `${master[0]}:${master[1]}`, id, slots: [], replicas: 0, ops: [] }));
    m.slots.push([Number(start), Number(end)]);
    m.replicas = Math.max(m.replicas, replicas.length);
  }
  const p = client.pipeline();
  for (const kind of ['queue', 'cache', 'stats'] as const) p.smembers(keys.namespaces(kind));
  const sets = ((await p.exec()) ?? []).map(([err, v]) => (err ? [] : (v as string[])));
  const ops = [...new Set(sets.flat())].sort();
  const masters = [...byId.values()];
  const node = client.nodes('master')[0];
  if (node) {
    for (const op of ops) {
      const tags = keys.layouts.tagsAt(op, keys.layouts.count(op));
      const slots = await Promise.all(tags.map(async (t) => Number(await node.call('CLUSTER', 'KEYSLOT', t))));
      for (const m of masters) {
        const here = slots.filter((sl) => m.slots.some(([a, b]) => sl >= a && sl <= b)).length;
        if (here > 0) m.ops.push(tags.length === 1 ? op : `${op} (${here} of ${tags.length} shards)`);
      }
    }
  }
  for (const m of masters) m.slots.sort((a, b) => a[0] - b[0]);
  return masters.sort((a, b) => a.slots[0]![0] - b.slots[0]![0]);
}

/** `0-5460,10923-16383`. */
export const slotRanges = (slots: [number, number][]) => slots.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');

/** Nodes the cluster marks failing (`fail` or `fail?` in CLUSTER NODES), with their role. */
export async function failingNodes(client: Cluster): Promise<{ address: string; role: string; flags: string }[]> {
  const text = String(await client.cluster('NODES'));
  const out: { address: string; role: string; flags: string }[] = [];
  for (const line of text.split('\n')) {
    const [, addr, flags] = line.split(' ');
    if (!addr || !flags || !/(^|,)fail\??(,|$)/.test(flags)) continue;
    out.push({ address: addr.split('@')[0]!, role: flags.includes('master') ? 'master' : flags.includes('slave') ? 'replica' : 'node', flags });
  }
  return out;
}
