import type { Cluster } from 'ioredis';
import type { RedisKeys } from './keys.js';

export interface ClusterMaster {
  /** `host:port` as the cluster announces it. */
  address: string;
  id: string;
  /** Slot ranges served, inclusive. */
  slots: [number, number][];
  replicas: number;
  /** Operations (and region namespaces) whose hash tag falls in this master's slots. */
  ops: string[];
}

/**
 * The masters of a cluster (`CLUSTER SLOTS`), their slot ranges, and which of this
 * deployment's operations each one holds (the slot of each operation's hash tag, by
 * `CLUSTER KEYSLOT`), for `backache doctor`. Operations are the ones the deployment's
 * namespace sets know (queues, cache, stats).
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
  const node = client.nodes('master')[0];
  const slots = node ? await Promise.all(ops.map(async (op) => Number(await node.call('CLUSTER', 'KEYSLOT', keys.tag(op))))) : [];
  const masters = [...byId.values()];
  ops.forEach((op, i) => masters.find((m) => m.slots.some(([a, b]) => slots[i]! >= a && slots[i]! <= b))?.ops.push(op));
  for (const m of masters) m.slots.sort((a, b) => a[0] - b[0]);
  return masters.sort((a, b) => a.slots[0]![0] - b.slots[0]![0]);
}

/** `0-5460,10923-16383`. */
export const slotRanges = (slots: [number, number][]) => slots.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');
