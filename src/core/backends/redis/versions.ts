import { bullmq } from './bullmq.js';
import type { RedisClient } from './connection.js';
import type { RedisKeys } from './keys.js';

export interface QueueVersion {
  op: string;
  /** What the queue's meta says wrote it (`bullmq:X.Y.Z`), or null when nothing did yet. */
  written: string | null;
  /** What this installation of BullMQ writes (the pinned version). */
  ours: string;
}

/**
 * Which BullMQ version wrote each operation's queue, for `backache doctor` (`keys` with layouts loaded). Read through
 * BullMQ's public API: `Queue.getVersion()` (the queue meta's `version` field, which every
 * BullMQ `Queue` writes when it opens) on a Queue opened with `skipMetasUpdate`, so that
 * looking does not overwrite it; `Queue.metaValues.version` is what ours writes.
 */
export async function queueVersions(client: RedisClient, keys: RedisKeys): Promise<QueueVersion[]> {
  const ops = (await client.smembers(keys.namespaces('queue'))).sort();
  const { Queue } = await bullmq();
  const read = async (tag: string) => {
    const q = new Queue('jobs', { connection: client, prefix: tag, skipMetasUpdate: true });
    q.on('error', () => {});
    try {
      return { written: await q.getVersion(), ours: String(q.metaValues.version) };
    } finally {
      await q.close().catch(() => {});
    }
  };
  return Promise.all(
    ops.map(async (op) => {
      // Every queue of the operation (one per shard); the first one another version wrote, if any.
      const all = await Promise.all(keys.layouts.tagsOf(op).map(read));
      const ours = all[0]!.ours;
      const written = all.find((v) => v.written !== null && v.written !== ours)?.written ?? all.find((v) => v.written !== null)?.written ?? null;
      return { op, written, ours };
    }),
  );
}
